"""Checkpoints (interrupt, SIGKILL, resume, refusal, corruption) and fake CPU devices."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import jax
import numpy as np
import pytest

import sndust as sd
from sndust._sampling._checkpoint import Checkpoint

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "_sampling_script.py"
sys.path.insert(0, str(HERE))
from conftest import count_compiles  # noqa: E402
from helpers import TINY, kill_target_sampler, small_model  # noqa: E402


# ---------------------------------------------------------------------------- checkpoints
def _draws(post):
    return post.posterior["tau_A"].values, post.sample_stats["lp"].values


def _interrupted(sampler, model, path, monkeypatch, after: int, **args):
    """Run ``sampler`` with a checkpoint and stop it (KeyboardInterrupt) right after its
    ``after``-th checkpoint write; returns the checkpoint's (phase, done)."""
    saves = {"n": 0}
    real_save = Checkpoint.save

    def save_then_stop(self):
        real_save(self)
        saves["n"] += 1
        if saves["n"] == after:
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpoint, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        sampler.run(model, jax.random.key(7), checkpoint=path, **args)
    monkeypatch.setattr(Checkpoint, "save", real_save)
    with h5py.File(path) as f:
        return f.attrs["phase"], int(f.attrs["done"])


def test_interrupted_and_resumed_run_gives_the_uninterrupted_draws(small, tmp_path, monkeypatch):
    model, _ = small
    sampler = sd.NUTS(num_warmup=40, num_samples=60, max_tree_depth=5)
    args = dict(chains=2, progress=False, batch=15)
    full = sampler.run(model, jax.random.key(7), **args)
    path = tmp_path / "run.h5"
    # the start, 3 warm-up batches, the end of warm-up, then one sampling batch
    assert _interrupted(sampler, model, path, monkeypatch, 6, **args) == ("sampling", 15)
    resumed = sampler.run(model, jax.random.key(7), resume=path, **args)
    for a, b in zip(_draws(full), _draws(resumed)):
        np.testing.assert_array_equal(a, b)


def test_adjusted_mclmc_resumed_mid_warmup_gives_the_uninterrupted_draws(
    small, tmp_path, monkeypatch
):
    """AdjustedMCLMC's staged warm-up is checkpointed batch by batch (a batch never
    crosses a stage; a resumed stage is not restarted), and warm-up and sampling, short
    last batch included, run one compiled program."""
    model, _ = small
    sampler = sd.AdjustedMCLMC(num_warmup=60, num_samples=45, integration_steps=4.0)
    args = dict(chains=2, progress=False, batch=20)
    with count_compiles("_advance") as compiles:
        full = sampler.run(model, jax.random.key(7), **args)
    assert compiles == {"_advance": 1}
    path = tmp_path / "warm.h5"
    # the start, then warm-up batches of 6, 12 and 20 steps: stopped in the third stage
    # (steps 18 to 42)
    assert _interrupted(sampler, model, path, monkeypatch, 4, **args) == ("warmup", 38)
    resumed = sampler.run(model, jax.random.key(7), resume=path, **args)
    for a, b in zip(_draws(full), _draws(resumed)):
        np.testing.assert_array_equal(a, b)
    assert resumed.posterior.sizes["draw"] == 45


def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_draws(small, tmp_path):
    model, _ = small
    path = tmp_path / "killed.h5"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "checkpoint", str(path)])
    deadline = time.time() + 600
    done = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            with h5py.File(path, "r") as f:
                if f.attrs["phase"] == "sampling":
                    done = int(f.attrs["done"])
        except (OSError, KeyError):
            pass
        if done >= 30:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with h5py.File(path, "r") as f:
        killed_at = int(f.attrs["done"])
    assert 30 <= killed_at < 200
    sampler = kill_target_sampler()
    options = dict(chains=2, init="prior", batch=10, progress=False)
    resumed = sampler.run(model, jax.random.key(9), resume=path, **options)
    full = sampler.run(model, jax.random.key(9), **options)
    for a, b in zip(_draws(full), _draws(resumed)):
        np.testing.assert_array_equal(a, b)
    assert resumed.posterior.sizes["draw"] == 200


SAVED = dict(chains=2, progress=False)


@pytest.fixture(scope="module")
def saved_run(small, tmp_path_factory):
    model, _ = small
    path = tmp_path_factory.mktemp("ckpt") / "run.h5"
    sampler = TINY["NUTS"]
    SAVED["init"] = np.zeros(model.dim)
    sampler.run(model, jax.random.key(1), checkpoint=path, **SAVED)
    return model, sampler, path


def test_checkpoint_of_another_configuration_is_refused(saved_run):
    model, sampler, path = saved_run
    other = sd.NUTS(num_warmup=60, num_samples=30, max_tree_depth=6)
    with pytest.raises(sd.ConfigError, match="num_samples: saved 40, now 30"):
        other.run(model, jax.random.key(1), chains=2, resume=path, progress=False)
    with pytest.raises(sd.ConfigError, match="chains"):
        sampler.run(model, jax.random.key(1), chains=4, resume=path, progress=False)
    with pytest.raises(sd.ConfigError, match="key"):
        sampler.run(model, jax.random.key(2), chains=2, resume=path, progress=False)


def test_checkpoint_of_another_model_is_refused(saved_run, sed):
    _, sampler, path = saved_run
    other, _ = small_model(n_sn=3)
    with pytest.raises(sd.ConfigError, match="different model"):
        sampler.run(other, jax.random.key(1), chains=2, resume=path, progress=False)
    # same survey and arrays, but the saved positions would mean other distances
    model, _, _ = saved_run
    sheared = sd.HierarchicalModel(
        sed=sed,
        survey=model.prepared,
        population=sd.SinglePopulation(),
        distance_coordinate="distance",
    )
    with pytest.raises(sd.ConfigError, match="different model"):
        sampler.run(sheared, jax.random.key(1), chains=2, resume=path, progress=False)


def test_existing_checkpoint_is_never_overwritten(saved_run):
    model, sampler, path = saved_run
    before = path.read_bytes()
    with pytest.raises(sd.ConfigError, match="exists"):
        sampler.run(model, jax.random.key(1), chains=2, checkpoint=path, progress=False)
    assert path.read_bytes() == before


def test_corrupt_or_truncated_checkpoint_is_detected(saved_run, tmp_path):
    model, sampler, path = saved_run
    data = path.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(sd.DataError, match="truncated"):
        sampler.run(model, jax.random.key(1), resume=truncated, **SAVED)
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(data)
    with h5py.File(corrupt, "r+") as f:  # change the stored draws, keep the checksum
        draws = f["draws"][()]
        draws[0, 0, 0] += 1.0
        f["draws"][...] = draws
    with pytest.raises(sd.DataError, match="checksum"):
        sampler.run(model, jax.random.key(1), resume=corrupt, **SAVED)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not hdf5 at all" * 100)
    with pytest.raises(sd.DataError, match="checkpoint"):
        sampler.run(model, jax.random.key(1), resume=garbage, **SAVED)


def test_resume_needs_an_existing_checkpoint(small, tmp_path):
    model, _ = small
    with pytest.raises(sd.ConfigError, match="no checkpoint"):
        TINY["NUTS"].run(model, jax.random.key(1), resume=tmp_path / "none.h5", progress=False)


@pytest.mark.parametrize("name", ["NUTS", "AdjustedMCLMC"])
def test_a_start_without_finite_log_density_is_refused_before_anything_is_written(
    small, tmp_path, name
):
    """A chain started where the log density is not finite (a NaN coordinate) is named,
    with the block and SN at fault, and no checkpoint is written."""
    model, _ = small
    init = np.zeros((2, model.dim))
    init[1, 0] = np.nan
    path = tmp_path / "bad.h5"
    with pytest.raises(sd.ModelError, match=r"chain\(s\) \[1\].*at the first: .*block.*sim0000"):
        TINY[name].run(
            model, jax.random.key(1), chains=2, init=init, checkpoint=path, progress=False
        )
    assert not path.exists()


# ---------------------------------------------------------------------------- devices
def test_four_cpu_devices_give_the_draws_of_one(tmp_path):
    out = tmp_path / "devices.npz"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "devices", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = np.load(out)
    assert "4 CPU" in str(r["four_devices"]) and "1 CPU" in str(r["one_devices"])
    np.testing.assert_array_equal(r["four"], r["one"])
    np.testing.assert_array_equal(r["four_lp"], r["one_lp"])
    # the SN axis split over devices: the same density (partitioned sums)
    assert "SN axis" in str(r["sn_devices"])
    np.testing.assert_allclose(r["lp_sn"], r["lp_one"], rtol=1e-12)
    np.testing.assert_allclose(r["sn_lp"][:, :5], r["one_lp"][:, :5], rtol=1e-8)
