"""The default start of a hierarchical run: per-SN fits, then the population fitted to
them (Monte Carlo EM, ``sndust/_sampling/_population_start.py``). Its place in the
posterior is checked against NUTS in tests/test_recovery.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_population import MassLinearRV

import sndust as sd
from sndust._inference._bfgs import inverse_hessian_blocks
from sndust._sampling._population_start import (
    _laplace_draws,
    _likelihood_uses_hyper,
    _m_step,
    population_start,
)


@pytest.fixture(scope="module")
def survey(sed):
    return sd.simulate_survey(jax.random.key(41), sed, sd.SinglePopulation(), n_sn=8)[0]


@pytest.mark.parametrize(
    "population, uses",
    [
        (sd.SinglePopulation(), False),
        (sd.RedshiftLinear(), False),
        (MassLinearRV(), False),
        (sd.MassSplit(), True),  # the magnitude step shifts every light curve
        (sd.MassSplitSED(), True),  # ΔW0 changes the SED itself
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, bool) else str(v),
)
def test_where_hyperparameters_reach_the_light_curves_is_found_by_tracing(
    sed, survey, population, uses
):
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=population)
    assert _likelihood_uses_hyper(model) is uses


def test_the_population_fit_skips_the_light_curves_only_where_they_cancel(sed, survey):
    """For a population whose hyperparameters stay out of the light curves the
    likelihood cancels from every importance ratio: with and without it, the M-step
    ends at the same hyperparameters."""
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    hyper = jnp.asarray(model.layout.hyper_index())
    x = sd.MAP(optimizer="per_sn", steps=100).run(
        model, jax.random.key(0), model.init_position(jax.random.key(1)).at[hyper].set(0.0)
    )
    index = jnp.asarray(model.layout.per_sn_index())
    cov = inverse_hessian_blocks(model, x.position, index, x.position[index])
    values = _laplace_draws(model, x.position, cov, jax.random.key(2), 16)
    u_without, ok_without, h_without = _m_step(model, x.position[hyper], values, False)
    u_with, ok_with, h_with = _m_step(model, x.position[hyper], values, True)
    assert bool(ok_without) and bool(ok_with)
    np.testing.assert_allclose(u_with, u_without, atol=1e-6)
    np.testing.assert_allclose(h_with, h_without, rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(np.asarray(u_without))) > 0.1  # it moved from the broad guess


def test_without_hyperparameters_the_start_is_the_per_sn_map(sed, survey):
    model = sd.HierarchicalModel(
        sed=sed, survey=survey, population=sd.FixedPopulation(free_tmax=False)
    )
    start = population_start(model, jax.random.key(3), map_starts=2, chains=3)
    fit = sd.MAP(optimizer="per_sn", steps=200, starts=2).run(
        model, jax.random.split(jax.random.key(3), 3)[0]
    )
    np.testing.assert_array_equal(start.position, fit.position)
    np.testing.assert_array_equal(start.chains, np.stack([fit.position] * 3))
    assert start.hyper.shape == (0,) and not start.likelihood


def test_a_mass_step_population_starts_with_the_light_curves_in_its_fit(sed):
    """MassSplit's steps move every light curve: the M-step carries the likelihood, and
    the chains' starts around its result have finite log densities."""
    truth = dict(
        mu_R_HM=2.5, mu_R_LM=3.0, sigma_R_HM=0.5, sigma_R_LM=0.5, tau_A_HM=0.3,
        tau_A_LM=0.3, sigma0_HM=0.1, sigma0_LM=0.1, M_step_HM=-0.1, M_step_LM=0.1,
    )  # fmt: skip
    survey, _ = sd.simulate_survey(jax.random.key(42), sed, sd.MassSplit(), n_sn=12, hyper=truth)
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.MassSplit())
    start = population_start(model, jax.random.key(4), draws=8, chains=3)
    assert start.likelihood
    assert start.hyper.shape == (len(model.hyper_names),)
    assert np.all(np.isfinite(start.hyper)) and not np.allclose(start.hyper, start.broad)
    model = model.with_anchors(start.anchors)  # the coordinates the starts are in
    assert np.isfinite(float(model.logdensity(start.position)))
    # one start per chain, each with its own hyperparameters, all with finite densities
    hyper = np.asarray(model.layout.hyper_index())
    assert start.chains.shape == (3, model.dim)
    assert np.all(np.isfinite([float(model.logdensity(x)) for x in start.chains]))
    assert len({tuple(np.round(np.asarray(x[hyper]), 8)) for x in start.chains}) == 3
    assert np.all(np.linalg.eigvalsh(start.hyper_cov) > 0)


def test_an_sn_the_broad_fits_cannot_place_leaves_the_start_finite(sed):
    """A 3-SN survey from BayeSN's own hyperpriors (τ_A 6.2 mag) whose third SN, behind
    A_V = 14.5, the broad per-SN fit explains as a faint fast decliner instead (θ ≈ 13,
    A_V ≈ 0): that SN's Laplace draws reach A_V of 1e180, whose weights swing by
    1e299 with σ_R. They used to turn the population fit's curvature, and then every
    chain's start, into NaN (a ModelError from the default start of ``run``). Now such
    draws are left out, and each chain starts at a finite log density."""
    population = sd.SinglePopulation()
    survey, truth = sd.simulate_survey(jax.random.key(12), sed, population, n_sn=3)
    assert float(truth["A_V"][2]) > 14
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=population)
    start = population_start(model, jax.random.key(3), chains=2)
    assert np.all(np.isfinite(start.hyper)) and np.all(np.isfinite(start.hyper_cov))
    model = model.with_anchors(start.anchors)  # the coordinates the starts are in
    for x in start.chains:
        assert np.isfinite(float(model.logdensity(x)))
