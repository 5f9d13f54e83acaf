"""jaxtyping aliases for the arrays that recur across sndust, named by their axes:
``dim`` (the model's flat parameter vector), ``n_sn`` (supernovae), ``n_obs``
(observations per SN, padded), ``n_chunk size`` (observations grouped by SN and band),
``n_hyper`` (hyperparameter coordinates). Under pytest, jaxtyping with beartype checks
them at run time (``--jaxtyping-packages``); in production they cost nothing."""

from __future__ import annotations

import equinox as eqx
from jaxtyping import Array, Float

__all__ = ["Flat", "PerChunk", "PerObs", "PerSN", "Hyper", "Scalar", "sn_axis"]

#: the model's flat unconstrained parameter vector
Flat = Float[Array, " dim"]
#: one value per supernova
PerSN = Float[Array, " n_sn"]
#: one value per observation, in the survey's padded ``(n_sn, n_obs)`` layout
PerObs = Float[Array, "n_sn n_obs"]
#: one value per observation, in the forward model's ``(n_chunk, size)`` chunks
PerChunk = Float[Array, "n_chunk size"]
#: hyperparameter coordinates of the flat vector
Hyper = Float[Array, " n_hyper"]
#: a scalar (a log density, a step size)
Scalar = Float[Array, ""]


def sn_axis():
    """A module field whose leading axis runs over SNe or light-curve chunks: what
    ``devices="sn"`` splits over devices (``sndust/_sampling/_devices.py``). Declared
    per field, so that no array is split because its length happens to equal ``n_sn``."""
    return eqx.field(metadata={"sn_axis": True})
