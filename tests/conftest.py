"""Shared fixtures. The whole suite runs in float64 (parity with bayesn) unless a test
asks for float32 explicitly; this is set here, once, never by importing sndust."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

jax.config.update("jax_enable_x64", True)

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SNDUST_SHARED", REPO.parent / "shared"))
FOUNDATION = SHARED / "data" / "foundation_dr1"
MODELS = ("T21", "W22", "M20")
SCRIPT = Path(__file__).parent / "reference" / "make_bayesn_reference.py"


@pytest.fixture(scope="session")
def foundation_dir() -> Path:
    if not FOUNDATION.is_dir():
        pytest.fail(f"Foundation DR1 data not found at {FOUNDATION} (set SNDUST_SHARED)")
    return FOUNDATION


@pytest.fixture(scope="session")
def bayesn_reference(foundation_dir) -> Path:
    """Directory of <MODEL>.npz written by bayesn; regenerated whenever the script changes."""
    preset = os.environ.get("SNDUST_BAYESN_REF")
    if preset:
        return Path(preset)
    digest = hashlib.sha1(SCRIPT.read_bytes()).hexdigest()[:12]
    out = Path(__file__).parent / ".cache" / f"bayesn_ref_{digest}"
    if not all((out / f"{m}.npz").is_file() for m in MODELS):
        proc = subprocess.run(
            [sys.executable, str(SCRIPT), str(out), str(foundation_dir), "--models", *MODELS],
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if proc.returncode != 0:
            pytest.fail(f"bayesn reference generation failed:\n{proc.stderr[-4000:]}")
    return out
