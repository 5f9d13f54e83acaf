"""The Calzetti et al. (2000, ApJ 533, 682; "C00") starburst attenuation law.

C00 measured the attenuation of starburst galaxies' continua from 0.12 to 2.2 μm as
``k(λ) = A_λ/E(B−V)``: ``2.659 (−2.156 + 1.509 x − 0.198 x² + 0.011 x³) + R_V`` below
0.63 μm and ``2.659 (−1.857 + 1.040 x) + R_V`` above, in ``x = 10⁴/λ[Å]`` (μm⁻¹), with
``R_V = 4.05 ± 0.80``. ``A_λ/A_V = k/R_V``. It describes a galaxy's integrated light
(dust mixed with stars), not a single sightline, which is why SN studies use it as a
contrast to the Milky Way laws. Tested against the ``extinction`` package's
``calzetti00``.
"""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar, NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real

from ._base import AbstractDustLaw, _append_axes, _wavenumber

__all__ = ["Calzetti00"]

_X_BREAK = 1.0 / 0.63  # μm⁻¹


class _C00Wavelengths(NamedTuple):
    """``k(λ) − R_V`` at the precomputed wavelengths (shape ``W``)."""

    k: np.ndarray


class Calzetti00(AbstractDustLaw):
    """Calzetti et al. (2000, ApJ 533, 682) attenuation, ``A_λ/A_V = 1 + (k − R_V)/R_V``.

    Defined on 1200 Å – 2.2 μm; the paper's ``R_V = 4.05 ± 0.80``. Equal to
    ``extinction.calzetti00`` to ≤ 1e-8 mag.
    """

    wave_range: ClassVar[tuple[float, float]] = (1200.0, 22000.0)

    def precompute(self, wave: Real[ArrayLike, "*wave"]) -> _C00Wavelengths:
        """``k − R_V`` at rest wavelengths ``wave`` (Å, shape ``W``)."""
        x = _wavenumber(self, wave)
        blue = 2.659 * (((0.011 * x - 0.198) * x + 1.509) * x - 2.156)
        red = 2.659 * (1.040 * x - 1.857)
        return _C00Wavelengths(np.where(x > _X_BREAK, blue, red))

    def curve_from(
        self, pre: _C00Wavelengths, R_V: Float[ArrayLike, "..."], xp: ModuleType = jnp
    ) -> Float[Array, "..."] | Float[np.ndarray, "..."]:
        """``A_λ/A_V`` of shape ``shape(R_V) + W`` from :meth:`precompute`'s output."""
        R_V = _append_axes(xp.asarray(R_V), xp.ndim(pre.k), xp)
        return 1.0 + pre.k / R_V
