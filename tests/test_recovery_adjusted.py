"""Recovery of the simulated 30-SN population of tests/test_recovery.py by AdjustedMCLMC
(2.7× NUTS's ESS per second on this survey, benchmarks/README.md)."""

from __future__ import annotations

import jax
from helpers import assert_recovered, recovery_model

import sndust as sd


def test_adjusted_mclmc_recovers_the_population_of_a_30_sn_survey(sed):
    """Default warm-up (500 steps, metric pooled over the chains); 500 draws per chain.
    On this survey one key of two tried (key 2, benchmarks/README.md) left one chain on a
    long excursion to σ_R ≈ 1.5–1.9 (R-hat 1.03 in 500 draws): the test's key is not
    a guarantee for every key."""
    post = sd.AdjustedMCLMC(num_samples=500).run(
        recovery_model(sed), jax.random.key(0), chains=4, progress=False
    )
    assert_recovered(post)
    assert post.divergences == 0
