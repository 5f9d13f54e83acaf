"""Where chains start, and the metric they start with: MAP or prior starts, the
per-chain jitter, the check that every start has a finite log density, and the unit or
Laplace starting metric."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._compile import jit_once
from .._errors import ConfigError, ModelError
from ._metric import BlockMetric, block_metric
from ._population_start import PopulationStart, population_start
from ._precondition import Whitened

__all__ = ["check_starts", "initial_positions", "jittered", "laplace_metric", "unit_metric"]


def initial_positions(model, key, chains: int, init="map", jitter: float = 0.1, map_starts=4):
    """Starting points ``(chains, dim)``, the point the preconditioner is built at (the
    per-SN fits' population start of ``_population_start.py``, the best of
    ``map_starts`` short MAP runs, the single given start, or the first chain's start),
    and the anchors of the coordinates both are in: ``model.with_anchors(anchors)``'s
    (``{}`` for all but the per-SN start: the model's own)."""
    dim = model.dim
    dtype = model.prepared.obs_fluxcal.dtype
    k_start, k_jitter = jax.random.split(key)
    if isinstance(init, PopulationStart):  # computed beforehand (sndust fit prints it)
        held = 0 if init.chains is None else len(init.chains)
        if held != chains:
            raise ConfigError(
                f"the population start holds starts for {held} chains; this run has {chains}",
                field="init",
            )
        return init.chains, init.position, init.anchors
    if isinstance(init, str):
        if init == "map":
            from .._inference import MAP

            start = MAP(steps=200, starts=map_starts).run(model, k_start).position
        elif init == "per_sn":
            start = population_start(model, k_start, chains=chains, map_starts=map_starts)
            return start.chains, start.position, start.anchors
        elif init == "prior":
            keys = jax.random.split(k_start, chains)
            starts = jnp.stack([model.sample_prior(k) for k in keys])
            return starts, starts[0], {}
        else:
            raise ConfigError(
                f"init must be 'per_sn', 'map', 'prior' or an array, got {init!r}",
                field="init",
            )
    else:
        start = jnp.asarray(init, dtype)
        if start.shape == (chains, dim):
            return start, start[0], {}
        if start.shape != (dim,):
            raise ConfigError(
                f"init has shape {start.shape}; expected ({dim},) or ({chains}, {dim})",
                field="init",
            )
    return start, start, {}


@jit_once
def jittered(target, start, key, chains, jitter):
    """``chains`` starts around ``start``: N(0, jitter²) in the sampler's coordinates
    (Laplace standard deviations when preconditioned)."""
    z = target.to_z(start)
    noise = jitter * jax.random.normal(key, (chains, z.size), z.dtype)
    return jax.vmap(target.to_x)(z[None, :] + noise)


def check_starts(model, positions, carry):
    """Raise a :class:`ModelError` naming the chains whose start has no finite log density
    (read from the chains' initial states, ``carry.state.logdensity``, which computed it)."""
    lp = np.asarray(carry.state.logdensity)
    bad = np.flatnonzero(~np.isfinite(lp))
    if bad.size:
        try:
            where = f"blocks {model.check(jnp.asarray(positions[int(bad[0])]))}"
        except ModelError as error:  # a NaN block, named with its SNe
            where = error.message
        raise ModelError(
            f"starting point(s) of chain(s) {bad.tolist()} have log density "
            f"{lp[bad].tolist()}; at the first: {where}",
            field="init",
        )


def unit_metric(model) -> BlockMetric:
    """The identity as a block metric over the model's per-SN blocks."""
    index = model.layout.per_sn_index()
    hyper = model.layout.hyper_index()
    dtype = model.prepared.obs_fluxcal.dtype
    eye = np.broadcast_to(np.eye(index.shape[1], dtype=dtype), (*index.shape, index.shape[1]))
    ones = jnp.ones(hyper.size, dtype)
    return BlockMetric(jnp.asarray(eye), ones, jnp.asarray(index), jnp.asarray(hyper))


@jit_once
def laplace_metric(w: Whitened) -> BlockMetric:
    """The Laplace covariance behind ``w`` as a block metric: each SN's marginal block
    ``L_i L_iᵀ + G_i R Rᵀ G_iᵀ`` and the hyperparameters' marginal variances; the
    couplings between SNe and hyperparameters are dropped."""
    GR = jnp.einsum("sij,jk->sik", w.gain, w.hyper_chol)
    cov = jnp.einsum("sij,skj->sik", w.chol, w.chol) + jnp.einsum("sij,skj->sik", GR, GR)
    return block_metric(cov, jnp.sum(w.hyper_chol**2, axis=1), w.index, w.hyper_index)
