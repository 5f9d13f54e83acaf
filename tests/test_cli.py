"""The ``sndust`` command: the demo end to end (small settings), resume, summarize, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import arviz as az
import numpy as np
import pytest
from helpers import sndust

import sndust as sd

SMALL = ["--n-sn", "6", "--chains", "2", "--warmup", "40", "--samples", "30", "--seed", "3"]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    proc = sndust("demo", *SMALL, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_demo_prints_truth_against_posterior_and_writes_its_files(demo_run):
    out, proc = demo_run
    lines = proc.stdout.splitlines()
    assert any(line.startswith("simulated 6 SNe") for line in lines), proc.stdout
    assert "2 × cpu" in proc.stdout  # one chain per core
    for name, truth in (("mu_R", 2.7), ("sigma_R", 0.5), ("tau_A", 0.3), ("sigma0", 0.1)):
        row = next(line for line in lines if line.startswith(name))
        assert float(row.split()[1]) == pytest.approx(truth)
    assert "per-SN truths inside their 95% intervals" in proc.stdout
    post = sd.Posterior.from_netcdf(out / "demo.nc")
    assert post.posterior.sizes["chain"] == 2 and post.posterior.sizes["draw"] == 30
    assert post.posterior.sizes["sn"] == 6
    table = sd.read_fitres(out / "distances.FITRES")
    assert len(table) == 6 and np.all(np.isfinite(table["MU"]))
    for png in ("corner.png", "hubble_residuals.png", "dust_vs_mass.png", "light_curves.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_writes_summary_json_and_says_whether_it_converged(demo_run):
    """``summary.json``: wall time, the verdict and, per hyperparameter, truth, mean, sd,
    95% HDI, R-hat and ESS as ArviZ computes them from the written posterior; the
    printed verdict names every hyperparameter that misses the thresholds."""
    out, proc = demo_run
    text = (out / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda word: pytest.fail(f"not JSON: {word}"))
    post = sd.Posterior.from_netcdf(out / "demo.nc")
    assert summary["wall_s"] > 0 and summary["chains"] == 2 and summary["draws"] == 30
    assert summary["criteria"] == {"rhat_max": 1.01, "ess_min": 400.0}
    truths = {"mu_R": 2.7, "sigma_R": 0.5, "tau_A": 0.3, "sigma0": 0.1}
    rhat = az.rhat(post.idata, var_names=list(truths))
    ess = az.ess(post.idata, var_names=list(truths))
    missing = []
    for name, truth in truths.items():
        row = summary["hyper"][name]
        assert row["truth"] == pytest.approx(truth)
        assert row["mean"] == pytest.approx(float(post.posterior[name].mean()))
        assert row["rhat"] == pytest.approx(rhat[name].item())
        assert row["ess_bulk"] == pytest.approx(ess[name].item())
        low, high = row["hdi_95"]
        assert low < row["mean"] < high
        if not (row["rhat"] <= 1.01 and min(row["ess_bulk"], row["ess_tail"]) >= 400):
            missing.append(name)
    assert summary["converged"] == (not missing)
    assert [f.split(":")[0] for f in summary["not_converged"]] == missing
    last = proc.stdout.strip().splitlines()[-1]
    if missing:  # 2 × 30 draws: ESS ≥ 400 is out of reach
        assert last.startswith("NOT CONVERGED") and all(f"{m}: " in last for m in missing)
    else:
        assert last.startswith("converged")


def test_demo_refuses_to_overwrite_and_resumes_to_the_same_draws(demo_run):
    out, _ = demo_run
    before = sd.Posterior.from_netcdf(out / "demo.nc").posterior["tau_A"].values
    proc = sndust("demo", *SMALL, "--out", str(out), "--quiet")
    assert proc.returncode == 2
    assert "holds the results of an earlier run (demo.nc, demo.h5" in proc.stderr
    assert "--resume to continue demo.h5" in proc.stderr
    proc = sndust("demo", *SMALL, "--out", str(out), "--quiet", "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = sd.Posterior.from_netcdf(out / "demo.nc").posterior["tau_A"].values
    np.testing.assert_array_equal(after, before)


def test_summarize_prints_the_report(demo_run, tmp_path):
    out, _ = demo_run
    proc = sndust("summarize", str(out / "demo.nc"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "NUTS" in proc.stdout and "tau_A" in proc.stdout and "r_hat" in proc.stdout
    missing = sndust("summarize", str(tmp_path / "none.nc"))
    assert missing.returncode == 2 and "none.nc: no such file" in missing.stderr
    wrong = sndust("summarize", str(out / "distances.FITRES"))
    assert wrong.returncode == 2 and "distances.FITRES" in wrong.stderr


def test_importing_sndust_leaves_jax_devices_unset():
    """XLA_FLAGS set after ``import sndust`` still takes effect (fake CPU devices)."""
    code = (
        "import os, sndust, jax\n"
        "os.environ['XLA_FLAGS'] = '--xla_force_host_platform_device_count=3'\n"
        "print(len(jax.devices('cpu')))"
    )
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and proc.stdout.split()[-1] == "3", proc.stderr[-2000:]


@pytest.mark.parametrize(
    "args, message",
    [
        (["demo", "--chains", "0"], "--chains must be at least 1"),
        (["demo", "--n-sn", "1"], "--n-sn must be at least 2"),
        (["demo", "--samples", "0"], "--samples must be at least 1"),
        (["demo", "--tree-depth", "0"], "--tree-depth must be at least 1"),
        (["compare", "a.nc", "b.nc", "--hyper-draws", "0"], "--hyper-draws must be at least 1"),
    ],
)
def test_bad_demo_options_are_named(args, message):
    proc = sndust(*args, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr


def test_config_lists_sampler_and_dust_options_and_prints_the_demo():
    proc = sndust("config", timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sampler.options of each sampler" in proc.stdout
    assert "model.dust_options of each dust law" in proc.stdout
    for option in ("target_accept=0.9", "max_tree_depth=10", "integration_steps=32.0"):
        assert option in proc.stdout
    assert "demo " in proc.stdout  # listed among the examples
    demo = sndust("config", "demo", timeout=120)
    assert demo.returncode == 0 and "simulate:" in demo.stdout and "name: demo" in demo.stdout


def test_fit_demo_runs_the_demo_configuration(tmp_path):
    """``sndust fit demo`` is the demo (the built-in configuration), here at small sizes;
    with ``--require-convergence`` a run that cannot have converged (10 draws: ESS 400
    is out of reach) writes its files, then exits with status 3 and one line."""
    sets = ["survey.simulate.n_sn=3", "sampler.chains=1", "sampler.warmup=20"]
    sets += ["sampler.samples=10", f"output.dir={tmp_path / 'd'}", "output.plots=false"]
    proc = sndust("fit", "demo", *(a for s in sets for a in ("--set", s)), "--require-convergence")
    assert proc.returncode == 3, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]  # (after the progress bar)
    assert last.startswith("sndust: not converged: ") and "summary.json are written" in last
    assert "Traceback" not in proc.stderr
    assert json.loads((tmp_path / "d" / "summary.json").read_text())["converged"] is False
    assert proc.stdout.startswith("simulated 3 SNe")
    assert any(line.startswith("tau_A     0.300") for line in proc.stdout.splitlines())
    post = sd.Posterior.from_netcdf(tmp_path / "d" / "demo.nc")
    assert post.posterior.sizes["draw"] == 10 and post.posterior.sizes["sn"] == 3
