"""Checkpoints (interrupt, SIGKILL, resume, refusal, corruption, tampering) and fake CPU
devices."""

from __future__ import annotations

import json
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
from sndust._sampling._checkpoint import Checkpoint, _digest, _file_digest

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
    args = dict(chains=2, progress=False, batch=15, extend_warmup=0)
    full = sampler.run(model, jax.random.key(7), **args)
    path = tmp_path / "run.h5"
    # the start, 3 warm-up batches, the end of warm-up, then one sampling batch
    # (extensions of warm-up: test_a_chain_left_apart_extends_the_warmup_...)
    assert _interrupted(sampler, model, path, monkeypatch, 6, **args) == ("sampling", 15)
    resumed = sampler.run(model, jax.random.key(7), resume=path, **args)
    for a, b in zip(_draws(full), _draws(resumed)):
        np.testing.assert_array_equal(a, b)


def test_a_run_in_informed_coordinates_resumes_in_them(small, tmp_path, monkeypatch):
    """A run from an informed start (``population_start(informed=True)``) keeps its
    anchors in the checkpoint: a run stopped mid-sampling resumes, in the same
    coordinates, to the uninterrupted draws, and its values are the anchored model's."""
    import jax.numpy as jnp

    from sndust._sampling._population_start import population_start

    model, _ = small
    start = population_start(model, jax.random.key(3), chains=2, map_starts=2, informed=True)
    assert start.anchors["R_V"][1].max() > 0  # some SN informs its R_V
    sampler = sd.NUTS(num_warmup=40, num_samples=60, max_tree_depth=5)
    args = dict(chains=2, progress=False, batch=15, init=start)
    full = sampler.run(model, jax.random.key(7), **args)
    path = tmp_path / "run.h5"
    assert _interrupted(sampler, model, path, monkeypatch, 6, **args) == ("sampling", 15)
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["precondition/anchor_R_V_prec"][:], start.anchors["R_V"][1])
    resumed = sampler.run(model, jax.random.key(7), resume=path, **args)
    for a, b in zip(_draws(full), _draws(resumed)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(full.posterior["R_V"].values, resumed.posterior["R_V"].values)
    informed = model.with_anchors(start.anchors)
    first = informed.constrain(jnp.asarray(start.chains[0]))
    assert not np.allclose(first["R_V"], model.constrain(jnp.asarray(start.chains[0]))["R_V"])
    # lp is the model's log density at each draw, not the informed coordinates' one
    at = {k: jnp.asarray(full.posterior[k].values[1, 3]) for k in full.hyper_names}
    at |= {
        k: jnp.asarray(full.posterior[k].values[1, 3]) for k in ("theta", "A_V", "R_V", "e", "D")
    }
    lp = float(model.logdensity(model.unconstrain(at)))
    assert lp == pytest.approx(float(full.sample_stats["lp"].values[1, 3]), abs=1e-8)


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


def test_an_extended_warmup_is_checkpointed_and_resumes_to_the_same_draws(
    small, tmp_path, monkeypatch
):
    """Chains that disagree at the end of warm-up get ``sampler.extension()`` (here
    forced: every R-hat counts as disagreeing), at most ``extend_warmup`` times; each
    extension begun is kept in the checkpoint, a run stopped inside one resumes to the
    draws of the uninterrupted run, and warm-up, extensions and sampling are one
    compiled program."""
    import sndust._sampling._posterior as posterior

    monkeypatch.setattr(posterior, "WARMUP_RHAT_MAX", 0.0)
    model, _ = small
    sampler = sd.NUTS(num_warmup=200, num_samples=60, max_tree_depth=5)
    args = dict(chains=2, progress=False, batch=50, extend_warmup=2)
    with count_compiles("_advance") as compiles:
        full = sampler.run(model, jax.random.key(7), **args)
    assert compiles == {"_advance": 1}
    assert full.posterior.attrs["warmup_extensions"] == 2
    path = tmp_path / "extended.h5"
    # the start, 4 warm-up batches, the first extension begun, then its first batch
    assert _interrupted(sampler, model, path, monkeypatch, 7, **args) == ("warmup", 250)
    with h5py.File(path, "r") as f:
        assert int(f.attrs["extensions"]) == 1 and f["warmup_stats/lp"].shape == (2, 250)
    resumed = sampler.run(model, jax.random.key(7), resume=path, **args)
    for a, b in zip(_draws(full), _draws(resumed)):
        np.testing.assert_array_equal(a, b)
    with h5py.File(path, "r") as f:
        assert int(f.attrs["extensions"]) == 2 and f["warmup_stats/hyper"].shape == (2, 400, 4)
    # a resume may not allow fewer extensions than the checkpoint has begun
    with pytest.raises(sd.ConfigError, match="extend_warmup: saved 2, now 1"):
        sampler.run(model, jax.random.key(7), resume=path, **(args | {"extend_warmup": 1}))


def test_a_run_checkpointed_by_the_previous_format_resumes_as_it_began(
    small, tmp_path, monkeypatch
):
    """A version-2 checkpoint (before warm-up extensions: no ``extensions`` attribute, no
    warm-up hyperparameters, no ``extend_warmup`` setting) stopped mid-warm-up resumes,
    without extensions, to the draws of an uninterrupted run that never extends (here
    every R-hat counts as disagreeing: a version-3 run would extend)."""
    import sndust._sampling._posterior as posterior

    monkeypatch.setattr(posterior, "WARMUP_RHAT_MAX", 0.0)
    model, _ = small
    sampler = sd.NUTS(num_warmup=200, num_samples=30, max_tree_depth=5)
    args = dict(chains=2, progress=False, batch=50, extend_warmup=2)
    path = tmp_path / "v2.h5"
    assert _interrupted(sampler, model, path, monkeypatch, 3, **args) == ("warmup", 60)

    def as_version_2(f):
        f.attrs["version"] = 2
        del f.attrs["extensions"]
        del f["warmup_stats/hyper"]
        config = json.loads(f.attrs["config"])
        del config["extend_warmup"]
        f.attrs["config"] = json.dumps(config, sort_keys=True)

    old = _tampered(path, tmp_path, as_version_2)
    resumed = sampler.run(model, jax.random.key(7), resume=old, **args)
    full = sampler.run(model, jax.random.key(7), **(args | {"extend_warmup": 0}))
    for a, b in zip(_draws(full), _draws(resumed)):
        np.testing.assert_array_equal(a, b)
    assert resumed.posterior.attrs["warmup_extensions"] == 0
    with h5py.File(old, "r") as f:
        assert int(f.attrs["version"]) == 2 and "warmup_stats/hyper" not in f


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


# ---------------------------------------------------------------------------- tampering
def _tampered(path, tmp_path, edit, reseal=True):
    """A copy of the checkpoint ``path`` changed by ``edit(f)`` (the open HDF5 file); with
    ``reseal``, its file-level checksum recomputed, as someone rewriting the file on
    purpose would (the checks of shapes and values must catch what remains)."""
    copy = tmp_path / "tampered.h5"
    copy.write_bytes(path.read_bytes())
    with h5py.File(copy, "r+") as f:
        edit(f)
        if reseal:
            f.attrs["sha256"] = _file_digest(f)
    return copy


def _set(name, value):
    def edit(f):
        f.attrs[name] = value

    return edit


def _delete(name):
    def edit(f):
        del (f if name in f else f.attrs)[name]

    return edit


def _replace(name, change):
    """Dataset ``name`` rewritten as ``change(array)``, its own checksum recomputed."""

    def edit(f):
        a = np.asarray(change(f[name][()]))
        del f[name]
        f.create_dataset(name, data=a).attrs["sha256"] = _digest(a)

    return edit


def _refused(saved_run, path, error, match):
    """Resuming ``path`` raises ``error`` matching ``match``, and the message names it."""
    model, sampler, _ = saved_run
    with pytest.raises(error, match=match) as raised:
        sampler.run(model, jax.random.key(1), resume=path, **SAVED)
    assert str(path) in str(raised.value)


def test_an_untouched_copy_resumes_to_the_saved_draws(saved_run, tmp_path):
    model, sampler, path = saved_run
    copy = _tampered(path, tmp_path, lambda f: None, reseal=False)
    post = sampler.run(model, jax.random.key(1), resume=copy, **SAVED)
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(post.sample_stats["lp"].values, f["stats/lp"][()])


EDITS = {  # saved: phase "sampling", done 40 (all of num_samples), 13 carry leaves
    "done": _set("done", 30),
    "phase": _set("phase", "warmup"),
    "n_carry": _set("n_carry", 12),
    "seconds": _set("seconds", '{"warmup": 0.0, "sampling": 0.0}'),
    "config": _set("config", "{}"),
    "fingerprint": _set("fingerprint", "0" * 64),
    "extra attribute": _set("note", "hello"),
    "draws": _replace("draws", lambda a: a[:, :30]),
    "stats/lp": _replace("stats/lp", lambda a: a + 1.0),
    "deleted dataset": _delete("stats/lp"),
    "added dataset": lambda f: f.create_dataset("stats/extra", data=np.zeros((2, 40))),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_an_edited_checkpoint_fails_the_file_checksum(saved_run, tmp_path, edit):
    """Every attribute that decides what is resumed, and the name and digest of every
    dataset, are under one checksum: an edit that leaves it is refused before anything
    is used."""
    path = _tampered(saved_run[2], tmp_path, edit, reseal=False)
    _refused(saved_run, path, sd.DataError, "attributes fail their checksum: the file was edited")


RESEALED = {  # the checksum recomputed: what is left must still be refused, by name
    "done below": (_set("done", 30), r"'draws': expected shape \(2, 30, \d+\), found \(2, 40,"),
    "done beyond": (_set("done", 70), "done = 70 is beyond the 40 draws of the sampling"),
    "done negative": (_set("done", -3), "done must be an integer ≥ 0, found -3"),
    "done not an integer": (_set("done", 12.5), "done must be an integer"),
    "phase valid": (_set("phase", "warmup"), "'draws': the dataset does not belong .* 'warmup'"),
    "phase invalid": (_set("phase", "banana"), "phase must be 'warmup' or 'sampling'"),
    "n_carry": (_set("n_carry", 12), "n_carry is 12, but the file holds the carry datasets"),
    "seconds": (_set("seconds", "[]"), "seconds is not a JSON object"),
    "config not JSON": (_set("config", "{oops"), "config is not a JSON object"),
    "draws": (
        _replace("draws", lambda a: a[:, :30]),
        r"'draws': expected shape \(2, 40, \d+\), found \(2, 30,",
    ),
    "init": (_replace("init", lambda a: a[:, :-1]), r"'init': expected shape \(2, \d+\)"),
    "init dtype": (
        _replace("init", lambda a: a.astype(np.float32)),
        "'init': expected dtype float64, found float32",
    ),
    "init text": (
        _replace("init", lambda a: a.astype(bytes)),
        "'init': expected numbers, found dtype",
    ),
    "carry leaf": (
        _replace("carry/000", lambda a: a[:, :-1]),
        r"'carry/000': expected shape \(2, \d+\), found",
    ),
    "stats entry": (_replace("stats/lp", lambda a: a[:, 1:]), r"'stats/lp': expected shape"),
    "warm-up stats entry": (
        _replace("warmup_stats/lp", lambda a: a[:1]),
        r"'warmup_stats/lp': expected shape \(2, 60\), found \(1, 60\)",
    ),
    "warm-up hyperparameters": (
        _replace("warmup_stats/hyper", lambda a: a[..., :-1]),
        r"'warmup_stats/hyper': expected shape \(2, 60, 4\), found \(2, 60, 3\)",
    ),
    "warm-up hyperparameters deleted": (
        _delete("warmup_stats/hyper"),
        "'warmup_stats/hyper': the dataset is missing",
    ),
    "extensions beyond those allowed": (
        _set("extensions", 1),
        "1 warm-up extensions begun, beyond the 0 allowed",
    ),
    "extensions negative": (_set("extensions", -1), "extensions must be an integer ≥ 0"),
    "metric": (
        _replace("precondition/metric_chol", lambda a: a[:-1]),
        "'precondition/metric_chol': expected shape",
    ),
    "metric index": (
        _replace("precondition/metric_index", lambda a: a[::-1]),
        "'precondition/metric_index': the dataset does not match the model's parameter",
    ),
    "draws deleted": (_delete("draws"), "'draws': the dataset is missing"),
    "init deleted": (_delete("init"), "'init': the dataset is missing"),
    "stats entry deleted": (_delete("stats/lp"), "'stats/lp': the dataset is missing"),
    "carry leaf deleted": (_delete("carry/012"), "n_carry is 13, but"),
    "carry group deleted": (_delete("carry"), "n_carry is 13, but"),
    "stats entry added": (
        lambda f: f.create_dataset("stats/extra", data=np.zeros((2, 40))).attrs.create(
            "sha256", _digest(np.zeros((2, 40)))
        ),
        "'stats/extra': the dataset does not belong",
    ),
    "stray dataset": (
        lambda f: f.create_dataset("notes", data=np.zeros(3)).attrs.create(
            "sha256", _digest(np.zeros(3))
        ),
        "'notes': the dataset does not belong",
    ),
}


@pytest.mark.parametrize(("edit", "match"), RESEALED.values(), ids=RESEALED.keys())
def test_a_rewritten_checkpoint_with_recomputed_checksums_is_refused_by_name(
    saved_run, tmp_path, edit, match
):
    """A file rewritten with consistent checksums (another shape, a deleted or stray
    dataset, an impossible phase or step count) is refused with a DataError naming the
    file and what is wrong, never a traceback from inside JAX or a wrong run."""
    path = _tampered(saved_run[2], tmp_path, edit)
    _refused(saved_run, path, sd.DataError, match)


def test_a_rewritten_configuration_or_fingerprint_is_a_configuration_error(saved_run, tmp_path):
    """Where the resealed file really was written for another run, it says which."""
    with h5py.File(saved_run[2], "r") as f:
        config = json.loads(f.attrs["config"])
    path = _tampered(
        saved_run[2], tmp_path, _set("config", json.dumps(config | {"num_samples": 50}))
    )
    _refused(saved_run, path, sd.ConfigError, "num_samples: saved 50, now 40")
    path = _tampered(saved_run[2], tmp_path, _set("fingerprint", "0" * 64))
    _refused(saved_run, path, sd.ConfigError, "different model")


@pytest.mark.parametrize(
    "name",
    [
        *("format", "version", "fingerprint", "config", "phase", "done", "seconds"),
        *("n_carry", "extensions", "sha256"),
    ],
)
def test_a_checkpoint_without_an_attribute_names_it(saved_run, tmp_path, name):
    path = _tampered(saved_run[2], tmp_path, _delete(name), reseal=False)
    match = "not an sndust checkpoint" if name == "format" else f"no '{name}' attribute"
    _refused(saved_run, path, sd.DataError, match)


def test_a_checkpoint_of_an_older_format_says_to_start_a_new_run(saved_run, tmp_path):
    path = _tampered(saved_run[2], tmp_path, _set("version", 1), reseal=False)
    _refused(saved_run, path, sd.DataError, "version 1, expected 2 or 3: .* start a new run")


def test_a_damaged_checkpoint_never_gives_a_raw_traceback(saved_run, tmp_path, monkeypatch):
    """Bytes flipped anywhere (HDF5 metadata included): loading and checking the file
    either succeeds or raises a DataError naming it; so does an h5py error on a group."""
    model, sampler, path = saved_run
    data = path.read_bytes()
    with h5py.File(path, "r") as f:
        fingerprint, config = f.attrs["fingerprint"], json.loads(f.attrs["config"])
    damaged = tmp_path / "damaged.h5"
    for offset in np.random.default_rng(0).choice(len(data), 60, replace=False):
        damaged.write_bytes(data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :])
        try:
            Checkpoint.load(damaged, fingerprint, config).check_run(sampler, model, 2, False)
        except sd.DataError as err:
            assert str(damaged) in str(err), err
    for error in (OSError, KeyError, TypeError):

        def broken(self, *args, error=error):
            raise error("damaged group")

        monkeypatch.setattr(h5py.Group, "visititems", broken)
        _refused(saved_run, path, sd.DataError, f"cannot read the checkpoint \\({error.__name__}")


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
