"""What the tests share: the small problems and short sampler settings that many tests
run, the 30-SN recovery survey and its criteria, and the catalogues of built-in
populations, dust laws and samplers that tests parametrise over. Tests and the
subprocess script (_sampling_script.py) import from here; so do new tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax

import sndust as sd

#: every built-in population, dust law and sampler (a new built-in is added here too)
POPULATIONS = ("SinglePopulation", "MassSplit", "MassSplitSED", "RedshiftLinear", "FixedPopulation")
DUST_LAWS = (
    "Fitzpatrick99",
    "CCM89",
    "ODonnell94",
    "Gordon23",
    "Fitzpatrick19",
    "FitzpatrickMassa07",
    "Gordon03SMCBar",
    "Calzetti00",
)
SAMPLERS = ("NUTS", "MCLMC", "AdjustedMCLMC")

# ---------------------------------------------------------------------------- 4 SNe
SMALL = dict(mu_R=2.7, sigma_R=0.5, tau_A=0.3, sigma0=0.1)

#: short runs of every sampler (interface tests, checkpoints)
TINY = {
    "NUTS": sd.NUTS(num_warmup=60, num_samples=40, max_tree_depth=6),
    "MCLMC": sd.MCLMC(num_warmup=200, num_samples=100),
    "AdjustedMCLMC": sd.AdjustedMCLMC(num_warmup=150, num_samples=60),
}


def small_model(n_sn: int = 4):
    """The small hierarchical problem shared with tests/test_sampling.py."""
    sed = sd.BayeSNModel.load("T21")
    survey, truth = sd.simulate_survey(
        jax.random.key(5), sed, sd.SinglePopulation(), n_sn=n_sn, hyper=SMALL
    )
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    return model, truth


def kill_target_sampler():
    return sd.NUTS(num_warmup=40, num_samples=200, max_tree_depth=5)


# ---------------------------------------------------------------------------- 30 SNe
# The recovery survey and its truth are benchmarks/recovery.py's, where the long-chain
# version of the recovery check runs (tests/test_recovery*.py: one file per sampler, so
# that pytest-xdist's ``--dist loadfile`` runs them on different workers).


def _recovery():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import recovery

    return recovery


def recovery_model(sed):
    """The simulated 30-SN ``SinglePopulation`` survey (benchmarks' ``simulate(30, 30)``)."""
    return _recovery().recovery_model(sed)


def assert_recovered(post, slow=("sigma_R", "RV_sd")):
    """Every hyperparameter's truth, and the population's E[R_V] and √Var[R_V]
    (``RV_mean``, ``RV_sd``), inside its 95% HDI; R-hat < 1.01 and bulk ESS > 300, except
    for the ``slow`` ones (by default σ_R, weakly identified with its posterior piled
    against 0, and √Var[R_V] with it): R-hat < 1.03, bulk ESS > 150. The strict bar with
    long chains (R-hat ≤ 1.01, bulk and tail ESS ≥ 400) is benchmarks/recovery.py's."""
    recovery = _recovery()
    rows = recovery.table(post, recovery.truth())
    report = "\n".join(f"{name}: {row}" for name, row in rows.items())
    for name, row in rows.items():
        assert row["inside"], (name, report)
        rhat_max, ess_min = (1.03, 150) if name in slow else (1.01, 300)
        assert row["rhat"] < rhat_max, (name, report)
        assert row["ess_bulk"] > ess_min, (name, report)


def sndust(*args, cwd=None, timeout=900) -> subprocess.CompletedProcess:
    """``sndust ARGS`` in a fresh process (its output captured, warnings off)."""
    return subprocess.run(
        [sys.executable, "-m", "sndust", *args], capture_output=True, text=True,
        timeout=timeout, cwd=cwd, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip


def fluxcal_of_reference_simulation(sed, ref):
    """sndust's FLUXCAL for the survey a bayesn reference file simulated (its ``sim_*``
    arrays: ``SEDmodel.simulate_light_curve`` with a free time of maximum and δM), and
    the prepared survey; every simulated point must be kept."""
    import numpy as np

    n_sn = ref["sim_z"].size
    z = ref["sim_z"]
    survey = sd.Survey.from_arrays(
        snid=[f"sim{k}" for k in range(n_sn)],
        mjd=[60000.0 + ref["sim_phase"] * (1 + z[k]) for k in range(n_sn)],
        band=[ref["sim_band"]] * n_sn,
        fluxcal=list(ref["sim_flux"]),
        fluxcal_err=list(0.02 * ref["sim_flux"]),
        z_hel=z,
        peak_mjd=np.full(n_sn, 60000.0),
        mwebv=ref["sim_ebv_mw"],
    )
    prepared = sd.prepare(survey, sed, free_tmax=True)
    assert prepared.n_sn == n_sn and np.asarray(prepared.observed_mask()).all()
    flux = prepared.fluxcal(
        theta=ref["sim_theta"],
        A_V=ref["sim_AV"],
        R_V=ref["sim_RV"],
        e=ref["sim_e"],
        distmod=ref["sim_mu"],
        delta_M=ref["sim_del_M"],
        t_max=ref["sim_tmax"],
    )
    return np.asarray(flux), prepared
