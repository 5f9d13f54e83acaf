"""Per-SN quasi-Newton (BFGS) fits, all SNe in one vectorised loop.

Every SN carries its own inverse-Hessian estimate (``d × d``, started from the exact
Hessian block, with negative curvature flipped), its own backtracking step length and its
own convergence flag; each iteration is one evaluation of the survey's per-SN log
densities and gradients, which serves every SN's trial point at once. Converged SNe stop
moving while hard ones keep iterating.

BayeSN's light curves are only piecewise smooth in the time of maximum (the Hsiao
template is interpolated linearly between whole days), so a fit's maximum can sit on a
kink where the gradient never vanishes. An SN therefore also stops when an accepted step
gains less than 1e-7 (relative) log density, or when backtracking finds no gain even at
steps 1e-10 of the quasi-Newton step ("stalled"): a local maximum to statistical
irrelevance, counted as converged.

The start (value, gradient and inverse Hessian blocks) is a program of its own, compiled
like the other once-per-call programs (``_compile.jit_once``): the Hessian is its ``d``
Hessian-vector products, the largest program of a per-SN fit, and compiled inside the
loop's program it also made that one costlier to compile, in time and in memory.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from .._compile import jit_once
from ._blocks import block_hessian, block_value_grad

__all__ = ["bfgs_blocks", "inverse_hessian_blocks", "positive_definite_inverse"]

_FTOL = 1e-7  # accepted steps gaining less than this relative log density end an SN's fit
_MIN_STEP = 1e-10  # backtracking below this step length: stalled
_ARMIJO = 1e-4
_SHRINK = 0.25


def positive_definite_inverse(H):
    """Inverse of each symmetric block with eigenvalues replaced by max(|λ|, floor)."""
    w, V = jnp.linalg.eigh(H)
    floor = 1e-8 * jnp.max(jnp.abs(w), axis=-1, keepdims=True) + 1e-12
    w = jnp.maximum(jnp.abs(w), floor)
    return (V / w[..., None, :]) @ jnp.swapaxes(V, -1, -2)


def bfgs_blocks(model, base, index, X0, max_steps, gtol):
    """Minimise each SN's negative log density over its block of ``base``.

    Returns:
        ``(X, log_density, grad_max, steps, converged)`` per SN.
    """
    f0, g0, Hinv0 = _start(model, base, index, X0)
    return _iterate(model, base, index, X0, f0, g0, Hinv0, max_steps, gtol)


def inverse_hessian_blocks(model, base, index, X):
    """Each SN's inverse Hessian block ``(n, d, d)`` of the negative log density at
    blocks ``X`` (eigenvalues floored): the per-SN Laplace covariances. The program is
    the BFGS start's, compiled once for both."""
    return _start(model, base, index, X)[2]


@jit_once
def _start(model, base, index, X0):
    f0, g0 = block_value_grad(model, base, index, X0)
    Hinv0 = positive_definite_inverse(block_hessian(model, base, index, X0))
    return f0, g0, Hinv0


@eqx.filter_jit
def _iterate(model, base, index, X0, f0, g0, Hinv0, max_steps, gtol):
    n, d = X0.shape
    eye = jnp.eye(d, dtype=X0.dtype)

    def cond(carry):
        _, _, _, _, _, finished, k, _ = carry
        return (k < max_steps) & ~jnp.all(finished)

    def body(carry):
        X, f, g, Hinv, alpha, finished, k, steps = carry
        p = -jnp.einsum("nij,nj->ni", Hinv, g)
        slope = jnp.sum(p * g, axis=1)
        # not a descent direction (rounding): fall back to steepest descent
        bad = slope >= 0
        p = jnp.where(bad[:, None], -g, p)
        slope = jnp.where(bad, -jnp.sum(g * g, axis=1), slope)
        active = ~finished
        trial = X + jnp.where(active, alpha, 0.0)[:, None] * p
        f_new, g_new = block_value_grad(model, base, index, trial)
        ok = active & jnp.isfinite(f_new) & (f_new <= f + _ARMIJO * alpha * slope)
        # BFGS update of the inverse Hessian for accepted steps with positive curvature
        s = trial - X
        y = g_new - g
        sy = jnp.sum(s * y, axis=1)
        rho = jnp.where(sy > 1e-12 * jnp.sqrt(jnp.sum(s * s, 1) * jnp.sum(y * y, 1)), 1 / sy, 0)
        V = eye - rho[:, None, None] * s[:, :, None] * y[:, None, :]
        ss = s[:, :, None] * s[:, None, :]
        updated = V @ Hinv @ jnp.swapaxes(V, 1, 2) + rho[:, None, None] * ss
        use = ok & (rho > 0)
        Hinv = jnp.where(use[:, None, None], updated, Hinv)
        gain = f - f_new
        X = jnp.where(ok[:, None], trial, X)
        g = jnp.where(ok[:, None], g_new, g)
        f = jnp.where(ok, f_new, f)
        alpha = jnp.where(ok, 1.0, jnp.where(active, alpha * _SHRINK, alpha))
        small = ok & (gain < _FTOL * jnp.maximum(1.0, jnp.abs(f)))
        finished = finished | small | (alpha < _MIN_STEP) | (jnp.max(jnp.abs(g), 1) < gtol)
        return X, f, g, Hinv, alpha, finished, k + 1, steps + active

    finished0 = jnp.max(jnp.abs(g0), axis=1) < gtol
    carry = (X0, f0, g0, Hinv0, jnp.ones(n, X0.dtype), finished0, 0, jnp.zeros(n, jnp.int32))
    X, f, g, _, _, finished, _, steps = jax.lax.while_loop(cond, body, carry)
    healthy = jnp.isfinite(f) & jnp.all(jnp.isfinite(g), axis=1)
    return X, -f, jnp.max(jnp.abs(g), axis=1), steps, finished & healthy
