"""Shared fixtures. The whole suite runs in float64 (parity with bayesn) unless a test
asks for float32 explicitly; this is set here, once, never by importing sndust."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)

# One persistent XLA compilation cache for the whole run: the test processes, the
# subprocesses they start (checkpoint kills, fake devices, the CLI, notebook kernels)
# and both xdist workers compile many identical programs; each is compiled once.
# Set SNDUST_TEST_JAX_CACHE= (empty) to turn it off.
_CACHE = os.environ.get("SNDUST_TEST_JAX_CACHE", str(Path(__file__).parent / ".cache" / "jax"))
if _CACHE:
    for name, value in (
        ("JAX_COMPILATION_CACHE_DIR", _CACHE),
        ("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", 0.2),
        ("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", 0),
    ):
        os.environ.setdefault(name, str(value))  # for subprocesses
        jax.config.update(name.lower(), value)  # jax is imported already

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SNDUST_SHARED", REPO.parent / "shared"))
FOUNDATION = SHARED / "data" / "foundation_dr1"
MODELS = ("T21", "W22", "M20")
REFERENCE_SEED = 20261122  # make_bayesn_reference.py's default --seed
SCRIPT = Path(__file__).parent / "reference" / "make_bayesn_reference.py"
SCRIPT_G25 = Path(__file__).parent / "reference" / "make_bayesn_reference_g25.py"


@contextlib.contextmanager
def count_compiles(*names):
    """Counts XLA compilations of the jitted functions ``names`` in the block (JAX's
    in-memory caches cleared first; ``jax_log_compiles``): yields a dict name -> count."""
    counts = dict.fromkeys(names, 0)

    class Handler(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            for name in names:
                if "Finished XLA compilation" in message and f"jit({name})" in message:
                    counts[name] += 1

    jax.clear_caches()
    handler, logger = Handler(), logging.getLogger("jax")
    logger.addHandler(handler)
    try:
        with jax.log_compiles(True):
            yield counts
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope="session")
def foundation_dir() -> Path:
    if not FOUNDATION.is_dir():
        pytest.fail(f"Foundation DR1 data not found at {FOUNDATION} (set SNDUST_SHARED)")
    return FOUNDATION


@pytest.fixture(scope="session")
def foundation_files(foundation_dir) -> list[Path]:
    return sorted(foundation_dir.glob("Foundation_DR1_*.txt"))


@pytest.fixture(scope="session")
def sed():
    """BayeSN T21 (immutable: one instance serves every test)."""
    import sndust as sd

    return sd.BayeSNModel.load("T21")


def bayesn_env() -> dict:
    """Environment of the bayesn subprocesses. bayesn runs op by op, compiling hundreds
    of small programs once each: with XLA's backend optimisation off they compile faster
    (the T21 reference file: 43 -> 35 s; the log densities of tests/test_model_parity.py:
    56 -> 43 s), and its values agree with the optimised build's to 7e-16 (reference
    files) and 2e-9 (relative; log densities and gradients)."""
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    return dict(os.environ, XLA_FLAGS=flags.strip())


def _cached_reference(out: Path, names, commands) -> Path:
    """``out`` holding ``<name>.npz`` for every name, written by the bayesn subprocesses
    ``commands`` (each a function of the directory to write into) unless already there.

    pytest-xdist workers share the cache: one generates (into a temporary directory,
    renamed when complete), the others wait on the lock and reuse it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all((out / f"{n}.npz").is_file() for n in names):
            tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            procs = [
                subprocess.Popen(
                    command(tmp),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=bayesn_env(),
                )
                for command in commands
            ]
            for label, proc in zip(names, procs):
                _, err = proc.communicate(timeout=1200)
                if proc.returncode != 0:
                    pytest.fail(f"bayesn reference generation for {label} failed:\n{err[-4000:]}")
            shutil.rmtree(out, ignore_errors=True)
            os.replace(tmp, out)
    return out


@pytest.fixture(scope="session")
def bayesn_reference(foundation_dir) -> Path:
    """Directory of <MODEL>.npz written by bayesn; regenerated whenever the script changes."""
    preset = os.environ.get("SNDUST_BAYESN_REF")
    if preset:
        return Path(preset)
    digest = hashlib.sha1(SCRIPT.read_bytes()).hexdigest()[:12]
    out = Path(__file__).parent / ".cache" / f"bayesn_ref_{digest}"
    # one process per model, all at once (each model's seed as in a single run)
    commands = [
        lambda tmp, k=k, name=name: (
            [sys.executable, str(SCRIPT), str(tmp), str(foundation_dir)]
            + ["--models", name, "--seed", str(REFERENCE_SEED + k)]
        )
        for k, name in enumerate(MODELS)
    ]
    return _cached_reference(out, MODELS, commands)


@pytest.fixture(scope="session")
def bayesn_reference_g25() -> Path:
    """``G25_85day.npz`` written by bayesn 0.4.0 from the shipped G25_85day model file
    (tests/reference/make_bayesn_reference_g25.py, ~40 s once); regenerated whenever
    that script, the script it imports from, or the model file changes. Under
    ``SNDUST_BAYESN_REF`` it is read from there when present."""
    preset = os.environ.get("SNDUST_BAYESN_REF")
    if preset and (Path(preset) / "G25_85day.npz").is_file():
        return Path(preset)
    model = REPO / "model_files" / "models" / "G25_85day" / "BAYESN.YAML"
    sha = hashlib.sha1()
    for path in (SCRIPT_G25, SCRIPT, model):
        sha.update(path.read_bytes())
    out = Path(__file__).parent / ".cache" / f"bayesn_ref_g25_{sha.hexdigest()[:12]}"

    def command(tmp):
        return [sys.executable, str(SCRIPT_G25), str(tmp), str(model)]

    return _cached_reference(out, ("G25_85day",), [command])


@pytest.fixture(scope="session")
def small():
    """The 4-SN hierarchical problem shared by the sampling tests: ``(model, truth)``."""
    from helpers import small_model

    return small_model()


# The longest test files first (longest-processing-time order). pytest-xdist's
# ``--dist loadfile`` gives each worker one file, then the next file in collection order
# whenever a worker has two or fewer tests left; alphabetical order used to start
# test_sampling.py late, leaving one worker running it long after the other finished.
_LONGEST_FIRST = (
    "test_recovery.py",
    "test_recovery_adjusted.py",
    "test_sampling.py",
    "test_notebooks.py",
    "test_sbc.py",
    "test_checkpoints.py",
    "test_readme.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: keeps the rest
