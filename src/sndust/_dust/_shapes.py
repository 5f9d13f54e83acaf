"""Curve pieces shared by several laws, evaluated with NumPy at fixed wavelengths.

* :func:`fm90` — the Fitzpatrick & Massa (1990, ApJS 72, 163) ultraviolet form
  ``c1 + c2 x + c3 D(x; x0, γ) + c4 F(x)``, with the Drude bump ``D`` and the far-UV
  rise ``F`` (switched on at ``x ≥ x_far``, μm⁻¹);
* :func:`smoothstep` — the cubic ``3t² − 2t³`` that blends two pieces over an overlap;
* :class:`FixedCurve` — the base of laws whose curve does not depend on ``R_V``.
"""

from __future__ import annotations

from types import ModuleType
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real

from ._base import AbstractDustLaw, _append_axes, _wavenumber

__all__ = ["FixedCurve", "drude", "fm90", "smoothstep"]


def drude(x: np.ndarray, amplitude: float, x0: float, fwhm: float) -> np.ndarray:
    """Drude profile of central height ``amplitude`` at ``x0`` with full width ``fwhm``."""
    return amplitude * ((fwhm / x0) ** 2) / ((x / x0 - x0 / x) ** 2 + (fwhm / x0) ** 2)


def fm90(
    x: np.ndarray,
    c1: float,
    c2: float,
    c3: float,
    c4: float,
    x0: float,
    gamma: float,
    *,
    x_far: float = 5.9,
    quadratic: bool = False,
) -> np.ndarray:
    """The FM90 ultraviolet curve at wavenumbers ``x`` (μm⁻¹).

    The far-UV term is ``c4 (0.5392 y² + 0.05644 y³)`` with ``y = x − x_far`` (FM90), or
    ``c4 y²`` with ``quadratic=True`` (Fitzpatrick & Massa 2007); zero for ``x < x_far``.
    """
    x2 = x * x
    out = c1 + c2 * x + c3 * (x2 / ((x2 - x0 * x0) ** 2 + x2 * (gamma * gamma)))
    y = np.where(x >= x_far, x - x_far, 0.0)
    far = y * y if quadratic else 0.5392 * (y * y) + 0.05644 * (y * y * y)
    return out + np.where(x >= x_far, c4 * far, 0.0)


def smoothstep(value: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``3t² − 2t³`` with ``t = (value − lo)/(hi − lo)`` clipped to ``[0, 1]``."""
    t = np.clip((value - lo) / (hi - lo), 0.0, 1.0)
    return (3.0 - 2.0 * t) * t**2


class _Curve(NamedTuple):
    """Wavelength-only part of a fixed curve: ``A_λ/A_V`` itself (shape ``W``)."""

    curve: np.ndarray


class FixedCurve(AbstractDustLaw):
    """A law with one curve (an environment's average): ``R_V`` is set by the law.

    Subclasses set :attr:`fixed_R_V` and implement :meth:`_curve_at` (NumPy, in the
    wavenumber ``x``). :meth:`curve_from` broadcasts the curve over ``R_V``'s shape and
    keeps its dtype; the derivative in ``R_V`` is zero.
    """

    def _curve_at(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def precompute(self, wave: Real[ArrayLike, "*wave"]) -> _Curve:
        """The curve at rest wavelengths ``wave`` (Å, shape ``W``)."""
        return _Curve(self._curve_at(_wavenumber(self, wave)))

    def curve_from(
        self, pre: _Curve, R_V: Float[ArrayLike, "..."], xp: ModuleType = jnp
    ) -> Float[Array, "..."] | Float[np.ndarray, "..."]:
        """The fixed curve, of shape ``shape(R_V) + W``."""
        R_V = xp.asarray(R_V)
        return pre.curve + _append_axes(xp.zeros_like(R_V), xp.ndim(pre.curve), xp)
