"""What ``sndust fit`` and ``sndust simulate`` promise when things go wrong: an interrupted
default fit resumes to the draws of the uninterrupted run, a used output folder is never
overwritten without being asked, a hostile configuration is refused quickly, and every
failure is one line naming the problem -- never a Python traceback."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import sndust

import sndust as sd
from sndust import ConfigError
from sndust._app._cli import main
from sndust._app._config import load_config

# a default fit (MAP start, NUTS, checkpointed) of a small simulated survey, slow enough
# to be interrupted part-way: a checkpoint every two steps
FIT = {
    "survey.simulate.n_sn": 4,
    "sampler.chains": 2,
    "sampler.warmup": 60,
    "sampler.samples": 300,
    "sampler.batch": 2,
    "sampler.options.max_tree_depth": 4,
    "output.plots": "false",
}


@pytest.fixture(autouse=True)
def _keep_xla_flags(monkeypatch):
    """``main`` sets XLA_FLAGS for the chains; restore them after each test."""
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))


def sets(out: Path, **more) -> list[str]:
    items = FIT | {"output.dir": str(out)} | more
    return [word for key, value in items.items() for word in ("--set", f"{key}={value}")]


def one_line(stderr: str) -> str:
    """The whole of stderr: one ``sndust:`` line, no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sndust:"), stderr
    return lines[0]


def draws(folder: Path) -> dict[str, np.ndarray]:
    post = sd.Posterior.from_netcdf(folder / "demo.nc").posterior
    return {name: post[name].values for name in post.data_vars}


def _as_from_a_terminal() -> None:
    """In the child before exec: SIGINT with its default disposition and unblocked, as a
    shell gives it to a command (a test worker's own signal state is not inherited)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt(folder: Path, sig: int, phase: str, at: int) -> subprocess.CompletedProcess:
    """Start the fit, send ``sig`` once its checkpoint reached ``at`` steps of ``phase``."""
    cmd = [sys.executable, "-m", "sndust", "fit", "demo", *sets(folder), "--quiet"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=_as_from_a_terminal,
    )  # fmt: skip
    checkpoint, deadline = folder / "demo.h5", time.monotonic() + 500
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with h5py.File(checkpoint, "r") as f:
                reached = f.attrs["phase"] == phase and int(f.attrs["done"]) >= at
        except (OSError, KeyError):
            reached = False
        if reached:
            proc.send_signal(sig)
            break
        time.sleep(0.02)
    out, err = proc.communicate(timeout=120)
    assert reached, f"the run ended before its checkpoint reached {phase} {at}: {err[-2000:]}"
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted default fit."""
    out = tmp_path_factory.mktemp("reference")
    proc = sndust("fit", "demo", *sets(out), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_default_fit_killed_then_resumed_gives_the_same_draws(reference, tmp_path):
    """SIGKILL during sampling (no chance to clean up), then ``--resume``: bit for bit."""
    proc = interrupt(tmp_path, signal.SIGKILL, "sampling", 20)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "demo.nc").exists()
    resumed = sndust("fit", "demo", *sets(tmp_path), "--quiet", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ref, got = draws(reference), draws(tmp_path)
    assert ref.keys() == got.keys()
    for name in ref:
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)


def test_ctrl_c_says_how_to_resume_and_that_resume_gives_the_same_draws(reference, tmp_path):
    """SIGINT during warm-up: exit 130, one line naming the checkpoint and the command
    that continues it; that command gives the uninterrupted run's draws."""
    proc = interrupt(tmp_path, signal.SIGINT, "warmup", 10)
    here = (signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, []))
    assert proc.returncode == 130, (here, proc.stderr[-3000:])
    line = one_line(proc.stderr)
    assert str(tmp_path / "demo.h5") in line and line.rstrip().endswith("--resume"), line
    command = shlex.split(line.split("continue it with ", 1)[1])
    assert command[:3] == ["sndust", "fit", "demo"]
    resumed = sndust(*command[1:])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ref, got = draws(reference), draws(tmp_path)
    for name in ref:
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    "extra, says",
    [
        ([], "holds the results of an earlier run (demo.nc, demo.h5, distances.FITRES"),
        (["--set", "sampler.method=MAP", "--set", "sampler.options={}"], "an earlier run"),
        (["--set", "output.checkpoint=false"], "pass --overwrite to replace them"),
        (["--resume", "--set", "sampler.samples=200"], "saved 300, now 200"),
        (["--resume", "--overwrite"], "--resume and --overwrite exclude each other"),
    ],
    ids=["again", "map", "no-checkpoint", "resume-other-config", "resume-and-overwrite"],
)
def test_a_used_folder_is_refused_and_left_byte_for_byte(reference, extra, says, capsys):
    before = digests(reference)
    assert main(["fit", "demo", *sets(reference), "--quiet", *extra]) == 2
    line = one_line(capsys.readouterr().err)
    assert says in line, line
    assert digests(reference) == before


@pytest.mark.parametrize(
    "tamper, says",
    [
        (lambda f: f.attrs.__setitem__("done", 7), "fail their checksum"),
        (lambda f: f.attrs.__delitem__("phase"), "'phase'"),
        (lambda f: f.__delitem__("draws"), "fail their checksum"),
    ],
    ids=["done-edited", "phase-deleted", "draws-deleted"],
)
def test_a_tampered_checkpoint_is_one_line_naming_it(reference, tmp_path, tamper, says, capsys):
    folder = tmp_path / "copy"
    shutil.copytree(reference, folder)
    with h5py.File(folder / "demo.h5", "r+") as f:
        tamper(f)
    line = one_line_exit(["fit", "demo", *sets(folder), "--quiet", "--resume"], capsys, says)
    assert str(folder / "demo.h5") in line, line


def test_overwrite_replaces_an_earlier_run(tmp_path, capsys):
    """``--overwrite`` replaces the earlier run's files (a MAP fit: fast)."""
    map_fit = {"sampler.method": "MAP", "sampler.options": "{}", "sampler.map_starts": 1}
    args = ["fit", "demo", *sets(tmp_path, **map_fit), "--quiet"]
    (tmp_path / "distances.FITRES").write_text("an earlier run's table\n")
    (tmp_path / "corner.png").write_bytes(b"an earlier figure")
    one_line_exit(args, capsys, "holds the results of an earlier run (distances.FITRES, corner")
    assert main([*args, "--overwrite"]) == 0, capsys.readouterr().err
    assert not (tmp_path / "corner.png").exists()  # plots are off: the old figure is gone
    assert len(sd.read_fitres(tmp_path / "distances.FITRES")) == 4


BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi")
)


def test_a_yaml_alias_bomb_is_refused_in_a_second_and_100_mb(tmp_path):
    """Nine lines whose aliases expand to 9⁹ strings: refused before anything expands."""
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    assert len(BOMB) < 1000
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="expands to more than 100,000 values") as info:
        load_config(path, "fit")
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 1.0 and peak < 100e6, (seconds, peak)
    assert info.value.file == str(path)


@pytest.mark.parametrize(
    "text, says",
    [
        ("survey: &s\n  path: [*s]\n", "bomb.yaml:1: an alias refers to a node that contains it"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
    ids=["recursive", "deep"],
)
def test_self_referring_or_deeply_nested_yaml_is_refused(tmp_path, text, says):
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=says):
        load_config(path, "fit")


def test_an_alias_bomb_on_the_command_line_is_refused():
    cfg = load_config("demo", "fit", ["survey.simulate.hyper={mu_R: &m 2.5, sigma_R: *m}"])
    assert cfg["survey"]["simulate"]["hyper"] == {"mu_R": 2.5, "sigma_R": 2.5}  # aliases work
    bomb = BOMB.replace("\n", ", ").rstrip(", ")
    with pytest.raises(ConfigError, match="command line, field 'survey.simulate.hyper'"):
        load_config("demo", "fit", ["survey.simulate.hyper={" + bomb + "}"])


def one_line_exit(args, capsys, says: str) -> str:
    """``sndust ARGS`` in this process exits 2 with one line saying ``says``."""
    assert main(args) == 2
    line = one_line(capsys.readouterr().err)
    assert says in line, line
    return line


def test_an_unusable_output_folder_is_one_line(tmp_path, capsys):
    file = tmp_path / "a_file"
    file.write_text("not a folder")
    for out, says in (
        (file, f"{file} is a file, not a folder"),
        (file / "below", f"cannot write in {file / 'below'}"),
        (Path("/proc/sndust-run"), "cannot write in /proc/sndust-run"),
    ):
        one_line_exit(["fit", "demo", *sets(out), "--quiet"], capsys, says)
        one_line_exit(
            ["simulate", "simulate_foundation", "--set", f"output.dir={out}", "--quiet"],
            capsys,
            says,
        )
    assert file.read_text() == "not a folder"


@pytest.mark.parametrize(
    "key, value, says",
    [
        ("sampler.seed", 2**64, "expected a value <= 4294967295"),
        ("sampler.seed", 2**32, "expected a value <= 4294967295"),  # would alias seed 0
        ("sampler.seed", -1, "expected a value >= 0"),
        ("survey.simulate.seed", 10**30, "expected a value <= 4294967295"),
        ("sampler.samples", 10**12, "expected a value <= 2147483647"),
        ("sampler.warmup", 2**31, "expected a value <= 2147483647"),
    ],
)
def test_numbers_out_of_range_are_refused_by_the_configuration(key, value, says, capsys):
    one_line_exit(["fit", "demo", "--set", f"{key}={value}"], capsys, f"field '{key}': {says}")


def test_draws_that_cannot_fit_in_memory_are_refused_before_sampling(tmp_path, capsys):
    args = ["fit", "demo", *sets(tmp_path, **{"sampler.samples": 2**31 - 1}), "--quiet"]
    one_line_exit(args, capsys, "field 'sampler.samples'")
    assert not any(p.suffix in (".h5", ".nc") for p in tmp_path.iterdir())


def test_summarize_refuses_another_tools_netcdf_naming_the_file(tmp_path, capsys):
    import arviz as az

    path = tmp_path / "other.nc"
    az.from_dict({"posterior": {"x": np.zeros((2, 5))}}).to_netcdf(str(path), engine="h5netcdf")
    one_line_exit(["summarize", str(path)], capsys, f"{path}: not written by sndust")


def test_a_refusal_from_the_command_line_has_no_traceback(tmp_path):
    """The same checks, end to end in a fresh process (stderr is one line)."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    proc = sndust("fit", str(bomb), timeout=300)
    assert proc.returncode == 2
    assert "expands to more than" in one_line(proc.stderr)
