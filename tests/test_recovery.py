"""Recovery of a simulated 30-SN population by NUTS, the default sampler (AdjustedMCLMC's
recovery of the same survey is measured in benchmarks/README.md: one run takes ~13
minutes of two cores). Its own file, so that pytest-xdist's ``--dist loadfile`` runs it
beside the other sampling tests."""

from __future__ import annotations

import jax
import pytest

import sndust as sd


@pytest.fixture(scope="module")
def recovery(sed):
    hyper = dict(mu_R=2.7, sigma_R=0.5, tau_A=0.3, sigma0=0.1)
    survey, _ = sd.simulate_survey(
        jax.random.key(30), sed, sd.SinglePopulation(), n_sn=30, hyper=hyper
    )
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    # default settings (MAP start, Laplace variances as the starting metric, apparent
    # distance coordinate); 400 draws per chain: at 300, R-hat's own noise (~0.004 here)
    # put τ_A at 1.0103 in one CI run after a change of float rounding alone
    post = sd.NUTS(num_warmup=300, num_samples=400).run(
        model, jax.random.key(0), chains=4, progress=False
    )
    return post, hyper


def test_nuts_recovers_the_population_of_a_30_sn_survey(recovery):
    import arviz as az

    post, hyper = recovery
    table = post.summary(hdi_prob=0.95)
    rhat = az.rhat(post.posterior, var_names=list(hyper))  # unrounded (summary rounds)
    for name in ("mu_R", "tau_A", "sigma0"):
        row = table.loc[name]
        assert row["hdi_2.5%"] < hyper[name] < row["hdi_97.5%"], (name, row)
        assert float(rhat[name]) < 1.01, (name, float(rhat[name]), table)
        assert row["ess_bulk"] > 300, table
    # σ_R (weakly identified, its posterior piled against 0) mixes slowest
    assert float(rhat["sigma_R"]) < 1.03, table
    assert table.loc["sigma_R", "ess_bulk"] > 150, table
    assert post.divergences <= 2  # of 1600 draws
