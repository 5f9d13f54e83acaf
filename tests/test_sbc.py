"""Simulation-based calibration, reduced: the full check (benchmarks/sbc.py, ≥ 200
surveys, rank-uniformity tests) runs outside CI; here 20 small surveys drawn from the
prior are fitted with the default NUTS and start, and the fraction of truths inside their
central 50% and 90% posterior intervals must lie within two-sided 99.9% binomial bounds
for every hyperparameter and for the first SN's A_V, R_V, θ and D. A biased or
over-confident posterior fails it; so does one twice too wide (50% intervals that hold
nearly every truth)."""

from __future__ import annotations

import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import sbc  # noqa: E402

import sndust as sd  # noqa: E402

N_SURVEYS = 20


@pytest.fixture(scope="module")
def rows(sed):
    population = sbc.populations()["single"]
    sampler = sd.NUTS(num_warmup=150, num_samples=150, max_tree_depth=7)
    return [
        sbc.fit_one(
            index,
            population=population,
            n_sn=3,
            sampler=sampler,
            chains=2,
            ranks=99,
            seed=2026,
            sed=sed,
        )
        for index in range(N_SURVEYS)
    ]


@pytest.mark.parametrize("level", [50, 90])
def test_posterior_intervals_cover_truths_drawn_from_the_prior(rows, level):
    low, high = sbc.coverage_bounds(len(rows), level / 100)
    covered = {
        name: sum(row["params"][name][f"in_{level}"] for row in rows) / len(rows)
        for name in rows[0]["params"]
    }
    outside = {name: c for name, c in covered.items() if not low <= c <= high}
    assert not outside, (f"{level}% coverage outside [{low:.2f}, {high:.2f}]", outside)
    assert set(covered) == {"mu_R", "sigma_R", "tau_A", "sigma0", *sbc.PER_SN}
