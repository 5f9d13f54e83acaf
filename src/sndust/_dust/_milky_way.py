"""Milky Way (Galactic) dust transmission along the line of sight to each SN.

BayeSN (Mandel et al. 2022, MNRAS 510, 3939; Grayling et al. 2024, MNRAS 531, 953)
dims the observer-frame flux by Galactic dust with the Fitzpatrick (1999, PASP 111, 63)
law at ``R_V = 3.1`` and ``A_V = R_V · E(B−V)_MW``, where ``E(B−V)_MW`` comes from the
dust maps (e.g. Schlafly & Finkbeiner 2011, ApJ 737, 103). The reddening is known, not
sampled, so the transmission is computed once with NumPy at set-up.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import ArrayLike, Float, Real

from .._errors import ModelError
from ._base import AbstractDustLaw
from ._fitzpatrick99 import Fitzpatrick99

__all__ = ["milky_way_R_V", "milky_way_transmission"]


def milky_way_transmission(
    wave_obs: Real[ArrayLike, "*wave_batch n_wave"],
    ebv: Float[ArrayLike, "*ebv_batch"],
    R_V: float | None = None,
    law: AbstractDustLaw | None = None,
) -> Float[np.ndarray, "..."]:
    """Fraction of flux transmitted through Milky Way dust, ``10^(−0.4 A_λ)``.

    ``A_λ = R_V · E(B−V) · law.curve(λ, R_V)`` at observer-frame wavelengths ``λ``.

    Args:
        wave_obs: observer-frame wavelengths in Å, either one grid ``(n_wave,)`` shared
            by all SNe or one per SN, ``(n_sn, n_wave)``.
        ebv: Galactic reddening ``E(B−V)`` in mag: a scalar or ``(n_sn,)``.
        R_V: Galactic ``R_V``: by default 3.1 (BayeSN's), or a fixed curve's own
            (``law.fixed_R_V``).
        law: the dust law; :class:`Fitzpatrick99` (BayeSN's choice) if ``None``.

    Returns:
        float64 array: ``(n_wave,)`` for a scalar ``ebv`` and one grid, else
        ``(n_sn, n_wave)``.

    Raises:
        ModelError: if a wavelength is outside ``law.wave_range``, or ``R_V`` is given for
            a fixed curve and differs from the curve's own.
    """
    law = Fitzpatrick99() if law is None else law
    R_V = milky_way_R_V(law, R_V)
    curve = law.curve(wave_obs, R_V, xp=np)
    ebv = np.asarray(ebv, dtype=np.float64)
    return 10.0 ** (-0.4 * R_V * ebv[..., None] * curve)


def milky_way_R_V(law: AbstractDustLaw, R_V: float | None = None) -> float:
    """The Galactic ``R_V`` used with ``law``: ``R_V`` if given, else the law's own
    (a fixed curve's :attr:`~AbstractDustLaw.fixed_R_V`) or BayeSN's 3.1."""
    fixed = law.fixed_R_V
    if R_V is None:
        return 3.1 if fixed is None else float(fixed)
    R_V = float(R_V)
    if not (np.isfinite(R_V) and R_V > 0):
        raise ModelError(f"the Milky Way R_V must be a positive number, got {R_V}", field="R_V")
    if fixed is not None and R_V != fixed:
        raise ModelError(
            f"{type(law).__name__} is a fixed curve with R_V = {fixed:g}; got R_V = {R_V:g} "
            "for the Milky Way (leave it unset)",
            field="R_V",
        )
    return R_V
