"""Where chains and data live: chains spread over devices, or the survey's SN axis.

Chains are vmapped; with several devices the chain axis of every per-chain array is
sharded over a one-dimensional mesh and XLA runs each device's chains there (the model is
replicated). With ``devices="sn"`` it is the other way round: every survey array whose
leading axis runs over SNe or light-curve chunks is split over the devices, the chains
are replicated, and XLA partitions the likelihood's sums — for surveys too large for one
device's memory.
"""

from __future__ import annotations

import dataclasses
import warnings

import equinox as eqx
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .._errors import ConfigError

__all__ = ["Placement"]


class Placement:
    """Device placement of one run (see module docstring)."""

    def __init__(self, devices, chains: int, model, prepared):
        self.mode = "chains"
        if isinstance(devices, str):
            if devices not in ("chains", "sn"):
                raise ConfigError(
                    f"devices must be 'chains', 'sn' or a list of devices, got {devices!r}",
                    field="devices",
                )
            self.mode = devices
            devs = jax.local_devices()
        else:
            devs = list(devices)
            if not devs:
                raise ConfigError("devices is an empty list", field="devices")
        if self.mode == "chains":
            n = max(d for d in range(1, len(devs) + 1) if chains % d == 0)
            if n < len(devs):
                warnings.warn(
                    f"{chains} chains do not divide evenly over {len(devs)} devices: using {n}",
                    stacklevel=3,
                )
            devs = devs[:n]
        self.devices = devs
        self.mesh = Mesh(np.array(devs), ("d",))
        self._model_leaf_axes = _sn_axes(model, prepared, len(devs)) if self.mode == "sn" else None

    @property
    def chain_mesh(self):
        """The mesh the chain axis is split over (None: one device, or SN sharding)."""
        return self.mesh if self.mode == "chains" and self.n_devices > 1 else None

    def chain_method(self, method: str) -> str:
        """``"vectorized"`` or ``"sequential"``; ``"auto"``: sequential on CPU (a chain
        at single-chain speed), vectorized on accelerators."""
        if method not in ("auto", "vectorized", "sequential"):
            raise ConfigError(
                f"chain_method must be 'auto', 'vectorized' or 'sequential', got {method!r}",
                field="chain_method",
            )
        if method == "auto":
            return "sequential" if self.devices[0].platform == "cpu" else "vectorized"
        return method

    @property
    def n_devices(self) -> int:
        return len(self.devices)

    def describe(self) -> str:
        kind = self.devices[0].platform.upper()
        what = "chains" if self.mode == "chains" else "SN axis"
        return f"{self.n_devices} {kind} device(s), {what} sharded"

    def put_chains(self, tree):
        """Per-chain arrays (leading axis = chain)."""
        spec = P("d") if self.mode == "chains" else P()
        return jax.device_put(tree, NamedSharding(self.mesh, spec))

    def put_model(self, model):
        arrays, static = eqx.partition(model, eqx.is_array)
        replicated = NamedSharding(self.mesh, P())
        if self.mode == "chains":
            return eqx.combine(jax.device_put(arrays, replicated), static)
        sharded = NamedSharding(self.mesh, P("d"))
        leaves, treedef = jax.tree_util.tree_flatten(arrays)
        placed = []
        for leaf, split in zip(leaves, self._model_leaf_axes):
            placed.append(jax.device_put(leaf, sharded if split else replicated))
        return eqx.combine(jax.tree_util.tree_unflatten(treedef, placed), static)


def _sn_axes(model, prepared, n_dev):
    """For each array leaf of ``model``: whether to split it over the devices of the mesh
    — its field is declared ``sn_axis`` (``sndust._forward._flux.sn_axis``; on the path
    from ``model`` to the leaf) and its leading axis divides evenly."""
    arrays, _ = eqx.partition(model, eqx.is_array)
    out = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(arrays)[0]:
        out.append(_declared_sn_axis(model, path) and leaf.shape[0] % n_dev == 0)
    if not any(out):
        n_chunk = int(prepared.chunk_sn.shape[0])
        raise ConfigError(
            f"devices='sn': neither the {prepared.n_sn} SNe nor the {n_chunk} light-curve "
            f"chunks divide evenly over {n_dev} devices",
            field="devices",
        )
    return out


def _declared_sn_axis(root, path) -> bool:
    """Whether a field on ``path`` (a JAX key path from ``root``) is declared ``sn_axis``."""
    node = root
    for key in path:
        if isinstance(key, jax.tree_util.GetAttrKey):
            if dataclasses.is_dataclass(node):
                fields = {f.name: f for f in dataclasses.fields(node)}
                if fields[key.name].metadata.get("sn_axis"):
                    return True
            node = getattr(node, key.name)
        elif isinstance(key, jax.tree_util.DictKey):
            node = node[key.key]
        elif isinstance(key, jax.tree_util.SequenceKey):
            node = node[key.idx]
        else:  # a container sndust does not declare axes in
            return False
    return False
