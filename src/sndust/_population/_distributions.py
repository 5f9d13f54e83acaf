"""Distributions sndust adds to ``numpyro.distributions``.

:class:`TruncatedNormal` is the R_V prior of BayeSN (a normal truncated below at 1.2). It
is a small class of its own, rather than NumPyro's factory of the same name, so that the
framework can recognise it and sample it through its inverse CDF (a uniform variable per
SN, no funnel as σ_R shrinks), exactly as Thorp+21 and Grayling+24 do.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from jax.scipy.special import log_ndtr, ndtr, ndtri
from numpyro.distributions import constraints
from numpyro.distributions.util import promote_shapes

__all__ = ["TruncatedNormal"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _far_tail(alpha, beta):
    """Lower bound so far in the upper tail that Φ(−α) underflows (one-sided only):
    beyond √(−2 ln tiny) − 1 standard deviations (≈ 36.6 in float64, 12.2 in float32)."""
    tiny = jnp.finfo(jnp.result_type(alpha, float)).tiny
    return (alpha > jnp.sqrt(-2.0 * jnp.log(tiny)) - 1.0) & jnp.isinf(beta)


class TruncatedNormal(dist.Distribution):
    """Normal(loc, scale) truncated to ``[low, high]`` (either end may be infinite).

    ``icdf(u)`` maps a uniform variable to the distribution: the reparameterisation the
    framework uses for it. All four arguments broadcast (e.g. a per-SN ``loc``).
    """

    arg_constraints = {
        "loc": constraints.real,
        "scale": constraints.positive,
        "low": constraints.dependent,
        "high": constraints.dependent,
    }
    reparametrized_params = ["loc", "scale", "low", "high"]
    pytree_data_fields = ("loc", "scale", "low", "high")

    def __init__(self, loc=0.0, scale=1.0, *, low=-jnp.inf, high=jnp.inf, validate_args=None):
        self.loc, self.scale, self.low, self.high = promote_shapes(loc, scale, low, high)
        batch_shape = jax.lax.broadcast_shapes(
            jnp.shape(loc), jnp.shape(scale), jnp.shape(low), jnp.shape(high)
        )
        super().__init__(batch_shape=batch_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    def _alpha_beta(self):
        # Standardised bounds; an infinite bound stays a constant ±inf so that no
        # gradient flows through inf arithmetic (which would give NaN).
        def standardise(bound):
            finite = jnp.isfinite(bound)
            inside = (jnp.where(finite, bound, 0.0) - self.loc) / self.scale
            return jnp.where(finite, inside, bound)

        return standardise(self.low), standardise(self.high)

    def _log_mass(self):
        """log(Φ(β) − Φ(α)), computed in the tail that keeps it accurate."""
        alpha, beta = self._alpha_beta()
        # Upper tail (α > 0): use symmetry, Φ(β) − Φ(α) = Φ(−α) − Φ(−β).
        flip = alpha > 0
        a = jnp.where(flip, -beta, alpha)
        b = jnp.where(flip, -alpha, beta)
        log_b = log_ndtr(b)
        return log_b + jnp.log1p(-jnp.exp(log_ndtr(a) - log_b))

    def log_prob(self, value):
        z = (value - self.loc) / self.scale
        inside = (value >= self.low) & (value <= self.high)
        lp = -0.5 * z**2 - _HALF_LOG_2PI - jnp.log(self.scale) - self._log_mass()
        return jnp.where(inside, lp, -jnp.inf)

    def icdf(self, u):
        """Inverse CDF: ``loc + scale Φ⁻¹(Φ(α) + u (Φ(β) − Φ(α)))``.

        In the upper tail (α > 0) it works with the mirrored distribution (accuracy of Φ
        near 1); far in it (no upper bound, Φ(−α) about to underflow: α ≳ 36.6 in
        float64) it uses the tail's exponential limit z = α − log(1 − u)/α (error ~α⁻²).
        """
        alpha, beta = self._alpha_beta()
        flip = alpha > 0
        a = jnp.where(flip, -beta, alpha)
        b = jnp.where(flip, -alpha, beta)
        pa, pb = ndtr(a), ndtr(b)
        uu = jnp.where(flip, 1.0 - u, u)
        x = ndtri(pa + uu * (pb - pa))
        z = jnp.where(flip, -x, x)
        far = _far_tail(alpha, beta)
        safe_alpha = jnp.where(far, alpha, 1.0)
        z = jnp.where(far, safe_alpha - jnp.log1p(-u) / safe_alpha, z)
        return self.loc + self.scale * z

    def cdf(self, value):
        alpha, beta = self._alpha_beta()
        z = (value - self.loc) / self.scale
        pa, pb = ndtr(alpha), ndtr(beta)
        direct = (ndtr(z) - pa) / (pb - pa)
        # upper tail: 1 − S(z)/S(α) with survival functions S(t) = Φ(−t), in log space
        tail = -jnp.expm1(log_ndtr(-z) - log_ndtr(-alpha))
        far = _far_tail(alpha, beta)
        safe_alpha = jnp.where(far, alpha, 1.0)
        asymptotic = -jnp.expm1(-safe_alpha * (z - safe_alpha))
        out = jnp.where(alpha > 0, jnp.where(jnp.isinf(beta), tail, direct), direct)
        return jnp.clip(jnp.where(far, asymptotic, out), 0.0, 1.0)

    def sample(self, key, sample_shape=()):
        u = jax.random.uniform(key, sample_shape + self.batch_shape)
        return self.icdf(u)

    def _bound_densities(self):
        """φ(α)/Z and φ(β)/Z, Z = Φ(β) − Φ(α), in log space (exact far into the tails);
        0 at an infinite bound."""
        alpha, beta = self._alpha_beta()
        log_mass = self._log_mass()
        at_a = jnp.exp(-0.5 * alpha**2 - _HALF_LOG_2PI - log_mass)
        at_b = jnp.exp(-0.5 * beta**2 - _HALF_LOG_2PI - log_mass)
        return alpha, beta, at_a, at_b

    @property
    def mean(self):
        _, _, at_a, at_b = self._bound_densities()
        return self.loc + self.scale * (at_a - at_b)

    @property
    def variance(self):
        """σ² [1 + (α φ(α) − β φ(β))/Z − ((φ(α) − φ(β))/Z)²] (the terms of an infinite
        bound are 0)."""
        alpha, beta, at_a, at_b = self._bound_densities()
        a_term = jnp.where(jnp.isfinite(alpha), alpha, 0.0) * at_a
        b_term = jnp.where(jnp.isfinite(beta), beta, 0.0) * at_b
        return self.scale**2 * (1.0 + a_term - b_term - (at_a - at_b) ** 2)
