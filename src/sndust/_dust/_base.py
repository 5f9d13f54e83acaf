"""The interface every dust law implements.

A dust law gives the extinction curve ``A_λ / A_V`` at rest wavelengths ``λ`` (Å) for a
ratio of total to selective extinction ``R_V = A_V / E(B−V)``. Inside a sampler the
wavelengths never change while ``R_V`` does, so each law splits its work in two:

* :meth:`AbstractDustLaw.precompute` does, once and with NumPy, everything that depends
  on the wavelengths only (``x = 10⁴/λ``, region masks, spline bases);
* :meth:`AbstractDustLaw.curve_from` does the ``R_V``-dependent rest, with ``jax.numpy``
  (traceable: ``jit``/``grad``/``vmap`` in ``R_V``) or NumPy (set-up time).
"""

from __future__ import annotations

import abc
from types import ModuleType
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PyTree, Real

from .._errors import ModelError

__all__ = ["AbstractDustLaw"]


class AbstractDustLaw(eqx.Module):
    """Host-galaxy dust law: ``A_λ / A_V`` as a function of rest wavelength and ``R_V``.

    Subclasses are final and set the class variable ``wave_range``. A law is a formula:
    its parameter ``R_V`` is an argument, never a field; the only fields a law may have
    are static options (such as :class:`Gordon23`'s ``renorm``). They
    implement :meth:`precompute` and :meth:`curve_from`; :meth:`curve` and
    :meth:`extinction` are built on those two and are not overridden.

    Shapes: ``wave`` is usually ``(n_wave,)``; any shape ``W`` works. ``R_V`` and ``A_V``
    may be scalars or any batch shape (e.g. ``(n_sn,)``). Curves have shape
    ``shape(R_V) + W``; extinctions ``broadcast(shape(A_V), shape(R_V)) + W``.
    """

    wave_range: eqx.AbstractClassVar[tuple[float, float]]
    """``(λ_min, λ_max)`` in Å, inclusive: where the law is defined."""

    R_V_range: ClassVar[tuple[float, float] | None] = None
    """``(R_V_min, R_V_max)`` of the sightlines the law was calibrated on, or ``None``
    where its paper gives none. Informational: the formula is evaluated (and
    differentiable) at any ``R_V > 0``, because a sampler's trajectory must not fail
    where a population's prior reaches outside it."""

    fixed_R_V: ClassVar[float | None] = None
    """For a fixed curve (one environment's average, such as the SMC bar), the ``R_V``
    the curve has; ``None`` for a law that takes ``R_V``. A fixed curve ignores the
    ``R_V`` argument: its derivative in ``R_V`` is zero."""

    @abc.abstractmethod
    def precompute(self, wave: Real[ArrayLike, "*wave"]) -> PyTree[Float[np.ndarray, "..."]]:
        """Everything that depends on the wavelengths only, computed with NumPy.

        Args:
            wave: rest wavelengths in Å, shape ``W``; all within :attr:`wave_range`.

        Returns:
            A pytree of float64 NumPy arrays, to be passed to :meth:`curve_from`. Its
            leaves may be converted to JAX arrays (of float32 or float64) before that.

        Raises:
            ModelError: if a wavelength is outside :attr:`wave_range` or not finite.
        """

    @abc.abstractmethod
    def curve_from(
        self,
        pre: PyTree[Float[ArrayLike, "..."]],
        R_V: Float[ArrayLike, "..."],
        xp: ModuleType = jnp,
    ) -> Float[Array, "..."] | Float[np.ndarray, "..."]:
        """``A_λ / A_V`` at the wavelengths given to :meth:`precompute`.

        Args:
            pre: the output of :meth:`precompute` (leaves NumPy or JAX arrays).
            R_V: ratio of total to selective extinction, any shape ``S``.
            xp: ``jax.numpy`` (traceable; keeps the input dtype) or ``numpy``.

        Returns:
            Array of shape ``S + W``.
        """

    def wavenumber(self, wave: Real[ArrayLike, "*wave"]) -> Float[np.ndarray, "*wave"]:
        """``x = 10⁴/λ`` in μm⁻¹ (float64 NumPy), for :meth:`precompute`.

        Raises:
            ModelError: a wavelength outside :attr:`wave_range` or not finite (naming the
                law, its range and the first offending wavelengths), or traced wavelengths.
        """
        return _wavenumber(self, wave)

    def curve(
        self, wave: Real[ArrayLike, "*wave"], R_V: Float[ArrayLike, "..."], xp: ModuleType = jnp
    ) -> Float[Array, "..."] | Float[np.ndarray, "..."]:
        """``A_λ / A_V`` at rest wavelengths ``wave`` (Å, shape ``W``) for ``R_V`` (shape ``S``).

        Equal to ``curve_from(precompute(wave), R_V, xp)``; shape ``S + W``. ``wave`` must
        be concrete (NumPy or a non-traced array), ``R_V`` may be traced.
        """
        return self.curve_from(self.precompute(wave), R_V, xp)

    def extinction(
        self,
        wave: Real[ArrayLike, "*wave"],
        A_V: Float[ArrayLike, "..."],
        R_V: Float[ArrayLike, "..."],
        xp: ModuleType = jnp,
    ) -> Float[Array, "..."] | Float[np.ndarray, "..."]:
        """Extinction ``A_λ`` in magnitudes: ``A_V · curve(wave, R_V)``.

        Args:
            wave: rest wavelengths in Å, shape ``W``.
            A_V: V-band extinction in mag, shape ``S_A`` (e.g. ``()`` or ``(n_sn,)``).
            R_V: shape ``S_R``, broadcastable with ``S_A``.
            xp: ``jax.numpy`` or ``numpy``.

        Returns:
            Array of shape ``broadcast(S_A, S_R) + W``.
        """
        curve = self.curve(wave, R_V, xp)
        A_V = xp.asarray(A_V)
        return _append_axes(A_V, np.ndim(wave), xp) * curve


def _append_axes(a: Any, n: int, xp: ModuleType) -> Any:
    """``a`` with ``n`` trailing length-one axes, so it broadcasts against ``shape(a) + W``."""
    return xp.reshape(a, xp.shape(a) + (1,) * n)


def _wavenumber(law: AbstractDustLaw, wave: Real[ArrayLike, "*wave"]) -> Float[np.ndarray, "*wave"]:
    """``x = 10⁴ / λ`` in μm⁻¹ (float64), after checking ``λ`` against ``law.wave_range``.

    ``x`` is computed exactly as the ``extinction`` package does (one float64 division),
    so that points on a region boundary fall on the same side in both.
    """
    name = type(law).__name__
    try:
        wave = np.asarray(wave, dtype=np.float64)
    except jax.errors.TracerArrayConversionError:
        raise ModelError(
            f"the {name} dust law precomputes at fixed wavelengths: pass them as a NumPy "
            "array (closed over, not a traced argument); only R_V and A_V may be traced",
            field="wave",
        ) from None
    lo, hi = law.wave_range
    bad = ~(np.isfinite(wave) & (wave >= lo) & (wave <= hi))
    if np.any(bad):
        shown = ", ".join(f"{w:g}" for w in wave[bad][:5])
        more = "" if bad.sum() <= 5 else f", … ({int(bad.sum())} in all)"
        raise ModelError(
            f"the {name} dust law is defined for wavelengths {lo:g}–{hi:g} Å; got {shown}{more} Å",
            field="wave",
        )
    return 1e4 / wave
