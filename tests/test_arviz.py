"""ArviZ 1.x: results as an xarray DataTree, diagnostics from arviz-stats, posterior files of
the ArviZ 0.x releases still read, and no Python warning from the commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

import sndust as sd

#: written by sndust on ArviZ 0.23.4 (InferenceData.to_netcdf); tests/data/make_arviz023_nuts.py
OLD = Path(__file__).parent / "data" / "arviz023_nuts.nc"

#: what ArviZ 0.23.4 read from OLD (az.from_netcdf, az.rhat, az.ess) when it was written
OLD_GROUPS = {
    "posterior": [
        "A_V", "D", "RV_mean", "RV_sd", "R_V", "delta_M", "e", "mu_R", "residual", "sigma0",
        "sigma0_sn", "sigma_R", "tau_A", "theta",
    ],
    "log_likelihood": ["flux"],
    "sample_stats": [
        "acceptance_rate", "diverging", "energy", "lp", "n_steps", "step_size", "tree_depth",
        "tuned_step_size",
    ],
    "observed_data": ["fluxcal", "fluxcal_err", "obs_phase", "obs_sn"],
    "constant_data": [
        "log_mass", "muhat", "muhat_err", "peak_mjd_prior", "survey", "z_cmb", "z_hel",
    ],
}  # fmt: skip
OLD_RHAT_TAU_A = 1.587932521697404
OLD_ESS_BULK_TAU_A = 8.824948543420874


def test_a_posterior_file_of_the_arviz_0_releases_loads_with_its_groups_and_values(tmp_path):
    """A file that sndust wrote through ArviZ 0.23 (InferenceData) loads as a DataTree:
    every group and variable, the attributes, the values as stored (read back here with
    h5py alone) and as ArviZ 0.23 read them; its summary is arviz-stats' (R-hat and
    bulk ESS as ArviZ 0.23 computed them), and it saves again unchanged."""
    post = sd.Posterior.from_netcdf(OLD)
    assert isinstance(post.datatree, xr.DataTree) and post.idata is post.datatree
    assert post.groups() == list(OLD_GROUPS)
    for group, names in OLD_GROUPS.items():
        assert isinstance(getattr(post, group), xr.Dataset)
        assert sorted(getattr(post, group).data_vars) == names, group
    assert post.posterior.sizes["chain"] == 2 and post.posterior.sizes["draw"] == 10
    assert list(post.posterior["sn"].values) == ["sim00000", "sim00001", "sim00002"]
    assert post.posterior["e"].dims == ("chain", "draw", "sn", "e_dim")
    assert post.hyper_names == ("mu_R", "sigma_R", "tau_A", "sigma0")
    assert post.derived_names == ("RV_mean", "RV_sd")
    assert post.posterior.attrs["sampler"] == "NUTS"
    assert json.loads(post.posterior.attrs["sampler_config"])["max_tree_depth"] == 4
    with h5py.File(OLD, "r") as f:  # the stored numbers, without xarray or ArviZ
        for group, names in OLD_GROUPS.items():
            for name in names:
                stored = f[f"{group}/{name}"][()]
                if stored.dtype.kind in "SO":
                    stored = stored.astype(str)
                np.testing.assert_array_equal(
                    getattr(post, group)[name].values, stored, err_msg=f"{group}/{name}"
                )
    assert post.posterior["tau_A"].values[1, 3] == 0.3946502368757545
    assert post.sample_stats["lp"].values[0, 0] == -783.8162787845083
    assert post.log_likelihood["flux"].values[1, 9, 2] == -229.06361783422818
    assert post.observed_data["fluxcal"].size == 120
    assert post.constant_data["z_cmb"].values[2] == 0.04849616146773923

    table = post.summary(round_to="none")
    assert list(table.index) == ["mu_R", "sigma_R", "tau_A", "sigma0", "RV_mean", "RV_sd"]
    assert table.loc["tau_A", "r_hat"] == pytest.approx(OLD_RHAT_TAU_A, rel=1e-12)
    assert table.loc["tau_A", "ess_bulk"] == pytest.approx(OLD_ESS_BULK_TAU_A, rel=1e-12)
    assert {"hdi_3%", "hdi_97%", "mcse_mean", "mcse_sd", "ess_tail"} <= set(table.columns)
    check = post.convergence()
    assert (
        check["converged"] is False
        and check["parameters"]["tau_A"]["rhat"] == table.loc["tau_A", "r_hat"]
    )
    assert len(post.distance_table()) == 3

    again = tmp_path / "again.nc"
    post.to_netcdf(again)
    back = sd.Posterior.from_netcdf(again)
    for group in OLD_GROUPS:
        xr.testing.assert_identical(getattr(back, group), getattr(post, group))


def test_summary_is_arviz_stats_with_sndust_interval_columns():
    """The summary is arviz-stats' (its rounding for display, raw numbers underneath);
    the HDI columns keep sndust's names unless ArviZ's own interval is asked for."""
    import arviz_stats as azs

    post = sd.Posterior.from_netcdf(OLD)
    raw = azs.summary(post.datatree, var_names=["tau_A"], ci_kind="hdi", ci_prob=0.95)
    ours = post.summary(["tau_A"], hdi_prob=0.95)
    assert list(ours.columns) == [
        "mean", "sd", "hdi_2.5%", "hdi_97.5%", "ess_bulk", "ess_tail", "r_hat", "mcse_mean",
        "mcse_sd",
    ]  # fmt: skip
    np.testing.assert_array_equal(np.asarray(ours, float), np.asarray(raw, float))
    assert "hdi_2.5%" in ours.to_string()
    assert post.summary(["tau_A"]).columns[2:4].tolist() == ["hdi_3%", "hdi_97%"]
    eti = post.summary(["tau_A"], ci_kind="eti", ci_prob=0.9)
    assert eti.columns[2:4].tolist() == ["eti90_lb", "eti90_ub"]
    assert post.min_ess() == pytest.approx(
        min(float(azs.ess(post.datatree, var_names=[n])[n]) for n in post.hyper_names)
    )


def _quiet_run(*args, cwd, timeout=900):
    """``sndust ARGS`` in a fresh process with every Python warning shown (deprecations
    included, which Python hides by default outside ``__main__``)."""
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    env.pop("XLA_FLAGS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "sndust", *args], capture_output=True, text=True,
        timeout=timeout, cwd=cwd, env=env,
    )  # fmt: skip
    said = [line for line in proc.stderr.splitlines() if "Warning" in line]
    assert not said, f"sndust {' '.join(args)} printed warnings:\n" + "\n".join(said)
    return proc


def test_the_commands_print_no_python_warning(tmp_path):
    """``sndust --help``, ``sndust demo --help``, ``sndust summarize`` (of a file written
    on ArviZ 0.23) and a small ``sndust fit`` (one chain: R-hat undefined, which ArviZ
    0.x warned of) print no warning, deprecations included."""
    assert "summarize" in _quiet_run("--help", cwd=tmp_path).stdout
    assert "--n-sn" in _quiet_run("demo", "--help", cwd=tmp_path).stdout
    shutil.copy(OLD, tmp_path / "old.nc")
    proc = _quiet_run("summarize", "old.nc", cwd=tmp_path)
    assert proc.returncode == 0 and "tau_A" in proc.stdout and "r_hat" in proc.stdout
    sets = ["survey.simulate.n_sn=3", "sampler.chains=1", "sampler.warmup=20"]
    sets += ["sampler.samples=10", "output.dir=d", "output.plots=false"]
    proc = _quiet_run("fit", "demo", *(a for s in sets for a in ("--set", s)), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = _quiet_run("summarize", "d/demo.nc", cwd=tmp_path)
    assert proc.returncode == 0 and "nan" in proc.stdout  # one chain: no R-hat


def test_arviz_plots_draws_a_run_from_its_tree(tmp_path):
    """A run's tree goes straight into arviz-plots: a trace and a density panel for each
    hyperparameter, saved as a PNG."""
    import arviz_plots as azp
    import matplotlib

    matplotlib.use("Agg")
    post = sd.Posterior.from_netcdf(OLD)
    names = list(post.hyper_names)
    pc = azp.plot_trace_dist(post.datatree, var_names=names, backend="matplotlib")
    assert len(pc.viz["figure"].item().axes) == 2 * len(names)
    pc.savefig(tmp_path / "trace.png")
    assert (tmp_path / "trace.png").read_bytes()[:4] == b"\x89PNG"
