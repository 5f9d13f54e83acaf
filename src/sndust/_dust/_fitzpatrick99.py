"""The R_V-dependent Fitzpatrick (1999) extinction law.

Fitzpatrick (1999, PASP 111, 63; "F99") writes the extinction curve as
``k(x) = E(λ−V)/E(B−V)`` in the wavenumber ``x = 10⁴/λ[Å]`` (μm⁻¹), with
``A_λ/A_V = 1 + k(x)/R_V``:

* ultraviolet, ``λ ≤ 2700 Å``: the Fitzpatrick & Massa (1990, ApJS 72, 163) form
  ``k = c1 + c2 x + c3 D(x; x0, γ) + c4 F(x)``, with the F99 ``R_V``-dependent
  ``c2 = −0.824 + 4.717/R_V``, ``c1 = 2.030 − 3.007 c2`` and fixed ``c3 = 3.23``,
  ``c4 = 0.41``, ``x0 = 4.596 μm⁻¹``, ``γ = 0.99 μm⁻¹``;
* optical and infrared, ``λ > 2700 Å``: a natural cubic spline in ``x`` through nine
  anchors (``λ = ∞, 26500, 12200, 6000, 5470, 4670, 4110, 2700, 2600 Å``); the optical
  anchor values are E. Fitzpatrick's updated ``R_V`` polynomials, as in the IDL
  astrolib routine FM_UNRED, BayeSN (Mandel et al. 2022, MNRAS 510, 3939; Grayling et
  al. 2024, MNRAS 531, 953) and the ``extinction`` package's ``fitzpatrick99``.

The spline is linear in its anchor values, so its basis rows at the fixed wavelengths
are precomputed; per ``R_V`` only nine anchor values are evaluated and contracted.
"""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar, NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real

from .._spline import spline_basis
from ._base import AbstractDustLaw, _append_axes, _wavenumber

__all__ = ["Fitzpatrick99"]

# Fitzpatrick & Massa (1990) ultraviolet shape with the F99 parameters.
_X0 = 4.596
_GAMMA = 0.99
_C3 = 3.23
_C4 = 0.41
_X_FAR_UV = 5.9
# Wavenumber (μm⁻¹) at and above which the analytic UV curve is used: λ ≤ 2700 Å.
_X_UV = 1e4 / 2700.0
# Spline anchors in μm⁻¹ (the first is λ = ∞).
_X_ANCHORS = np.array(
    [0.0, 1e4 / 26500.0, 1e4 / 12200.0, 1e4 / 6000.0, 1e4 / 5470.0]
    + [1e4 / 4670.0, 1e4 / 4110.0, 1e4 / 2700.0, 1e4 / 2600.0]
)


def _drude(x):
    """Drude profile ``D(x) = x² / ((x² − x0²)² + (γx)²)`` of the 2175 Å bump."""
    x2 = x * x
    return x2 / ((x2 - _X0 * _X0) ** 2 + x2 * _GAMMA * _GAMMA)


def _far_uv(x):
    """Far-UV curvature ``F(x) = 0.5392 (x − 5.9)² + 0.05644 (x − 5.9)³`` for ``x ≥ 5.9``."""
    y = np.maximum(x - _X_FAR_UV, 0.0)
    return 0.5392 * y * y + 0.05644 * y * y * y


# The bump term at the two UV anchors, as Python floats so that float32 inputs stay float32.
_BUMP_AT_UV_ANCHORS = tuple(float(_C3 * _drude(x)) for x in _X_ANCHORS[7:])


class _F99Wavelengths(NamedTuple):
    """Wavelength-only parts of F99 (leaves of shape ``W``, ``W + (9,)``)."""

    spline: np.ndarray
    """Natural-spline basis rows (``W + (9,)``), zero at UV wavelengths."""
    uv: np.ndarray
    """1.0 at UV wavelengths (``λ ≤ 2700 Å``), else 0.0."""
    uv_x: np.ndarray
    """``x`` at UV wavelengths, else 0.0."""
    uv_bump: np.ndarray
    """``c3 D(x) + c4 F(x)`` at UV wavelengths, else 0.0."""


def _uv_coefficients(inv_R_V):
    """F99 ``(c1, c2)`` as functions of ``1/R_V``."""
    c2 = -0.824 + 4.717 * inv_R_V
    c1 = 2.030 - 3.007 * c2
    return c1, c2


def _anchor_curve(R_V, xp: ModuleType):
    """``A_λ/A_V = 1 + k/R_V`` at the nine spline anchors, stacked on a last axis.

    Written as ``(k + R_V)/R_V`` (that is, ``A_λ/E(B−V)`` over ``R_V``) so the long-wavelength
    anchors, where ``k → −R_V``, involve no cancellation.
    """
    inv = 1.0 / R_V
    c1, c2 = _uv_coefficients(inv)
    x7, x8 = (float(x) for x in _X_ANCHORS[7:])
    b7, b8 = _BUMP_AT_UV_ANCHORS
    anchors = [
        xp.zeros_like(inv),
        xp.full_like(inv, 0.26469 / 3.1),
        xp.full_like(inv, 0.82925 / 3.1),
        -0.422809 * inv + 1.00270 + 2.13572e-4 * R_V,
        -5.13540e-2 * inv + 1.00216 - 7.35778e-5 * R_V,
        0.700127 * inv + 1.00184 - 3.32598e-5 * R_V,
        1.19456 * inv + 1.01707 + R_V * (-5.46959e-3 + R_V * (7.97809e-4 - 4.45636e-5 * R_V)),
        1.0 + (c1 + c2 * x7 + b7) * inv,
        1.0 + (c1 + c2 * x8 + b8) * inv,
    ]
    return xp.stack(anchors, axis=-1)


class Fitzpatrick99(AbstractDustLaw):
    """Fitzpatrick (1999, PASP 111, 63) ``R_V``-dependent extinction law.

    Exactly the law of BayeSN and of ``extinction.fitzpatrick99`` (FM_UNRED optical
    anchors, Fitzpatrick & Massa 1990 ultraviolet). Defined on 910 Å – 6 μm; F99 claim
    validity down to 1150 Å.

    Example:
        >>> law = Fitzpatrick99()
        >>> law.extinction(np.array([4400.0, 5500.0]), A_V=0.3, R_V=2.6, xp=np)  # mag
        array([0.41037265, 0.29191393])
    """

    wave_range: ClassVar[tuple[float, float]] = (910.0, 60000.0)

    def precompute(self, wave: Real[ArrayLike, "*wave"]) -> _F99Wavelengths:
        """Spline basis rows and UV terms at rest wavelengths ``wave`` (Å, shape ``W``)."""
        x = _wavenumber(self, wave)
        uv = x >= _X_UV
        spline = np.where(uv[..., None], 0.0, spline_basis(x, _X_ANCHORS))
        uv_x = np.where(uv, x, 0.0)
        uv_bump = np.where(uv, _C3 * _drude(x) + _C4 * _far_uv(x), 0.0)
        return _F99Wavelengths(spline, uv.astype(np.float64), uv_x, uv_bump)

    def curve_from(
        self, pre: _F99Wavelengths, R_V: Float[ArrayLike, "..."], xp: ModuleType = jnp
    ) -> Float[Array, "..."] | Float[np.ndarray, "..."]:
        """``A_λ/A_V`` of shape ``shape(R_V) + W`` from :meth:`precompute`'s output."""
        R_V = xp.asarray(R_V)
        optical = xp.tensordot(_anchor_curve(R_V, xp), pre.spline, axes=((-1,), (-1,)))
        inv = _append_axes(1.0 / R_V, xp.ndim(pre.uv), xp)
        c1, c2 = _uv_coefficients(inv)
        ultraviolet = pre.uv + (c1 * pre.uv + c2 * pre.uv_x + pre.uv_bump) * inv
        return optical + ultraviolet
