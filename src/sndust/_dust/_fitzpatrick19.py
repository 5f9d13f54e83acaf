"""The Fitzpatrick et al. (2019, ApJ 886, 108; "F19") ``R_V``-dependent law.

F19 tabulate the Milky Way extinction curve from HST/STIS spectrophotometry as
``k(x) = E(λ−55)/E(44−55)`` at 102 wavenumbers ``x = 10⁴/λ[Å]`` (0–8.7 μm⁻¹): its values
at ``R(55) = 3.02`` and their slope with ``R_V``, so that
``k(x; R_V) = k_3.02(x) + 0.99 (R_V − 3.10) Δk(x)`` and ``A_λ/A_V = 1 + k/R_V``. Between
the tabulated points the curve is the interpolating cubic B-spline of the table (SciPy's
``splrep``, as in the ``dust_extinction`` package). That spline is linear in the
tabulated values, so the splines of ``k_3.02`` and ``Δk`` are precomputed at the fixed
wavelengths and per ``R_V`` the curve is one multiply-add.

The table (columns x, k_3.02, Δk) is F19's tabulated curve, as distributed with
``dust_extinction`` (K. Gordon, BSD-3-Clause).
"""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar, NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real

from ._base import AbstractDustLaw, _append_axes, _wavenumber

__all__ = ["Fitzpatrick19"]

# x (μm⁻¹), k_3.02(x), Δk(x): the tabulated curve of Fitzpatrick et al. (2019).
_TABLE = """
0.000  -3.020  -1.000    0.455  -2.747  -0.842    0.606  -2.528  -0.728
0.800  -2.222  -0.531    1.000  -1.757  -0.360    1.100  -1.567  -0.284
1.200  -1.300  -0.223    1.250  -1.216  -0.198    1.300  -1.070  -0.173
1.350  -0.973  -0.150    1.400  -0.868  -0.130    1.450  -0.750  -0.110
1.500  -0.629  -0.096    1.550  -0.509  -0.081    1.600  -0.407  -0.063
1.650  -0.320  -0.048    1.700  -0.221  -0.032    1.750  -0.133  -0.017
1.800  -0.048  -0.005    1.818  0.000  0.000    1.850  0.071  0.007
1.900  0.188  0.013    1.950  0.319  0.012    2.000  0.438  0.010
2.050  0.575  0.004    2.100  0.665  0.003    2.150  0.744  0.000
2.200  0.838  0.002    2.250  0.951  0.001    2.273  1.000  0.000
2.300  1.044  -0.000    2.350  1.113  0.001    2.400  1.181  0.001
2.450  1.269  -0.002    2.500  1.346  0.000    2.550  1.405  -0.002
2.600  1.476  -0.002    2.650  1.558  -0.006    2.700  1.632  -0.009
2.750  1.723  -0.011    2.800  1.791  -0.017    2.850  1.869  -0.025
2.900  1.948  -0.029    2.950  2.009  -0.037    3.000  2.090  -0.043
3.100  2.253  -0.064    3.200  2.408  -0.092    3.300  2.565  -0.122
3.400  2.746  -0.161    3.500  2.933  -0.201    3.600  3.124  -0.249
3.700  3.328  -0.303    3.800  3.550  -0.366    3.900  3.815  -0.437
4.000  4.139  -0.517    4.100  4.534  -0.603    4.200  5.012  -0.692
4.300  5.560  -0.774    4.400  6.118  -0.843    4.500  6.565  -0.888
4.600  6.767  -0.908    4.700  6.681  -0.903    4.800  6.394  -0.880
4.900  6.038  -0.849    5.000  5.704  -0.816    5.100  5.432  -0.785
5.200  5.226  -0.760    5.300  5.078  -0.741    5.400  4.978  -0.729
5.500  4.913  -0.722    5.600  4.877  -0.722    5.700  4.862  -0.726
5.800  4.864  -0.734    5.900  4.879  -0.745    6.000  4.904  -0.760
6.100  4.938  -0.778    6.200  4.982  -0.798    6.300  5.038  -0.820
6.400  5.105  -0.845    6.500  5.181  -0.870    6.600  5.266  -0.898
6.700  5.359  -0.926    6.800  5.460  -0.956    6.900  5.569  -0.988
7.000  5.684  -1.020    7.100  5.805  -1.053    7.200  5.933  -1.087
7.300  6.067  -1.122    7.400  6.207  -1.158    7.500  6.352  -1.195
7.600  6.502  -1.232    7.700  6.657  -1.270    7.800  6.817  -1.309
7.900  6.981  -1.349    8.000  7.150  -1.389    8.100  7.323  -1.429
8.200  7.500  -1.471    8.300  7.681  -1.513    8.400  7.866  -1.555
8.500  8.054  -1.598    8.600  8.246  -1.641    8.700  8.441  -1.685
"""


def _table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, k, dk = np.array(_TABLE.split(), dtype=np.float64).reshape(-1, 3).T
    return x, k, dk


class _F19Wavelengths(NamedTuple):
    """Splines of ``k_3.02`` and ``Δk`` at the precomputed wavelengths (shape ``W``)."""

    k: np.ndarray
    dk: np.ndarray


class Fitzpatrick19(AbstractDustLaw):
    """Fitzpatrick et al. (2019, ApJ 886, 108) ``R_V``-dependent extinction law.

    Defined from 1149 Å (8.7 μm⁻¹) to 3.3 μm (0.3 μm⁻¹); calibrated on sightlines with
    ``2 ≤ R_V ≤ 6``. Equal to ``dust_extinction``'s ``F19`` to ≤ 1e-8 mag.

    Example:
        >>> law = Fitzpatrick19()
        >>> law.extinction(np.array([4400.0, 5500.0]), A_V=0.3, R_V=2.6, xp=np)  # mag
        array([0.41532437, 0.30005149])
    """

    wave_range: ClassVar[tuple[float, float]] = (1e4 / 8.7, 1e4 / 0.3)
    R_V_range: ClassVar[tuple[float, float] | None] = (2.0, 6.0)

    def precompute(self, wave: Real[ArrayLike, "*wave"]) -> _F19Wavelengths:
        """The two splines at rest wavelengths ``wave`` (Å, shape ``W``)."""
        from scipy import interpolate

        x = _wavenumber(self, wave)
        x_tab, k, dk = _table()
        out = [interpolate.splev(x, interpolate.splrep(x_tab, y)) for y in (k, dk)]
        return _F19Wavelengths(*(np.asarray(o, np.float64) for o in out))

    def curve_from(
        self, pre: _F19Wavelengths, R_V: Float[ArrayLike, "..."], xp: ModuleType = jnp
    ) -> Float[Array, "..."] | Float[np.ndarray, "..."]:
        """``A_λ/A_V`` of shape ``shape(R_V) + W`` from :meth:`precompute`'s output."""
        R_V = _append_axes(xp.asarray(R_V), xp.ndim(pre.k), xp)
        return (pre.k + pre.dk * ((R_V - 3.10) * 0.990)) / R_V + 1.0
