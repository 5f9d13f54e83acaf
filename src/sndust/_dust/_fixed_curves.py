"""Fixed extinction curves: one average curve each, with the ``R_V`` it has.

* :class:`FitzpatrickMassa07` — the Milky Way average of Fitzpatrick & Massa (2007, ApJ
  663, 320; "FM07"), ``R_V = 3.1``, 910 Å – 6 μm: in the ultraviolet (``λ ≤ 2700 Å``)
  ``k = c1 + c2 x + c3 D(x) + c4 (x − c5)²`` (the last term for ``x > c5``), elsewhere a
  natural cubic spline in ``x`` through ten anchors: five infrared ones on
  ``k = (−0.83 + 0.63 R_V) x^1.84 − R_V``, ``k = 0, 1.322, 2.055`` at 5530, 4000 and
  3300 Å, and the ultraviolet form at 2700 and 2600 Å; ``A_λ/A_V = 1 + k/R_V``. Tested
  against the ``extinction`` package's ``fm07``.
* :class:`Gordon03SMCBar` — the SMC bar average of Gordon et al. (2003, ApJ 594, 279;
  "G03"), ``R_V = 2.74``, 1000 Å – 3.3 μm: the FM90 ultraviolet form with G03's fit
  (``λ ≤ 2700 Å``), and a natural cubic spline through ``A/A_V = 0`` at ``x = 0``, eight
  optical and near-infrared measurements (with the 2.198 and 1.25 μm values of Gordon et
  al. 2016, ApJ 826, 104) and the ultraviolet form at 2700 and 2600 Å. Tested against
  ``dust_extinction``'s ``G03_SMCBar``.

A fixed curve ignores the ``R_V`` argument (its ``R_V`` is :attr:`fixed_R_V`); as a host
law, A_V sets the dimming and each SN's ``R_V`` is left to its prior.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .._spline import spline_basis
from ._shapes import FixedCurve, fm90

__all__ = ["FitzpatrickMassa07", "Gordon03SMCBar"]

_X_UV = 1e4 / 2700.0
_X_UV_ANCHORS = np.array([1e4 / 2700.0, 1e4 / 2600.0])

# FM07 (c1, c2, c3, c4, x0, γ) and the far-UV onset c5 (μm⁻¹).
_FM07_UV = (-0.175, 0.807, 2.991, 0.319, 4.592, 0.922)
_FM07_C5 = 6.097
_FM07_R_V = 3.1
_FM07_X_IR = np.array([0.0, 0.25, 0.50, 0.75, 1.0])
_FM07_X_OPT = np.array([1e4 / 5530.0, 1e4 / 4000.0, 1e4 / 3300.0])
_FM07_K_OPT = np.array([0.0, 1.322, 2.055])

# G03 SMC bar: FM90 (c1, c2, c3, c4, x0, γ), and the optical/NIR anchors (λ in μm, A/A_V).
_SMC_UV = (-4.959, 2.264, 0.389, 0.461, 4.6, 1.0)
_SMC_R_V = 2.74
_SMC_LAM = np.array([2.198, 1.65, 1.25, 0.81, 0.65, 0.55, 0.44, 0.37])
_SMC_AV = np.array([0.11, 0.169, 0.25, 0.567, 0.801, 1.00, 1.374, 1.672])


def _uv_then_spline(x, uv, knots, values):
    """``uv(x)`` at ``λ ≤ 2700 Å``, else the natural spline through ``(knots, values)``."""
    ultraviolet = x >= _X_UV
    spline = spline_basis(np.where(ultraviolet, knots[0], x), knots) @ values
    return np.where(ultraviolet, uv(x), spline)


class FitzpatrickMassa07(FixedCurve):
    """Fitzpatrick & Massa (2007, ApJ 663, 320) Milky Way average curve, ``R_V = 3.1``.

    Defined on 910 Å – 6 μm. Equal to ``extinction.fm07`` to ≤ 1e-8 mag.
    """

    wave_range: ClassVar[tuple[float, float]] = (910.0, 60000.0)
    fixed_R_V: ClassVar[float | None] = _FM07_R_V

    def _curve_at(self, x: np.ndarray) -> np.ndarray:
        def k_uv(x):
            return fm90(x, *_FM07_UV, x_far=_FM07_C5, quadratic=True)

        k_ir = (-0.83 + 0.63 * _FM07_R_V) * _FM07_X_IR**1.84 - _FM07_R_V
        knots = np.concatenate([_FM07_X_IR, _FM07_X_OPT, _X_UV_ANCHORS])
        k = np.concatenate([k_ir, _FM07_K_OPT, k_uv(_X_UV_ANCHORS)])
        return 1.0 + _uv_then_spline(x, k_uv, knots, k) / _FM07_R_V


class Gordon03SMCBar(FixedCurve):
    """Gordon et al. (2003, ApJ 594, 279) SMC bar average curve, ``R_V = 2.74``.

    Defined on 1000 Å – 3.3 μm. Equal to ``dust_extinction``'s ``G03_SMCBar`` to ≤ 1e-8
    mag.
    """

    wave_range: ClassVar[tuple[float, float]] = (1e4 / 10.0, 1e4 / 0.3)
    fixed_R_V: ClassVar[float | None] = _SMC_R_V

    def _curve_at(self, x: np.ndarray) -> np.ndarray:
        def uv(x):
            return fm90(x, *_SMC_UV) / _SMC_R_V + 1.0

        knots = np.concatenate([[0.0], 1.0 / _SMC_LAM, _X_UV_ANCHORS])
        values = np.concatenate([[0.0], _SMC_AV, uv(_X_UV_ANCHORS)])
        return _uv_then_spline(x, uv, knots, values)
