"""jaxtyping aliases with fixed dimension names used across sndust.

Dimension names: ``n_sn`` supernovae, ``n_obs`` observations per SN (padded), ``n_wave``
rest-frame wavelength bins, ``n_band`` bands, ``n_lknot``/``n_tknot`` wavelength/phase
spline knots, ``n_eps`` free ε components, ``n_chunk`` observation chunks, ``n_win``
wavelength-window length, ``n_cobs`` observations per chunk.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int

Scalar: TypeAlias = Float[ArrayLike, ""]
PerSN: TypeAlias = Float[ArrayLike, " n_sn"]
ScalarOrPerSN: TypeAlias = Float[ArrayLike, "#n_sn"]
PerObs: TypeAlias = Float[Array, "n_sn n_obs"]
Wave: TypeAlias = Float[ArrayLike, " n_wave"]
NPFloat: TypeAlias = Float[np.ndarray, "..."]
NPInt: TypeAlias = Int[np.ndarray, "..."]

__all__ = ["Array", "ArrayLike", "Float", "Int", "Scalar", "PerSN", "ScalarOrPerSN", "PerObs"]
