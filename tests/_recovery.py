"""The 30-SN recovery survey and criteria shared by tests/test_recovery*.py (one file
per sampler, so that pytest-xdist's ``--dist loadfile`` runs them on different
workers)."""

from __future__ import annotations

import jax

import sndust as sd

HYPER = dict(mu_R=2.7, sigma_R=0.5, tau_A=0.3, sigma0=0.1)


def recovery_model(sed):
    """The simulated 30-SN ``SinglePopulation`` survey (benchmarks' ``simulate(30, 30)``)."""
    survey, _ = sd.simulate_survey(
        jax.random.key(30), sed, sd.SinglePopulation(), n_sn=30, hyper=HYPER
    )
    return sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())


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
