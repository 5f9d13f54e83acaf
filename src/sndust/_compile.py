"""How sndust compiles the programs that run once per call.

A sampler run compiles a handful of programs that each run once or a few times: the MAP
starts, the Laplace Hessian, the start checks, the chains' initial states, the posterior
evaluation. Their compilation is most of their cost, and on CPU most of a short run's
fixed cost. XLA:CPU's fusion emitters (on by default in jaxlib 0.10) compile these
programs about a third faster when switched off, at no cost to a single evaluation; the
sampling loops keep them, since they run slower without (benchmarks/README.md,
"Measurements behind the defaults"). Off CPU, or where this
jaxlib does not know the option, the programs are compiled with the defaults.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax

__all__ = ["jit_once"]

_ONCE = {"xla_cpu_use_fusion_emitters": False}


@functools.cache
def _once_options() -> dict:
    if jax.default_backend() != "cpu":
        return {}
    try:  # an option this jaxlib lacks fails at compile time
        jax.jit(lambda x: x + 1, compiler_options=_ONCE).lower(1.0).compile()
    except Exception:  # noqa: BLE001 (XLA raises several kinds)
        return {}
    return dict(_ONCE)


def _tracing() -> bool:
    """Whether a JAX transformation is tracing the caller (compiler options are allowed
    only on the outermost ``jit``)."""
    try:
        from jax._src.core import trace_state_clean
    except ImportError:  # pragma: no cover (a JAX without it: no options anywhere)
        return True
    return not trace_state_clean()


def jit_once(fun):
    """``eqx.filter_jit(fun)`` compiled for a program that runs once or a few times per
    call (see the module docstring); inside another transformation it is an ordinary
    ``filter_jit``, inlined there. The options are chosen at the first call, so importing
    sndust starts no JAX backend."""
    plain = eqx.filter_jit(fun)
    once = None

    @functools.wraps(fun)
    def call(*args, **kwargs):
        nonlocal once
        if _tracing():
            return plain(*args, **kwargs)
        if once is None:
            options = _once_options()
            once = eqx.filter_jit(fun, compiler_options=options) if options else plain
        return once(*args, **kwargs)

    return call
