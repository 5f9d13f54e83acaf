"""Recovery of a simulated 30-SN population by NUTS (the default sampler) and by
AdjustedMCLMC (2.7× NUTS's ESS per second on this survey, benchmarks/README.md). MCLMC
(unadjusted) does not converge on it (R-hat 1.25, benchmarks/README.md) and is not
tested here. Its own file, so that pytest-xdist's ``--dist loadfile`` runs it beside the
other sampling tests."""

from __future__ import annotations

import jax
import pytest

import sndust as sd

HYPER = dict(mu_R=2.7, sigma_R=0.5, tau_A=0.3, sigma0=0.1)


@pytest.fixture(scope="module")
def model(sed):
    survey, _ = sd.simulate_survey(
        jax.random.key(30), sed, sd.SinglePopulation(), n_sn=30, hyper=HYPER
    )
    return sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())


@pytest.fixture(scope="module")
def recovery(model):
    # default settings (MAP start, Laplace variances as the starting metric, apparent
    # distance coordinate); 400 draws per chain: at 300, R-hat's own noise (~0.004 here)
    # put τ_A at 1.0103 in one CI run after a change of float rounding alone
    post = sd.NUTS(num_warmup=300, num_samples=400).run(
        model, jax.random.key(0), chains=4, progress=False
    )
    return post


def assert_recovered(post, hyper=HYPER):
    """μ_R, τ_A and σ0 inside their 95% intervals with R-hat < 1.01 and bulk ESS > 300;
    σ_R (weakly identified, its posterior piled against 0) mixes slowest: R-hat < 1.03,
    ESS > 150."""
    import arviz as az

    table = post.summary(hdi_prob=0.95)
    rhat = az.rhat(post.posterior, var_names=list(hyper))  # unrounded (summary rounds)
    for name in ("mu_R", "tau_A", "sigma0"):
        row = table.loc[name]
        assert row["hdi_2.5%"] < hyper[name] < row["hdi_97.5%"], (name, row)
        assert float(rhat[name]) < 1.01, (name, float(rhat[name]), table)
        assert row["ess_bulk"] > 300, table
    assert float(rhat["sigma_R"]) < 1.03, table
    assert table.loc["sigma_R", "ess_bulk"] > 150, table


def test_nuts_recovers_the_population_of_a_30_sn_survey(recovery):
    assert_recovered(recovery)
    assert recovery.divergences <= 2  # of 1600 draws


def test_adjusted_mclmc_recovers_the_population_of_a_30_sn_survey(model):
    """Default warm-up (500 steps, metric pooled over the chains); 500 draws per chain.
    On this survey one key of two tried (key 2, benchmarks/README.md) left one chain on a
    long excursion to σ_R ≈ 1.5–1.9 (R-hat 1.03 in 500 draws): the test's key is not
    a guarantee for every key."""
    post = sd.AdjustedMCLMC(num_samples=500).run(model, jax.random.key(0), chains=4, progress=False)
    assert_recovered(post)
    assert post.divergences == 0
