"""How each per-SN prior is sampled: from the distribution's type, the framework picks a
parameterisation in which the sampler sees a well-scaled unconstrained variable ``x``.

=====================  =======================================  ============================
prior                  value from unconstrained x               log density in x
=====================  =======================================  ============================
TruncatedNormal        u = σ(x) ~ U(0,1), value = icdf(u)       log u + log(1 − u)
Normal(loc, scale)     value = loc + scale·x                    N(x; 0, 1) (non-centred)
anything else          value = T(x), T = biject_to(support)     log p(T(x)) + log|T'(x)|
(e.g. Exponential A_V)  (A_V = eˣ: centred)
fixed values           (no parameter)                           0
=====================  =======================================  ============================

Each is an exact change of variables of the prior, so the joint density of the values is
the prior's; only the geometry the sampler sees changes. A_V is centred (as in BayeSN):
light curves measure A_V of reddened SNe to a few hundredths of a magnitude, and a
non-centred A_V = τ_A·a then ties τ_A to every a_i along a thin ridge that NUTS crosses
only with tiny steps (benchmarks/README.md, "Measurements behind the defaults"). R_V,
mostly unmeasured (small A_V), stays non-centred.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions.transforms import biject_to

from .._errors import ConfigError
from .._population import TruncatedNormal

__all__ = ["kind_of", "natural_log_prob", "sample_coordinates", "to_unconstrained"]

_HALF_LOG_2PI = float(0.5 * np.log(2 * np.pi))


def kind_of(prior) -> str:
    """The parameterisation used for ``prior`` (see module table)."""
    if isinstance(prior, TruncatedNormal):
        return "icdf"
    if isinstance(prior, dist.Normal):
        return "normal"
    if isinstance(prior, dist.Distribution):
        if prior.event_shape:
            raise ConfigError(
                f"per-SN priors must be univariate; got {type(prior).__name__} with event "
                f"shape {prior.event_shape}",
                field="dust_priors",
            )
        return "generic"
    return "fixed"


def _std_normal(x):
    return -0.5 * x**2 - _HALF_LOG_2PI


def sample_coordinates(prior, x, n_sn):
    """Values (n_sn,) and per-SN log density of the unconstrained ``x`` (n_sn,)."""
    kind = kind_of(prior)
    if kind == "fixed":
        return jnp.broadcast_to(jnp.asarray(prior), (n_sn,)), jnp.zeros(n_sn)
    if kind == "icdf":
        # keep u below 1 in floating point (x ≳ 37 would round it to 1: R_V = ∞)
        u = jnp.minimum(jax.nn.sigmoid(x), 1.0 - jnp.finfo(jnp.result_type(x)).epsneg)
        value = prior.icdf(u)
        return jnp.broadcast_to(value, (n_sn,)), -jax.nn.softplus(-x) - jax.nn.softplus(x)
    if kind == "normal":
        return jnp.broadcast_to(prior.loc + prior.scale * x, (n_sn,)), _std_normal(x)
    transform = biject_to(prior.support)
    value = transform(x)
    lp = prior.log_prob(value) + transform.log_abs_det_jacobian(x, value)
    return jnp.broadcast_to(value, (n_sn,)), jnp.broadcast_to(lp, (n_sn,))


def natural_log_prob(prior, value, n_sn):
    """Per-SN prior log density of the values themselves (no change of variables)."""
    if kind_of(prior) == "fixed":
        return jnp.zeros(n_sn)
    return jnp.broadcast_to(prior.log_prob(value), (n_sn,))


def to_unconstrained(prior, value):
    """Inverse of :func:`sample_coordinates` (for starting points given as values)."""
    kind = kind_of(prior)
    if kind == "icdf":
        return jax.scipy.special.logit(prior.cdf(value))
    if kind == "normal":
        return (value - prior.loc) / prior.scale
    return biject_to(prior.support).inv(value)
