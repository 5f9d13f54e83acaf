"""The Gordon et al. (2023, ApJ 950, 86; "G23") Milky Way ``R_V``-dependent law.

G23 fit ``A_λ/A_V = a(x) + b(x) (1/R_V − 1/3.1)`` to Milky Way sightlines from the far
ultraviolet (912 Å) to the mid infrared (32 μm), in the wavenumber ``x = 10⁴/λ[Å]``
(μm⁻¹), in three pieces blended where they overlap:

* ultraviolet, ``λ ≤ 0.33 μm``: the FM90 form (:func:`._shapes.fm90`) for ``a`` and ``b``;
* optical, ``0.3 μm ≤ λ ≤ 1.1 μm``: a quartic in ``x`` plus three Drude profiles (the
  intermediate-scale structure at 2.288, 2.054 and 1.587 μm⁻¹);
* near and mid infrared, ``λ ≥ 0.9 μm``: for ``a`` two power laws in ``λ`` joined by a
  smoothstep around 4.3 μm, plus two silicate features (modified Drude profiles whose
  width varies with an asymmetry parameter); for ``b`` one power law in ``x``.

The overlaps (0.30–0.33 μm and 0.9–1.1 μm) are blended with ``3t² − 2t³`` in ``λ``. The
curve is divided by 0.9854, G23's renormalisation for the offset between F19's
ground-based photometry and STIS spectroscopy (``renorm=False`` leaves it out).

The coefficients are the paper's Table 3, as carried by the ``dust_extinction``
package (K. Gordon, BSD-3-Clause), against which this implementation is tested.
Everything but the ``R_V`` factor depends on the wavelengths only, so ``a`` and ``b``
are precomputed; per ``R_V`` the curve is one multiply-add.

Written here rather than wrapping ``dust_extinction`` because a sampler needs the curve
in JAX, differentiable in ``R_V`` and split into a precomputed and a per-``R_V`` part;
``dust_extinction`` evaluates everything per call through astropy models.
"""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar, NamedTuple

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real

from ._base import AbstractDustLaw, _append_axes, _wavenumber
from ._shapes import drude, fm90, smoothstep

__all__ = ["Gordon23"]

# Ultraviolet FM90 parameters (c1, c2, c3, c4, x0, γ) of a and b.
_UV_A = (0.81297, 0.2775, 1.06295, 0.11303, 4.60, 0.99)
_UV_B = (-2.97868, 1.89808, 3.10334, 0.65484, 4.60, 0.99)
# Optical: quartic coefficients (constant first), then (height, x0, fwhm) of three Drudes.
_OPT_A = ((-0.35848, 0.7122, 0.08746, -0.05403, 0.00674), (0.03893, 2.288, 0.243),
          (0.02965, 2.054, 0.179), (0.01747, 1.587, 0.243))  # fmt: skip
_OPT_B = ((0.12354, -2.68335, 2.01901, -0.39299, 0.03355), (0.18453, 2.288, 0.243),
          (0.19728, 2.054, 0.179), (0.1713, 1.587, 0.243))  # fmt: skip
# Infrared a: scale, two slopes, break wavelength (μm) and width; two silicate features
# (height, centre μm, fwhm μm, asymmetry).
_IR_A_POWER = (0.38526, 1.68467, 0.78791, 4.30578, 4.78338)
_IR_A_SILICATES = ((0.06652, 9.8434, 2.21205, -0.24703), (0.0267, 19.58294, 17.0, -0.27))
# Infrared b = amplitude · x^(−slope).
_IR_B = (-1.01251, -1.06099)
_RENORM = 0.9854
# Region edges in μm.
_UV_OPT = (0.3, 0.33)
_OPT_IR = (0.9, 1.1)


def _quartic_plus_drudes(x: np.ndarray, params) -> np.ndarray:
    coeffs, *drudes = params
    out = coeffs[-1]
    for c in coeffs[-2::-1]:
        out = c + out * x
    for amplitude, x0, fwhm in drudes:
        out = out + drude(x, amplitude, x0, fwhm)
    return out


def _modified_drude(lam, amplitude, centre, fwhm, asymmetry):
    """A Drude profile in ``λ`` whose width varies across it: ``asymmetry = 0`` is Drude."""
    width = 2.0 * fwhm / (1.0 + np.exp(asymmetry * (lam - centre)))
    shape = (width / centre) ** 2
    return amplitude * shape / ((lam / centre - centre / lam) ** 2 + shape)


def _infrared_a(x: np.ndarray) -> np.ndarray:
    lam = 1 / x
    scale, slope1, slope2, lam_break, width = _IR_A_POWER
    first = scale * (lam ** (-1.0 * slope1))
    joined = lam_break ** (-1.0 * slope1) / lam_break ** (-1.0 * slope2)
    second = scale * joined * (lam ** (-1.0 * slope2))
    w = smoothstep(lam, lam_break - width / 2, lam_break + width / 2)
    out = first * (1.0 - w) + second * w
    for silicate in _IR_A_SILICATES:
        out = out + _modified_drude(lam, *silicate)
    return out


def _infrared_b(x: np.ndarray) -> np.ndarray:
    amplitude, slope = _IR_B
    return amplitude * x ** (-slope)


class _G23Wavelengths(NamedTuple):
    """``a(x)`` and ``b(x)`` at the precomputed wavelengths (shape ``W``), renormalised."""

    a: np.ndarray
    b: np.ndarray


class Gordon23(AbstractDustLaw):
    """Gordon et al. (2023, ApJ 950, 86) Milky Way ``R_V``-dependent extinction law.

    ``A_λ/A_V = [a(x) + b(x)(1/R_V − 1/3.1)] / 0.9854`` from 912 Å to 32 μm; calibrated on
    sightlines with ``2.3 ≤ R_V ≤ 5.6``. Equal to ``dust_extinction``'s ``G23`` to
    ≤ 1e-8 mag.

    Attributes:
        renorm: divide by 0.9854, G23's correction of F19's photometric zero point (the
            paper's and ``dust_extinction``'s default).

    Example:
        >>> law = Gordon23()
        >>> law.extinction(np.array([4400.0, 5500.0]), A_V=0.3, R_V=2.6, xp=np)  # mag
        array([0.41416156, 0.29947943])
    """

    renorm: bool = eqx.field(static=True, default=True)

    wave_range: ClassVar[tuple[float, float]] = (912.0, 320000.0)
    R_V_range: ClassVar[tuple[float, float] | None] = (2.3, 5.6)

    def precompute(self, wave: Real[ArrayLike, "*wave"]) -> _G23Wavelengths:
        """``a`` and ``b`` at rest wavelengths ``wave`` (Å, shape ``W``)."""
        x = _wavenumber(self, wave)
        lam = 1.0 / x
        optical = lam <= _OPT_IR[1]
        ultraviolet = lam <= _UV_OPT[0]
        out = []
        for uv, opt, ir in ((_UV_A, _OPT_A, _infrared_a), (_UV_B, _OPT_B, _infrared_b)):
            uv_curve = fm90(x, *uv)
            opt_curve = _quartic_plus_drudes(x, opt)
            ir_curve = ir(x)
            w_ir = smoothstep(lam, *_OPT_IR)  # 0 at 0.9 μm, 1 at 1.1 μm
            w_opt = smoothstep(lam, *_UV_OPT)  # 0 at 0.30 μm, 1 at 0.33 μm
            curve = np.where(optical, (1.0 - w_ir) * opt_curve + w_ir * ir_curve, ir_curve)
            curve = np.where(lam <= _UV_OPT[1], (1.0 - w_opt) * uv_curve + w_opt * opt_curve, curve)
            curve = np.where(ultraviolet, uv_curve, curve)
            out.append(curve / (_RENORM if self.renorm else 1.0))
        return _G23Wavelengths(*out)

    def curve_from(
        self, pre: _G23Wavelengths, R_V: Float[ArrayLike, "..."], xp: ModuleType = jnp
    ) -> Float[Array, "..."] | Float[np.ndarray, "..."]:
        """``A_λ/A_V`` of shape ``shape(R_V) + W`` from :meth:`precompute`'s output."""
        R_V = xp.asarray(R_V)
        slope = _append_axes(1.0 / R_V - 1.0 / 3.1, xp.ndim(pre.a), xp)
        return pre.a + pre.b * slope
