"""Cardelli, Clayton & Mathis (1989) and O'Donnell (1994) extinction laws.

Cardelli, Clayton & Mathis (1989, ApJ 345, 245; "CCM89") write the mean extinction curve
as ``A_λ/A_V = a(x) + b(x)/R_V`` in ``x = 10⁴/λ[Å]`` (μm⁻¹), piecewise:

* infrared, ``0.3 ≤ x < 1.1``: ``a = 0.574 x^1.61``, ``b = −0.527 x^1.61``;
* optical, ``1.1 ≤ x < 3.3``: 7th-degree polynomials in ``y = x − 1.82``;
* ultraviolet, ``3.3 ≤ x < 8``: a linear term plus a Lorentzian-like bump, with the
  far-UV curvature terms ``F_a``, ``F_b`` added for ``x > 5.9``;
* far ultraviolet, ``8 ≤ x ≤ 10``: cubics in ``x − 8``.

O'Donnell (1994, ApJ 422, 158) replaced the optical polynomials by 8th-degree ones and
kept the rest. Region boundaries and coefficients follow the ``extinction`` package's
``ccm89`` and ``odonnell94`` (and the IDL astrolib CCM_UNRED), which these match.

``a`` and ``b`` depend on the wavelengths only, so they are precomputed; per ``R_V``
the curve is one multiply-add.
"""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar, NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real
from numpy.polynomial import polynomial

from ._base import AbstractDustLaw, _append_axes, _wavenumber

__all__ = ["CCM89", "ODonnell94"]

# Optical polynomials in y = x − 1.82, ascending powers (a₀ + a₁ y + …).
_CCM89_OPTICAL_A = (1.0, 0.17699, -0.50447, -0.02427, 0.72085, 0.01979, -0.77530, 0.32999)
_CCM89_OPTICAL_B = (0.0, 1.41338, 2.28305, 1.07233, -5.38434, -0.62251, 5.30260, -2.09002)
_OD94_OPTICAL_A = (1.0, 0.104, -0.609, 0.701, 1.137, -1.718, -0.827, 1.647, -0.505)
_OD94_OPTICAL_B = (0.0, 1.952, 2.908, -3.989, -7.985, 11.102, 5.491, -10.805, 3.347)

# CCM89 valid range: 0.3 ≤ x ≤ 10 μm⁻¹.
_WAVE_RANGE = (1e4 / 10.0, 1e4 / 0.3)


class _ABCoefficients(NamedTuple):
    """``a(x)`` and ``b(x)`` of ``A_λ/A_V = a + b/R_V`` (shape ``W`` each)."""

    a: np.ndarray
    b: np.ndarray


def _coefficients(x: np.ndarray, optical_a, optical_b) -> _ABCoefficients:
    """CCM89-form ``a(x)``, ``b(x)`` with the given optical polynomials (x in μm⁻¹)."""
    # Infrared.
    ir = x**1.61
    a_ir, b_ir = 0.574 * ir, -0.527 * ir
    # Optical.
    y = x - 1.82
    a_opt, b_opt = polynomial.polyval(y, optical_a), polynomial.polyval(y, optical_b)
    # Ultraviolet, with the far-UV curvature above x = 5.9.
    z = np.maximum(x - 5.9, 0.0)
    a_uv = 1.752 - 0.316 * x - 0.104 / ((x - 4.67) ** 2 + 0.341) - 0.04473 * z**2 - 0.009779 * z**3
    b_uv = -3.090 + 1.825 * x + 1.206 / ((x - 4.62) ** 2 + 0.263) + 0.2130 * z**2 + 0.1207 * z**3
    # Far ultraviolet.
    w = x - 8.0
    a_fuv = polynomial.polyval(w, (-1.073, -0.628, 0.137, -0.070))
    b_fuv = polynomial.polyval(w, (13.670, 4.257, -0.420, 0.374))

    regions = [x < 1.1, x < 3.3, x < 8.0]
    a = np.select(regions, [a_ir, a_opt, a_uv], a_fuv)
    b = np.select(regions, [b_ir, b_opt, b_uv], b_fuv)
    return _ABCoefficients(a, b)


def _a_plus_b_over_R_V(pre: _ABCoefficients, R_V, xp: ModuleType):
    """``a + b/R_V`` with shape ``shape(R_V) + W``."""
    inv = _append_axes(1.0 / xp.asarray(R_V), xp.ndim(pre.a), xp)
    return pre.a + pre.b * inv


class CCM89(AbstractDustLaw):
    """Cardelli, Clayton & Mathis (1989, ApJ 345, 245) ``R_V``-dependent extinction law.

    Defined (as in the ``extinction`` package) on ``0.3 ≤ x ≤ 10 μm⁻¹``, i.e.
    1000 Å – 3.33 μm; CCM89 claim validity from 1250 Å to 3.3 μm.
    """

    wave_range: ClassVar[tuple[float, float]] = _WAVE_RANGE

    def precompute(self, wave: Real[ArrayLike, "*wave"]) -> _ABCoefficients:
        """``a(x)`` and ``b(x)`` at rest wavelengths ``wave`` (Å, shape ``W``)."""
        return _coefficients(_wavenumber(self, wave), _CCM89_OPTICAL_A, _CCM89_OPTICAL_B)

    def curve_from(
        self, pre: _ABCoefficients, R_V: Float[ArrayLike, "..."], xp: ModuleType = jnp
    ) -> Float[Array, "..."] | Float[np.ndarray, "..."]:
        """``A_λ/A_V = a + b/R_V`` of shape ``shape(R_V) + W``."""
        return _a_plus_b_over_R_V(pre, R_V, xp)


class ODonnell94(AbstractDustLaw):
    """O'Donnell (1994, ApJ 422, 158) extinction law.

    CCM89 (Cardelli, Clayton & Mathis 1989) with O'Donnell's optical coefficients for
    ``1.1 ≤ x < 3.3 μm⁻¹`` (3030–9091 Å). Same range as :class:`CCM89`.
    """

    wave_range: ClassVar[tuple[float, float]] = _WAVE_RANGE

    def precompute(self, wave: Real[ArrayLike, "*wave"]) -> _ABCoefficients:
        """``a(x)`` and ``b(x)`` at rest wavelengths ``wave`` (Å, shape ``W``)."""
        return _coefficients(_wavenumber(self, wave), _OD94_OPTICAL_A, _OD94_OPTICAL_B)

    def curve_from(
        self, pre: _ABCoefficients, R_V: Float[ArrayLike, "..."], xp: ModuleType = jnp
    ) -> Float[Array, "..."] | Float[np.ndarray, "..."]:
        """``A_λ/A_V = a + b/R_V`` of shape ``shape(R_V) + W``."""
        return _a_plus_b_over_R_V(pre, R_V, xp)
