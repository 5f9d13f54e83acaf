"""Chunked observation layout (NumPy, built once by :func:`sndust.prepare`).

Every observation of an SN in one band sees the same redshifted filter, so it only needs
the rest wavelengths that filter covers: a contiguous window of the model grid, typically a
third of it. Observations are grouped into *chunks* — up to ``chunk_size`` observations of
one SN in one band — and each chunk carries its wavelength window. Per evaluation the work
is then ``n_chunk × window × chunk_size`` exponentials instead of ``n_sn × 300 × n_obs``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Chunks", "build_chunks", "choose_chunk_size"]


@dataclass(frozen=True)
class Chunks:
    """Index arrays of the chunked layout.

    Attributes:
        sn: SN index of each chunk, ``(n_chunk,)``.
        pair: (SN, band) pair index of each chunk, ``(n_chunk,)``.
        obs: flat index ``sn * n_obs + j`` of each slot, ``(n_chunk, size)``; ``-1`` = padding.
    """

    sn: np.ndarray
    pair: np.ndarray
    obs: np.ndarray

    @property
    def valid(self) -> np.ndarray:
        return self.obs >= 0


def choose_chunk_size(counts: np.ndarray, overhead: int, candidates=range(2, 33)) -> int:
    """The chunk size minimising ``n_chunk * (size + overhead)`` for these pair counts.

    ``overhead`` stands for the per-chunk work that does not scale with the number of
    observations (reading the window's spline rows: one per wavelength knot).
    """
    counts = np.asarray(counts)
    best, best_cost = None, None
    for size in candidates:
        cost = int(np.sum(-(-counts // size))) * (size + overhead)
        if best_cost is None or cost < best_cost or (cost == best_cost and size > best):
            best, best_cost = size, cost
    return int(best)


def build_chunks(pair_obs: list[np.ndarray], pair_sn: np.ndarray, size: int) -> Chunks:
    """Split each (SN, band) pair's observations into chunks of at most ``size``.

    Args:
        pair_obs: for each pair, the flat indices of its observations.
        pair_sn: SN index of each pair.
        size: chunk size.
    """
    sn, pair, obs = [], [], []
    for p, idx in enumerate(pair_obs):
        for start in range(0, len(idx), size):
            part = idx[start : start + size]
            row = np.full(size, -1, dtype=np.int64)
            row[: len(part)] = part
            sn.append(pair_sn[p])
            pair.append(p)
            obs.append(row)
    return Chunks(
        np.asarray(sn, dtype=np.int32),
        np.asarray(pair, dtype=np.int32),
        np.asarray(obs).reshape(-1, size),
    )
