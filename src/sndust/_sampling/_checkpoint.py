"""HDF5 checkpoints of a sampling run.

One file holds everything needed to continue: the starting points, the sampler's carry
(chain states and adaptation state, or tuned parameters), how many warm-up and sampling
steps are done, and every draw and statistic so far. It is rewritten after each batch to
a temporary file in the same folder, flushed to disk and renamed over the old one, so a
run killed at any moment leaves the previous complete checkpoint.

Each dataset carries a SHA-256 of its bytes, and the file one more (its ``sha256``
attribute) over every other attribute (phase, steps done, fingerprint, configuration, …)
and every dataset's name and digest, so an edited attribute or a dataset added, removed
or replaced is detected as well as a truncated or corrupted file. The fingerprint covers
the model (every array of the prepared survey, SED and population, and the static
layout), the configuration the sampler settings, chains, start and key: loading refuses
a file whose fingerprint or configuration differs and names the settings that differ.
The checksums are not a signature (whoever rewrites a file can recompute them), so a
run also checks, before it uses anything, that the phase, the steps done and the shape
of every array are those the model and run give (:meth:`Checkpoint.check_run`,
:meth:`Checkpoint.check_carry`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

import equinox as eqx
import h5py
import jax
import numpy as np

from .._errors import ConfigError, DataError, SndustError

__all__ = ["Checkpoint", "model_fingerprint"]

FORMAT = "sndust-checkpoint"
#: 2: the file-level checksum (``sha256`` attribute); version-1 files are refused.
#: 3: the warm-up extensions begun (``extensions``) and the warm-up's hyperparameters
#: (``warmup_stats/hyper``); a version-2 run resumes, and goes on, without them
VERSION = 3
_READABLE = (2, 3)

#: the file's attributes, all required (``extensions`` from version 3); ``sha256`` is the
#: checksum over the others
_ATTRIBUTES = ("format", "version", "fingerprint", "config", "phase", "done", "seconds")
_ATTRIBUTES += ("n_carry", "extensions", "sha256")
_PHASES = ("warmup", "sampling")
_GROUPS = ("precondition", "carry", "stats", "warmup_stats")


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


def _plain(value):
    """An attribute as read by h5py in plain Python (NumPy scalars and arrays as lists)."""
    return value.tolist() if isinstance(value, np.ndarray | np.generic) else value


def _integer(value) -> int | None:
    """``value`` as an int if it is an integer scalar (not a bool), else None."""
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    return None


def _datasets(f) -> dict:
    """Every dataset of the file (full name, no leading slash) → its ``sha256`` attribute."""
    found = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            found[name] = _plain(obj.attrs.get("sha256"))

    f.visititems(visit)
    return found


def _file_digest(f) -> str:
    """SHA-256 over every attribute of the file but ``sha256`` (where it is stored) and
    the name and digest of every dataset: an edited ``done`` or ``phase``, or a dataset
    added, removed or replaced, fails it."""
    attrs = {name: _plain(value) for name, value in f.attrs.items() if name != "sha256"}
    text = json.dumps({"attributes": attrs, "datasets": _datasets(f)}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


@contextlib.contextmanager
def _reading(path):
    """What h5py raises on a damaged file (a group it cannot open, an attribute of the
    wrong type, …) as a DataError naming the file."""
    try:
        yield
    except SndustError:
        raise
    except (OSError, KeyError, RuntimeError, TypeError, ValueError) as err:
        raise DataError(
            f"cannot read the checkpoint ({type(err).__name__}: {err}): the file is damaged",
            file=path,
        ) from None


class _Spec(NamedTuple):
    """What a dataset must be: its shape, a dtype (or an abstract one such as
    ``np.integer``; None: any) and, where fixed, its values."""

    shape: tuple
    dtype: type | np.dtype | None = None
    values: np.ndarray | None = None


class Checkpoint:
    """In-memory image of a checkpoint file (see module docstring).

    Attributes:
        path: the HDF5 file.
        init: starting points ``(chains, dim)``.
        precondition: the arrays of the whitening map (see ``_precondition``) and of the
            starting metric (``metric_*``, see ``_metric``).
        phase: ``"warmup"`` or ``"sampling"``.
        done: steps done in that phase (warm-up: kernel steps, extensions included;
            sampling: draws kept).
        extensions: the warm-up extensions begun (``sampler.extension()`` each).
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
        self.extensions = 0
        self.version = VERSION
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
                f.attrs["version"] = self.version  # (a version-2 run resumed stays one)
                f.attrs["fingerprint"] = self.fingerprint
                f.attrs["config"] = json.dumps(self.config, sort_keys=True)
                f.attrs["phase"] = self.phase
                f.attrs["done"] = self.done
                f.attrs["extensions"] = self.extensions
                f.attrs["seconds"] = json.dumps(self.seconds)
                f.attrs["n_carry"] = len(self.carry or [])
                for name, a in self._arrays().items():
                    ds = f.create_dataset(name, data=np.asarray(a))
                    ds.attrs["sha256"] = _digest(np.asarray(a))
                f.attrs["sha256"] = _file_digest(f)  # last: over everything above
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def _arrays(self) -> dict:
        """Every array held, by its dataset name in the file."""
        out = {} if self.init is None else {"init": self.init}
        out |= {f"precondition/{name}": a for name, a in self.precondition.items()}
        out |= {f"carry/{i:03d}": leaf for i, leaf in enumerate(self.carry or [])}
        out |= {} if self.draws is None else {"draws": self.draws}
        out |= {f"stats/{name}": a for name, a in self.stats.items()}
        out |= {f"warmup_stats/{name}": a for name, a in self.warmup_stats.items()}
        return out

    # ------------------------------------------------------------------ read
    @classmethod
    def load(cls, path, fingerprint: str, config: dict, inherit=()) -> Checkpoint:
        """Read and verify ``path``; refuse another model/configuration or a damaged or
        edited file. ``inherit``: settings taken from the file instead of compared (a
        resume that leaves the starts to the checkpoint)."""
        path = Path(path)
        try:
            f = h5py.File(path, "r")
        except OSError as err:
            raise DataError(
                f"cannot read the checkpoint (truncated or not an HDF5 file): {err}", file=path
            ) from None
        with f, _reading(path):
            attrs = cls._attributes(f, path)
            if attrs["fingerprint"] != fingerprint:
                raise ConfigError(
                    "the checkpoint was written for a different model (survey data, SED, "
                    "population or layout differ); start a new checkpoint file",
                    file=path,
                    field="model",
                )
            saved = attrs["config"]
            if attrs["version"] == 2:  # begun before warm-up extensions: it goes on without
                saved = saved | {"extend_warmup": 0}
                inherit = (*inherit, "extend_warmup")
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
            out.phase, out.done, out.seconds = attrs["phase"], attrs["done"], attrs["seconds"]
            out.extensions, out.version = attrs["extensions"], attrs["version"]
            carry = {}
            for name in sorted(_datasets(f)):
                a = cls._get(f, name, path)
                group, _, key = name.partition("/")
                if name in ("init", "draws"):
                    setattr(out, name, a)
                elif group in _GROUPS and key:
                    (carry if group == "carry" else getattr(out, group))[key] = a
                else:
                    raise DataError(
                        "the dataset does not belong in a checkpoint", file=path, field=name
                    )
            names = [f"{i:03d}" for i in range(attrs["n_carry"])]
            if sorted(carry) != names:
                raise DataError(
                    f"n_carry is {attrs['n_carry']}, but the file holds the carry datasets "
                    f"{sorted(carry)}",
                    file=path,
                    field="n_carry",
                )
            out.carry = [carry[name] for name in names] or None
        return out

    @staticmethod
    def _attributes(f, path) -> dict:
        """The file's attributes, once they pass the file-level checksum and each holds a
        value a run can continue from."""
        if _plain(f.attrs.get("format")) != FORMAT:
            raise DataError("not an sndust checkpoint (no 'format' attribute)", file=path)
        if "version" not in f.attrs:
            raise DataError("the checkpoint has no 'version' attribute", file=path, field="version")
        version = _integer(f.attrs["version"])
        if version not in _READABLE:
            raise DataError(
                f"checkpoint format version {_plain(f.attrs['version'])!r}, expected "
                f"{' or '.join(map(str, _READABLE))}: "
                "it was written by another version of sndust and cannot be resumed; start a "
                "new run (delete the file or choose another checkpoint path)",
                file=path,
                field="version",
            )
        for name in _ATTRIBUTES:
            if name == "extensions" and version == 2:
                continue
            if name not in f.attrs:
                raise DataError(
                    f"the checkpoint has no {name!r} attribute: the file was edited or is corrupt",
                    file=path,
                    field=name,
                )
        if _plain(f.attrs["sha256"]) != _file_digest(f):
            raise DataError(
                "the checkpoint's attributes fail their checksum: the file was edited or is "
                "corrupt",
                file=path,
            )
        attrs = {name: _plain(f.attrs.get(name, 0)) for name in _ATTRIBUTES}
        attrs["version"] = version
        if attrs["phase"] not in _PHASES:
            raise DataError(
                f"phase must be 'warmup' or 'sampling', found {attrs['phase']!r}",
                file=path,
                field="phase",
            )
        for name in ("done", "n_carry", "extensions"):
            value = _integer(f.attrs.get(name, 0))
            if value is None or value < 0:
                raise DataError(
                    f"{name} must be an integer ≥ 0, found {attrs[name]!r}", file=path, field=name
                )
            attrs[name] = value
        if not isinstance(attrs["fingerprint"], str):
            raise DataError("the fingerprint is not a string", file=path, field="fingerprint")
        for name in ("config", "seconds"):
            try:
                attrs[name] = json.loads(attrs[name])
            except (TypeError, ValueError):
                attrs[name] = None
            if not isinstance(attrs[name], dict):
                raise DataError(f"{name} is not a JSON object", file=path, field=name)
        seconds = attrs["seconds"]
        if any(
            isinstance(seconds.get(p), bool) or not isinstance(seconds.get(p), int | float)
            for p in _PHASES
        ):
            raise DataError(
                f"seconds must give the seconds of each phase, found {seconds!r}",
                file=path,
                field="seconds",
            )
        return attrs

    @staticmethod
    def _get(f, name, path):
        try:
            ds = f[name]
            a = np.asarray(ds[()])
            sha256 = _plain(ds.attrs.get("sha256"))
        except (OSError, KeyError, RuntimeError, TypeError, ValueError) as err:
            raise DataError(f"the dataset is unreadable: {err}", file=path, field=name) from None
        if sha256 != _digest(a):
            raise DataError(
                "the dataset fails its checksum: the file is corrupt", file=path, field=name
            )
        if a.dtype.kind not in "biuf":
            raise DataError(f"expected numbers, found dtype {a.dtype}", file=path, field=name)
        return a

    # ------------------------------------------------------------------ check
    def check_run(self, sampler, model, chains: int, whitened: bool) -> None:
        """Refuse a checkpoint this run cannot continue from: ``done`` beyond the steps
        of its phase, or an array (all but the carry: :meth:`check_carry`) whose shape
        is not the one the model, the sampler and ``done`` give, e.g. draws of another
        length or starts of another dimension (with its checksums recomputed, such a file
        would otherwise end in a broadcasting error deep inside JAX). ``whitened``: the
        run samples in whitened coordinates (``precondition=True``)."""
        from ._driver import warmup_segments

        allowed = self.config.get("extend_warmup", 0)
        if not self.extensions <= allowed:
            raise DataError(
                f"{self.extensions} warm-up extensions begun, beyond the {allowed} allowed",
                file=self.path,
                field="extensions",
            )
        segments = warmup_segments(sampler, self.extensions)
        stages = [stage for segment in segments for stage in segment]
        warmup = sum(stage.steps for stage in stages)
        limit = {"warmup": warmup, "sampling": sampler.num_samples}[self.phase]
        if not self.done <= limit:
            unit = "kernel steps" if self.phase == "warmup" else "draws"
            raise DataError(
                f"done = {self.done} is beyond the {limit} {unit} of the {self.phase} phase",
                file=self.path,
                field="done",
            )
        dtype = np.dtype(model.prepared.obs_fluxcal.dtype)
        index, hyper = model.layout.per_sn_index(), model.layout.hyper_index()
        (n_sn, d), h, dim = index.shape, hyper.size, model.dim
        expected = {
            "init": _Spec((chains, dim), dtype),
            "precondition/metric_chol": _Spec((n_sn, d, d), dtype),
            "precondition/metric_hyper_var": _Spec((h,), dtype),
            "precondition/metric_index": _Spec(index.shape, np.integer, index),
            "precondition/metric_hyper_index": _Spec(hyper.shape, np.integer, hyper),
        }
        for name in self.config.get("informed", []):  # the informed coordinates' anchors
            expected |= {
                f"precondition/anchor_{name}_{p}": _Spec((n_sn,), dtype) for p in ("loc", "prec")
            }
        if whitened:
            expected |= {
                "precondition/center": _Spec((dim,), dtype),
                "precondition/chol": _Spec((n_sn, d, d), dtype),
                "precondition/gain": _Spec((n_sn, d, h), dtype),
                "precondition/hyper_chol": _Spec((h, h), dtype),
                "precondition/index": _Spec(index.shape, np.integer, index),
                "precondition/hyper_index": _Spec(hyper.shape, np.integer, hyper),
            }
        # warm-up statistics: one per slot of ``thin`` steps; batches never cross a stage
        done = self.done if self.phase == "warmup" else warmup
        n_warmup, start = 0, 0
        for stage in stages:
            n_warmup += -(-min(max(done - start, 0), stage.steps) // sampler.thin)
            start += stage.steps
        n_draws = self.done if self.phase == "sampling" else 0
        if n_draws:
            expected["draws"] = _Spec((chains, n_draws, dim), dtype)
        for group, n in (("stats", n_draws), ("warmup_stats", n_warmup)):
            expected |= {f"{group}/{k}": _Spec((chains, n)) for k in sampler.Stats._fields if n}
        if n_warmup and self.version > 2:  # (version 2 kept no warm-up hyperparameters)
            expected["warmup_stats/hyper"] = _Spec((chains, n_warmup, h), dtype)
        self._compare(expected, ("init", "precondition", "draws", "stats", "warmup_stats"))

    def check_carry(self, carry) -> None:
        """Refuse a saved carry unlike ``carry``, the one the sampler builds at the
        run's start (same leaves, shapes and dtypes); none is saved before the first
        warm-up batch."""
        leaves = jax.tree_util.tree_leaves(carry)
        expected = {
            f"carry/{i:03d}": _Spec(tuple(a.shape), np.dtype(a.dtype))
            for i, a in enumerate(leaves)
            if self.phase != "warmup" or self.done > 0
        }
        self._compare(expected, ("carry",))

    def _compare(self, expected: dict, groups) -> None:
        """Every dataset of ``groups`` as ``expected`` says (name → :class:`_Spec`), and
        no other."""
        found = {k: a for k, a in self._arrays().items() if k.partition("/")[0] in groups}
        for name in sorted(found.keys() - expected.keys()):
            raise DataError(
                f"the dataset does not belong in a checkpoint at phase {self.phase!r}, "
                f"done {self.done}",
                file=self.path,
                field=name,
            )
        for name, (shape, dtype, values) in expected.items():
            if name not in found:
                raise DataError("the dataset is missing", file=self.path, field=name)
            a = np.asarray(found[name])
            if a.shape != shape:
                raise DataError(
                    f"expected shape {shape}, found {a.shape}",
                    file=self.path,
                    field=name,
                )
            if dtype is not None and not np.issubdtype(a.dtype, dtype):
                kind = dtype.__name__ if isinstance(dtype, type) else dtype
                raise DataError(
                    f"expected dtype {kind}, found {a.dtype}",
                    file=self.path,
                    field=name,
                )
            if values is not None and not np.array_equal(a, values):
                raise DataError(
                    "the dataset does not match the model's parameter layout",
                    file=self.path,
                    field=name,
                )
