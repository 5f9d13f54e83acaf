"""Limited-memory BFGS with one gradient evaluation per loop iteration.

``optax.lbfgs`` pairs its update with a zoom line search (strong Wolfe conditions), and
the compiled program holds the model's gradient several times over (the optimiser loop
and the line search's own loops each evaluate it). For a survey model a copy
of the gradient costs seconds of tracing and compiling, which every sampler run pays for
its MAP start. Here the whole optimiser is a single ``while_loop`` whose body evaluates
the loss and gradient exactly once, at a trial point:

* accepted (finite, and the Armijo sufficient-decrease condition holds): the pair
  ``(s, y)`` enters the history when its curvature ``s·y`` is safely positive (Armijo
  alone does not guarantee it), the next direction comes from the two-loop recursion and
  the trial step is 1;
* rejected: the step shrinks (to the minimiser of the quadratic through ``f``, the slope
  and the trial value, kept within [0.1, 0.5] of the step; by 10 for a non-finite trial).
  When it is negligible the history is dropped and the search restarts along the
  gradient; when that fails too, the optimiser has stalled.

The first iteration evaluates the start itself (step 0), so no evaluation sits outside
the loop. Nocedal & Wright, *Numerical Optimization* (2006), algorithms 7.4 and 3.1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["lbfgs"]

_ARMIJO = 1e-4
_MIN_STEP = 1e-10  # relative to the step 1 of the current direction
_EVALS_PER_STEP = 4  # evaluation budget: this many per allowed accepted step


def _two_loop(g, S, Y, rho, newest, gamma):
    """``H g`` for the L-BFGS inverse-Hessian estimate ``H`` (zero ``rho`` rows unused)."""
    m = S.shape[0]
    order = (newest - jnp.arange(m)) % m  # newest first

    def backward(q, i):
        a = rho[i] * jnp.dot(S[i], q)
        return q - a * Y[i], a

    q, a = jax.lax.scan(backward, g, order)

    def forward(r, ia):
        i, ai = ia
        b = rho[i] * jnp.dot(Y[i], r)
        return r + (ai - b) * S[i], None

    r, _ = jax.lax.scan(forward, gamma * q, (order[::-1], a[::-1]))
    return r


def lbfgs(value_and_grad, x0, max_steps, gtol, ftol, memory=10):
    """Minimise from ``x0``.

    Args:
        value_and_grad: ``x -> (f, ∇f)``.
        max_steps: most accepted steps (at most ``4 × max_steps`` evaluations in all).
        gtol: converged when every |∂f/∂x| is below this at the current point.
        ftol: stop when an accepted step changes ``f`` by at most ``ftol`` relative.
        memory: number of ``(s, y)`` pairs kept.

    Returns:
        ``(x, f, steps, grad_max, converged)``: the last accepted point, its value, the
        accepted steps, max |∇f| there, and whether it stopped on ``gtol``, on ``ftol``
        or stalled (no decrease even along the gradient) rather than on a budget. ``f``
        is NaN when the start itself was not finite.
    """
    d = x0.shape[0]
    dtype = x0.dtype
    zeros = jnp.zeros((memory, d), dtype)
    inf = jnp.asarray(jnp.inf, dtype)
    # (x, f, g, direction, slope g·p, step, S, Y, rho, newest, gamma, accepted steps,
    #  evaluations, converged, done)
    carry = (
        x0, inf, jnp.zeros_like(x0), jnp.zeros_like(x0), jnp.zeros((), dtype),
        jnp.zeros((), dtype), zeros, zeros, jnp.zeros(memory, dtype), jnp.int32(-1),
        jnp.ones((), dtype), jnp.int32(0), jnp.int32(0), jnp.bool_(False), jnp.bool_(False),
    )  # fmt: skip

    def cond(c):
        return ~c[-1]

    def body(c):
        x, f, g, p, slope, step, S, Y, rho, newest, gamma, k, n_eval, _, _ = c
        trial = x + step * p
        f_t, g_t = value_and_grad(trial)
        finite = jnp.isfinite(f_t) & jnp.all(jnp.isfinite(g_t))
        first = n_eval == 0
        accept = finite & (first | (f_t <= f + _ARMIJO * step * slope))

        # accepted: update the history with (s, y) when its curvature is safely positive
        s, y = trial - x, g_t - g
        sy = jnp.dot(s, y)
        yy = jnp.dot(y, y)
        curved = accept & ~first & (sy > 1e-10 * jnp.sqrt(jnp.dot(s, s) * yy))
        slot = jnp.where(curved, (newest + 1) % memory, newest)
        S = jnp.where(curved, S.at[slot].set(s), S)
        Y = jnp.where(curved, Y.at[slot].set(y), Y)
        rho = jnp.where(curved, rho.at[slot].set(1 / sy), rho)
        gamma = jnp.where(curved, sy / yy, gamma)
        # the first direction is the gradient scaled to unit length
        gamma = jnp.where(first, 1 / jnp.maximum(jnp.linalg.norm(g_t), 1e-300), gamma)
        newest = slot

        x_a = jnp.where(accept, trial, x)
        g_a = jnp.where(accept, g_t, g)
        f_a = jnp.where(accept, f_t, f)
        p_new = -_two_loop(g_a, S, Y, rho, newest, gamma)
        descent = jnp.dot(g_a, p_new) < 0

        # rejected: shrink the step; restart along the gradient once it is negligible
        quad = -slope * step**2 / (2 * (f_t - f - slope * step))
        shrunk = jnp.where(finite, jnp.clip(quad, 0.1 * step, 0.5 * step), 0.1 * step)
        shrunk = jnp.where(jnp.isfinite(shrunk), shrunk, 0.1 * step)
        tiny = ~accept & (shrunk < _MIN_STEP)
        have_history = jnp.any(rho != 0)
        restart = (accept & ~descent) | (tiny & have_history)
        stalled = tiny & ~have_history

        rho = jnp.where(restart, jnp.zeros_like(rho), rho)
        g_norm = jnp.maximum(jnp.linalg.norm(g_a), 1e-300)
        p = jnp.where(restart, -g_a / g_norm, jnp.where(accept, p_new, p))
        step = jnp.where(accept | restart, 1.0, shrunk).astype(dtype)
        slope = jnp.dot(g_a, p)

        k = k + (accept & ~first)
        n_eval = n_eval + 1
        small = accept & ~first & (jnp.abs(f - f_t) <= ftol * jnp.maximum(1.0, jnp.abs(f_t)))
        converged = jnp.isfinite(f_a) & ((jnp.max(jnp.abs(g_a)) < gtol) | small | stalled)
        done = (
            (first & ~finite)
            | converged
            | (k >= max_steps)
            | (n_eval >= _EVALS_PER_STEP * max_steps)
        )
        return (x_a, f_a, g_a, p, slope, step, S, Y, rho, newest, gamma, k, n_eval, converged,
                done)  # fmt: skip

    x, f, g, *_, k, _, converged, _ = jax.lax.while_loop(cond, body, carry)
    f = jnp.where(jnp.isinf(f), jnp.nan, f)
    return x, f, k, jnp.max(jnp.abs(g)), converged
