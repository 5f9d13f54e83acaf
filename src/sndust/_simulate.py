"""Simulate surveys from the model itself (known truths for recovery tests and demos)."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._errors import ConfigError
from ._survey import Survey

__all__ = ["simulate_survey"]

_PS1 = ("g_PS1", "r_PS1", "i_PS1", "z_PS1")
_PHASES = tuple(float(p) for p in np.linspace(-8.0, 35.0, 10))  # bayesn's benchmark cadence
_MAG_TO_FLUX = float(np.log(10.0) / 2.5)


def simulate_survey(
    key,
    sed,
    population,
    *,
    n_sn: int = 50,
    hyper: dict | None = None,
    bands=_PS1,
    phases=_PHASES,
    z_range=(0.015, 0.08),
    mwebv_max: float = 0.1,
    log_mass_range=(8.5, 11.5),
    mag_err: float = 0.03,
    dust=None,
    filters=None,
    cosmology=None,
):
    """A survey drawn from ``population`` with the SED model, and its true parameters.

    Each SN: z_cmb = z_hel ~ U(z_range), Milky Way E(B−V) ~ U(0, mwebv_max), log host mass
    ~ U(log_mass_range), ``phases`` (rest-frame days, jittered by ±0.5 d) in every band,
    Gaussian FLUXCAL noise of ``mag_err`` magnitudes. Hyperparameters not given in
    ``hyper`` are drawn from their priors; per-SN parameters from the population's priors
    (θ ~ N(0,1), e ~ N(0,I), distances around μ̂(z) with the model's distance scatter).

    Returns:
        ``(survey, truth)``: a :class:`sndust.Survey` and a dict of the true physical values
        (the keys of :meth:`sndust.HierarchicalModel.constrain`).
    """
    from ._model import HierarchicalModel

    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel()[-1])
    z = rng.uniform(*z_range, n_sn)
    phase = np.asarray(phases, float)
    obs_phase = np.tile(phase, len(bands))
    obs_band = np.repeat(np.asarray(bands), len(phase))
    mjd = [
        60000.0 + 3.0 * k + (obs_phase + rng.uniform(-0.5, 0.5, obs_phase.size)) * (1 + z[k])
        for k in range(n_sn)
    ]
    ones = [np.ones(obs_phase.size)] * n_sn
    template = Survey.from_arrays(
        [f"sim{k:05d}" for k in range(n_sn)],
        mjd,
        [obs_band] * n_sn,
        ones,
        ones,
        z_hel=z,
        z_cmb=z,
        z_err=np.full(n_sn, 1e-4),
        peak_mjd=60000.0 + 3.0 * np.arange(n_sn),
        mwebv=rng.uniform(0.0, mwebv_max, n_sn),
        log_mass=rng.uniform(*log_mass_range, n_sn),
        survey="simulated",
    )
    model = HierarchicalModel(
        sed=sed,
        survey=template,
        population=population,
        dust=dust,
        filters=filters,
        cosmology=cosmology,
    )
    if model.n_sn != n_sn or not np.array_equal(
        np.asarray(model.prepared.observed_mask()), template.mask
    ):
        raise ConfigError(
            "some simulated bands fall outside the model's wavelength range at these "
            "redshifts; narrow z_range or choose other bands",
            field="bands",
        )
    truth_x = _draw(model, jax.random.fold_in(key, 1), hyper or {})
    truth, flux = eqx.filter_jit(lambda m, x: (m.constrain(x), m.predict_fluxcal(x)))(
        model, truth_x
    )
    flux = np.asarray(flux)
    err = mag_err * _MAG_TO_FLUX * np.abs(flux)
    noisy = flux + err * rng.standard_normal(flux.shape)
    m = template.mask
    survey = dataclasses.replace(
        template,
        fluxcal=np.where(m, noisy, template.fluxcal),
        fluxcal_err=np.where(m, err, template.fluxcal_err),
    )
    return survey, {k: np.asarray(v) for k, v in truth.items()}


def _draw(model, key, hyper):
    """Unconstrained vector of a draw from the prior (hyperparameters from ``hyper`` where
    given). In the sampler's coordinates every per-SN parameter is a draw from a fixed
    standard distribution, so the draw is made there."""
    from ._model._hierarchical import _prior_of

    keys = iter(jax.random.split(key, 64))
    h = {}
    for name, prior in model._hyperpriors().items():
        d = _prior_of(prior, h)
        h[name] = jnp.asarray(hyper[name]) if name in hyper else d.sample(next(keys))
    unknown = set(hyper) - set(h)
    if unknown:
        raise ConfigError(
            f"unknown hyperparameters {sorted(unknown)}; this population has {list(h)}",
            field=sorted(unknown)[0],
        )
    tree = model.unravel(model.unconstrain(h | {}))
    n = model.n_sn
    for name in model.layout.sampled:
        shape = tree[name].shape
        k = next(keys)
        if name in ("theta", "e"):
            tree[name] = jax.random.normal(k, shape)
        elif name == "D":
            # Fits have a near-flat distance prior (5 mag): draw the truth with the
            # population's grey scatter σ0 around μ̂ instead.
            priors = model.population.dust_priors(h, model.host)
            sd = model._distance_sd(h, priors)
            if model.population.distance_prior == "free":
                sd = jnp.broadcast_to(priors.sigma0, (n,))
            x = sd * jax.random.normal(k, shape)
            tree[name] = x / model._distance_coordinate_scale(h, priors)
        elif name in ("A_V", "R_V"):
            priors = model.population.dust_priors(h, model.host)
            from ._model._reparam import to_unconstrained

            prior = getattr(priors, name)
            value = prior.sample(k, () if prior.batch_shape else (n,))
            tree[name] = jnp.broadcast_to(to_unconstrained(prior, value), (n,))
        elif name == "t_max":
            u = jax.random.uniform(k, shape, minval=1e-6, maxval=1 - 1e-6)
            tree[name] = jax.scipy.special.logit(u)
    return model.ravel(tree)
