"""HDF5 checkpoints of a sampling run.

One file holds everything needed to continue: the starting points, the sampler's carry
(chain states and adaptation state, or tuned parameters), how many warm-up and sampling
steps are done, and every draw and statistic so far. It is rewritten after each batch to
a temporary file in the same folder, flushed to disk and renamed over the old one, so a
run killed at any moment leaves the previous complete checkpoint.

Each dataset carries a SHA-256 of its bytes; the file also records a fingerprint of the
model (every array of the prepared survey, SED and population, and the static layout) and
the run's configuration (sampler settings, chains, start, key). Loading refuses a file
whose fingerprint or configuration differs, names the settings that differ, and detects a
truncated or corrupted file instead of loading it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import equinox as eqx
import h5py
import jax
import numpy as np

from .._errors import ConfigError, DataError

__all__ = ["Checkpoint", "model_fingerprint"]

FORMAT = "sndust-checkpoint"
VERSION = 1


def model_fingerprint(model) -> str:
    """SHA-256 over the model's static structure and the bytes of every array."""
    arrays, static = eqx.partition(model, eqx.is_array)
    h = hashlib.sha256()
    h.update(type(model).__qualname__.encode())
    h.update(str(jax.tree_util.tree_structure(arrays)).encode())
    h.update(repr(getattr(model, "layout", "")).encode())
    h.update(repr(getattr(model, "snid", "")).encode())
    h.update(repr(getattr(model, "distance_coordinate", "")).encode())  # what x means
    for leaf in jax.tree_util.tree_leaves(arrays):
        a = np.asarray(leaf)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(
        f"{a.dtype}{a.shape}".encode() + np.ascontiguousarray(a).tobytes()
    ).hexdigest()


class Checkpoint:
    """In-memory image of a checkpoint file (see module docstring).

    Attributes:
        path: the HDF5 file.
        init: starting points ``(chains, dim)``.
        precondition: the arrays of the whitening map (see ``_precondition``) and of the
            starting metric (``metric_*``, see ``_metric``).
        phase: ``"warmup"`` or ``"sampling"``.
        done: steps done in that phase.
        carry: flat list of the sampler carry's arrays (chain axis first), or None.
        draws: ``(chains, n, dim)`` kept draws; stats: name → ``(chains, n)``.
        warmup_stats: name → ``(chains, n)`` warm-up statistics.
    """

    def __init__(self, path, fingerprint: str, config: dict):
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.config = config
        self.init = None
        self.precondition: dict[str, np.ndarray] = {}
        self.phase = "warmup"
        self.done = 0
        self.carry = None
        self.draws = None
        self.stats: dict[str, np.ndarray] = {}
        self.warmup_stats: dict[str, np.ndarray] = {}
        self.seconds = {"warmup": 0.0, "sampling": 0.0}

    # ------------------------------------------------------------------ write
    def save(self) -> None:
        """Write atomically: temporary file in the same folder, fsync, rename."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        os.close(fd)
        try:
            with h5py.File(tmp, "w") as f:
                f.attrs["format"] = FORMAT
                f.attrs["version"] = VERSION
                f.attrs["fingerprint"] = self.fingerprint
                f.attrs["config"] = json.dumps(self.config, sort_keys=True)
                f.attrs["phase"] = self.phase
                f.attrs["done"] = self.done
                f.attrs["seconds"] = json.dumps(self.seconds)
                self._put(f, "init", self.init)
                for name, a in self.precondition.items():
                    self._put(f, f"precondition/{name}", a)
                for i, leaf in enumerate(self.carry or []):
                    self._put(f, f"carry/{i:03d}", leaf)
                f.attrs["n_carry"] = len(self.carry or [])
                if self.draws is not None:
                    self._put(f, "draws", self.draws)
                for name, a in self.stats.items():
                    self._put(f, f"stats/{name}", a)
                for name, a in self.warmup_stats.items():
                    self._put(f, f"warmup_stats/{name}", a)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    @staticmethod
    def _put(f, name, a):
        a = np.asarray(a)
        ds = f.create_dataset(name, data=a)
        ds.attrs["sha256"] = _digest(a)

    # ------------------------------------------------------------------ read
    @classmethod
    def load(cls, path, fingerprint: str, config: dict, inherit=()) -> Checkpoint:
        """Read and verify ``path``; refuse another model/configuration or a damaged file.
        ``inherit``: settings taken from the file instead of compared (a resume that
        leaves the starts to the checkpoint)."""
        path = Path(path)
        try:
            f = h5py.File(path, "r")
        except OSError as err:
            raise DataError(
                f"cannot read the checkpoint (truncated or not an HDF5 file): {err}", file=path
            ) from None
        with f:
            if f.attrs.get("format") != FORMAT:
                raise DataError("not an sndust checkpoint (no 'format' attribute)", file=path)
            if int(f.attrs["version"]) != VERSION:
                raise DataError(
                    f"checkpoint format version {f.attrs['version']}, expected {VERSION}",
                    file=path,
                )
            if f.attrs["fingerprint"] != fingerprint:
                raise ConfigError(
                    "the checkpoint was written for a different model (survey data, SED, "
                    "population or layout differ); start a new checkpoint file",
                    file=path,
                    field="model",
                )
            saved = json.loads(f.attrs["config"])
            config = config | {k: saved.get(k) for k in inherit}
            differ = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
            if differ:
                parts = [f"{k}: saved {saved.get(k)!r}, now {config.get(k)!r}" for k in differ]
                raise ConfigError(
                    "the checkpoint was written with a different configuration — "
                    + "; ".join(parts),
                    file=path,
                    field=differ[0],
                )
            out = cls(path, fingerprint, config)
            out.phase = str(f.attrs["phase"])
            out.done = int(f.attrs["done"])
            out.seconds = json.loads(f.attrs["seconds"])
            out.init = cls._get(f, "init", path)
            for name in f.get("precondition", {}):
                out.precondition[name] = cls._get(f, f"precondition/{name}", path)
            out.carry = [cls._get(f, f"carry/{i:03d}", path) for i in range(f.attrs["n_carry"])]
            out.carry = out.carry or None
            if "draws" in f:
                out.draws = cls._get(f, "draws", path)
            for group, target in (("stats", out.stats), ("warmup_stats", out.warmup_stats)):
                for name in f.get(group, {}):
                    target[name] = cls._get(f, f"{group}/{name}", path)
        return out

    @staticmethod
    def _get(f, name, path):
        try:
            ds = f[name]
            a = ds[()]
        except (OSError, KeyError, RuntimeError) as err:
            raise DataError(f"dataset {name!r} is unreadable: {err}", file=path) from None
        if ds.attrs.get("sha256") != _digest(np.asarray(a)):
            raise DataError(f"dataset {name!r} fails its checksum: the file is corrupt", file=path)
        return np.asarray(a)
