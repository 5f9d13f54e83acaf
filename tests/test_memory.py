"""Memory per observation: long light curves evaluated in blocks, and bounded temporaries
of the batched derivative programs (Hessians, MAP starts) that fits compile."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

import sndust as sd
from sndust._inference import _laplace, _map
from sndust._inference._blocks import block_hessian

BANDS = ("g_PS1", "r_PS1", "i_PS1", "z_PS1")
#: the target: at most this many bytes of temporaries per observation in any program
BYTES_PER_OBS = 10_000


def long_light_curve(n_obs: int, seed: int = 0) -> sd.Survey:
    """One SN at z = 0.03 observed ``n_obs`` times across the phase window in PS1 griz."""
    rng = np.random.default_rng(seed)
    z = 0.03
    phase = np.sort(rng.uniform(-9.5, 39.5, n_obs))
    flux = rng.uniform(1e3, 3e4, n_obs)
    return sd.Survey.from_arrays(
        snid=["long"],
        mjd=[60000.0 + phase * (1 + z)],
        band=[np.resize(np.array(BANDS), n_obs)],
        fluxcal=[flux],
        fluxcal_err=[0.03 * flux],
        z_hel=[z],
        peak_mjd=[60000.0],
        mwebv=[0.05],
        log_mass=[10.0],
    )


def _temp_bytes(lowered) -> int:
    compiled = lowered.compile()  # an Equinox Compiled holds JAX's as .compiled
    analysis = getattr(compiled, "compiled", compiled).memory_analysis()
    if analysis is None:
        pytest.skip("this backend reports no memory analysis")
    return int(analysis.temp_size_in_bytes)


@pytest.mark.parametrize("free_tmax", [False, True], ids=["fixed_tmax", "free_tmax"])
def test_blocked_evaluation_equals_evaluation_at_once(sed, free_tmax):
    """``in_blocks``: fluxes, log likelihoods, gradients and Hessian-vector products of
    the survey evaluated a few chunks at a time (with a shorter last block) equal those
    evaluated at once."""
    whole = sd.prepare(long_light_curve(300), sed, free_tmax=free_tmax)
    n_chunk = whole.chunk_sn.shape[0]
    blocked = whole.in_blocks(5)
    assert n_chunk % 5 != 0 and blocked.block == 5
    assert whole.in_blocks(n_chunk).block is None  # one block: evaluated at once
    rng = np.random.default_rng(1)
    params = dict(
        theta=jnp.asarray(rng.normal(size=1)),
        A_V=jnp.asarray([0.3]),
        R_V=jnp.asarray([2.8]),
        e=jnp.asarray(rng.normal(size=(1, whole.n_eps))),
        distmod=jnp.asarray([35.6]),
    )
    if free_tmax:
        params["t_max"] = jnp.asarray([0.7])
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    v = jnp.asarray(rng.normal(size=flat.shape))

    @eqx.filter_jit
    def values(prepared):
        def loglik(x):
            return prepared.log_likelihood(**unravel(x))

        hvp = jax.jvp(jax.grad(loglik), (flat,), (v,))[1]
        return prepared.fluxcal(**params), *jax.value_and_grad(loglik)(flat), hvp

    for got, want in zip(values(blocked), values(whole)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)


def test_fit_programs_hold_bounded_memory_per_observation(sed):
    """The largest programs of a MAP fit of one 10,000-observation light curve — the
    per-SN Hessian blocks (per-SN MAP start, Laplace ``blocks``), the dense Laplace
    Hessian and four L-BFGS starts — plan at most 10 KB of temporaries per observation.
    Fully vmapped over all observations at once they planned several times to tens of
    times that (benchmarks/README.md, ``memory.py``)."""
    survey = long_light_curve(10_000)
    per_sn = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.FixedPopulation())
    joint = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    n_obs = int(np.asarray(per_sn.prepared.mask).sum())
    assert n_obs == 10_000

    x = per_sn.init_position(jax.random.key(0))
    index = jnp.asarray(per_sn.layout.per_sn_index())
    temp = {
        "per-SN Hessian blocks": _temp_bytes(
            eqx.filter_jit(block_hessian).lower(per_sn, x, index, x[index])
        )
    }
    x = joint.init_position(jax.random.key(0))
    temp["dense Hessian"] = _temp_bytes(
        eqx.filter_jit(_laplace._hessian.__wrapped__).lower(joint, x)
    )
    starts = jnp.stack([x] * 4)
    temp["4 L-BFGS starts"] = _temp_bytes(_map._optimise.lower(joint, starts, None, 5, 1e-3, 0.0))
    per_obs = {name: bytes_ / n_obs for name, bytes_ in temp.items()}
    assert all(b <= BYTES_PER_OBS for b in per_obs.values()), per_obs


def test_population_start_hessian_holds_a_few_columns_at_a_time(sed):
    """The default start's population fit, where the light curves enter it (MassSplitSED's
    ΔW0: 80 hyperparameters), plans temporaries of a few Hessian columns at a time, not
    of all 80: about 9 KB per observation and draw, where all columns at once planned
    about 80 KB (and, on Foundation DR1's 167 SNe × 64 draws, asked for 28 GB)."""
    from sndust._inference._bfgs import inverse_hessian_blocks
    from sndust._sampling import _population_start

    survey, _ = sd.simulate_survey(jax.random.key(5), sed, sd.SinglePopulation(), n_sn=6)
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.MassSplitSED())
    x = model.init_position(jax.random.key(0))
    hyper = np.asarray(model.layout.hyper_index())
    index = jnp.asarray(model.layout.per_sn_index())
    cov = inverse_hessian_blocks(model, x, index, x[index])
    draws = 8
    values = _population_start._laplace_draws(model, x, cov, jax.random.key(1), draws)
    lowered = _population_start._m_step.lower(model, x[hyper], values, True)
    per_obs_draw = _temp_bytes(lowered) / (int(survey.mask.sum()) * (draws + 1))
    assert hyper.size == 80 and per_obs_draw <= 2 * BYTES_PER_OBS, per_obs_draw
