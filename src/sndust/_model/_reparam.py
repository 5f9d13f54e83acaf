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

**Informed coordinates** (``anchor=(loc, prec)``, per SN). Where the light curves measure
a value the non-centred coordinate is a poor one: for a reddened SN whose colours pin
R_V to ±0.4, R_V = μ_R + σ_R·z ties z to the hyperparameters along a thin curved ridge,
while for the many SNe the data leave at the prior the same coordinate is ideal. An
anchor is a fixed Gaussian summary N(loc, 1/prec) of what one SN's light curves say
about the value (measured once, from broad per-SN fits, before warm-up). The value is
then taken from the quantiles of ``q``, the prior times that summary (for a normal
prior: N(m, s²) with 1/s² = 1/scale² + prec, m = s²·(loc_prior/scale² + prec·loc);
truncated like the prior):

=====================  =======================================  ============================
TruncatedNormal        u = σ(x), value = q.icdf(u)              log p(value) − log q(value)
                                                                + log u + log(1 − u)
Normal                 value = m + s·x                          log p(value) + log s
=====================  =======================================  ============================

So the coordinate is non-centred where the SN says nothing (prec = 0: ``q`` is the
prior, and the maps above are the table's first two rows) and centred where it says
much (``q`` barely moves with the hyperparameters), with every SN in between at the
weight its own information gives it, at each value of the hyperparameters. It is again
an exact change of variables for fixed anchors (they are constants of the run, not
functions of the chain), so the posterior is unchanged; the partially non-centred
parameterisation of Papaspiliopoulos, Roberts & Sköld (2003, 2007), with the weights
from the SNe's own information.

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

__all__ = [
    "ANCHORED_KINDS",
    "kind_of",
    "natural_log_prob",
    "sample_coordinates",
    "to_unconstrained",
]

#: the parameterisations an anchor can inform (the others are left as they are)
ANCHORED_KINDS = ("icdf", "normal")

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


def informed(prior, anchor, n_sn):
    """``q``: the prior (normal, or normal truncated) times each SN's Gaussian summary
    ``anchor = (loc, prec)`` of its light curves' information, as a per-SN distribution
    of the prior's type (see the module docstring)."""
    loc, prec = anchor
    centre = jnp.broadcast_to(prior.loc, (n_sn,))
    precision = 1.0 / jnp.broadcast_to(prior.scale, (n_sn,)) ** 2
    var = 1.0 / (precision + prec)
    mean = var * (centre * precision + prec * loc)
    if isinstance(prior, TruncatedNormal):
        return TruncatedNormal(mean, jnp.sqrt(var), low=prior.low, high=prior.high)
    return dist.Normal(mean, jnp.sqrt(var))


def sample_coordinates(prior, x, n_sn, anchor=None):
    """Values (n_sn,) and per-SN log density of the unconstrained ``x`` (n_sn,); with an
    ``anchor`` ``(loc, prec)`` (per-SN arrays), in informed coordinates."""
    kind = kind_of(prior)
    if kind == "fixed":
        return jnp.broadcast_to(jnp.asarray(prior), (n_sn,)), jnp.zeros(n_sn)
    if anchor is not None and kind in ANCHORED_KINDS:
        q = informed(prior, anchor, n_sn)
        if kind == "normal":
            value = q.loc + q.scale * x
            return value, prior.log_prob(value) + jnp.log(q.scale)
        value = q.icdf(_uniform(x))
        logistic = -jax.nn.softplus(-x) - jax.nn.softplus(x)
        return value, prior.log_prob(value) - q.log_prob(value) + logistic
    if kind == "icdf":
        value = prior.icdf(_uniform(x))
        return jnp.broadcast_to(value, (n_sn,)), -jax.nn.softplus(-x) - jax.nn.softplus(x)
    if kind == "normal":
        return jnp.broadcast_to(prior.loc + prior.scale * x, (n_sn,)), _std_normal(x)
    transform = biject_to(prior.support)
    value = transform(x)
    lp = prior.log_prob(value) + transform.log_abs_det_jacobian(x, value)
    return jnp.broadcast_to(value, (n_sn,)), jnp.broadcast_to(lp, (n_sn,))


def _uniform(x):
    # keep u below 1 in floating point (x ≳ 37 would round it to 1: R_V = ∞)
    return jnp.minimum(jax.nn.sigmoid(x), 1.0 - jnp.finfo(jnp.result_type(x)).epsneg)


def natural_log_prob(prior, value, n_sn):
    """Per-SN prior log density of the values themselves (no change of variables)."""
    if kind_of(prior) == "fixed":
        return jnp.zeros(n_sn)
    return jnp.broadcast_to(prior.log_prob(value), (n_sn,))


def to_unconstrained(prior, value, anchor=None):
    """Inverse of :func:`sample_coordinates` (for starting points given as values)."""
    kind = kind_of(prior)
    if anchor is not None and kind in ANCHORED_KINDS:
        prior = informed(prior, anchor, jnp.shape(anchor[0])[0])
    if kind == "icdf":
        return jax.scipy.special.logit(prior.cdf(value))
    if kind == "normal":
        return (value - prior.loc) / prior.scale
    return biject_to(prior.support).inv(value)
