"""Floating-point precision: the one place sndust touches JAX's configuration."""

from __future__ import annotations

import jax

__all__ = ["enable_x64"]


def enable_x64(enabled: bool = True) -> None:
    """Switch JAX to float64 (BayeSN's precision, the default for parity work) or back.

    sndust never changes precision on import; call this once at the start of a script,
    before creating arrays. float32 (``enable_x64(False)``, JAX's default) is the fast path
    on GPUs; :func:`sndust.prepare` takes ``dtype=`` to build float32 arrays either way.
    """
    jax.config.update("jax_enable_x64", bool(enabled))
