"""Maximum a posteriori fits with Optax.

The mode is found in the sampler's unconstrained coordinates (log A_V, non-centred R_V
and ε; see ``_model/_reparam.py``) — exactly the point samplers start from and the
Laplace approximation expands around. It is not an estimator of scale hyperparameters
(joint modes of σ0, σ_R sit away from their posteriors in any parameterisation); sample
for those.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Bool, Float, Int

from .._compile import jit_once
from .._custom_types import Flat, Scalar
from .._errors import ConfigError, ModelError
from ._batching import map_starts
from ._bfgs import bfgs_blocks
from ._lbfgs import lbfgs

__all__ = ["MAP", "MAPResult"]

_NAMED = ("auto", "per_sn", "lbfgs", "adam")
# One instance: filter_jit keys its cache on it, so a fresh optax.adam() per run would
# recompile the whole model every time.
_ADAM = optax.adam(1e-2)


class MAPResult(eqx.Module):
    """Outcome of :meth:`MAP.run`.

    Attributes:
        position: best flat unconstrained vector (what samplers take as ``init``).
        log_density: log density there.
        converged: whether the best start stopped on a criterion (gradient below ``gtol``,
            or the log density no longer changing) rather than at ``steps``.
        steps: optimiser steps taken by the best start.
        grad_max: largest |∂ log p / ∂x| at the best point.
        start_log_density: final log density of every start (spread ⇒ multi-modality).
        start_positions: final position of every start.
        params: named physical values at ``position`` (see ``HierarchicalModel.constrain``).
        per_sn_converged: for per-SN fits, each SN's convergence flag.
        per_sn_steps: for per-SN fits, the iterations each SN took.
    """

    position: Flat
    log_density: Scalar
    converged: Bool[Array, ""]
    steps: Int[Array, ""]
    grad_max: Scalar
    start_log_density: Float[Array, " starts"]
    start_positions: Float[Array, "starts dim"]
    params: dict
    per_sn_converged: Bool[Array, " n_sn"] | None = None
    per_sn_steps: Int[Array, " n_sn"] | None = None


class MAP(eqx.Module):
    """Gradient-based MAP optimiser over a model's flat unconstrained vector.

    Example::

        fit = sd.MAP().run(model, jax.random.key(0))
        fit = sd.MAP(optax.adam(1e-2), steps=3000, starts=4).run(model, key)

    Args:
        optimizer: ``"auto"`` (default: ``"per_sn"`` for models without hyperparameters,
            i.e. per-SN fits, else ``"lbfgs"``); ``"per_sn"``: a BFGS per SN started from
            its exact Hessian block, hyperparameters held at their starting values, each
            SN converging on its own and, with several starts, keeping its best start;
            ``"lbfgs"``: limited-memory BFGS on the whole vector with a backtracking
            (Armijo) line search, one gradient per iteration (``_inference/_lbfgs.py``);
            ``"adam"``: ``optax.adam(1e-2)``; or any Optax transformation.
        steps: maximum number of optimiser steps per start.
        gtol: converged when every |∂ log p/∂x| is below this (unconstrained units).
        ftol: also stop when a step changes the log density by less than ``ftol`` relative
            (the model is only piecewise smooth in t_max, so gradients need not vanish).
        starts: independent random starts (vmapped for whole-vector optimisers — in
            groups, down to one at a time, where a vmap of all would hold too much memory
            — one after another for ``per_sn``); the best is returned (per SN for
            ``per_sn``).
        radius: random starts are uniform in (−radius, radius) for hyperparameters, A_V
            and R_V (see ``HierarchicalModel.init_position``).
    """

    optimizer: optax.GradientTransformation | str = eqx.field(static=True, default="auto")
    steps: int = eqx.field(static=True, default=1000)
    gtol: float = eqx.field(static=True, default=1e-3)
    ftol: float = eqx.field(static=True, default=1e-12)
    starts: int = eqx.field(static=True, default=1)
    radius: float = eqx.field(static=True, default=2.0)

    def __check_init__(self):
        if isinstance(self.optimizer, str) and self.optimizer not in _NAMED:
            raise ConfigError(
                f"optimizer must be one of {_NAMED} or an optax transformation, got "
                f"{self.optimizer!r}",
                field="optimizer",
            )
        if self.steps < 1 or self.starts < 1:
            raise ConfigError("steps and starts must be at least 1", field="steps")

    def _transformation(self):
        if self.optimizer in ("lbfgs", "auto"):
            return None  # the lean L-BFGS of _lbfgs
        if self.optimizer == "adam":
            return _ADAM
        return optax.with_extra_args_support(self.optimizer)

    def run(self, model, key, init: Float[Array, "*starts dim"] | None = None) -> MAPResult:
        """Maximise ``model.logdensity`` from ``init`` (one vector, or one per start) or
        from ``starts`` random points."""
        if init is None:
            init = random_starts(model, jax.random.split(key, self.starts), self.radius)
        init = jnp.atleast_2d(jnp.asarray(init, model.prepared.obs_fluxcal.dtype))
        if init.shape[-1] != model.dim:
            raise ConfigError(
                f"init has length {init.shape[-1]}, the model has {model.dim} parameters",
                field="init",
            )
        method = self.optimizer
        if method == "auto":
            method = "lbfgs" if model.layout.hyper else "per_sn"
        if method == "per_sn":
            return self._run_per_sn(model, init)
        positions, values, steps, gmax, ok = _optimise(
            model, init, self._transformation(), self.steps, self.gtol, self.ftol
        )
        # picked in NumPy: each op-by-op JAX call here would compile a program
        values = np.asarray(values)
        values = np.where(np.isnan(values), -np.inf, values)
        best = int(np.argmax(values))
        if not np.isfinite(values[best]):
            _diagnose(model, init[0])
        position = jnp.asarray(np.asarray(positions)[best])
        return MAPResult(
            position=position,
            log_density=jnp.asarray(values[best]),
            converged=jnp.asarray(np.asarray(ok)[best]),
            steps=jnp.asarray(np.asarray(steps)[best]),
            grad_max=jnp.asarray(np.asarray(gmax)[best]),
            start_log_density=jnp.asarray(values),
            start_positions=positions,
            params=model.constrain(position),
        )

    def _run_per_sn(self, model, init):
        index = jnp.asarray(model.layout.per_sn_index())
        # hyperparameters are held fixed: every start shares those of the first, so each
        # SN's starts are compared under the same population
        init = jax.vmap(lambda x: init[0].at[index].set(x[index]))(init)
        runs = [bfgs_blocks(model, x0, index, x0[index], self.steps, self.gtol) for x0 in init]
        X, value, gmax, steps, ok = (jnp.stack(parts) for parts in zip(*runs))
        if not np.all(np.isfinite(np.asarray(value)).any(axis=0)):
            _diagnose(model, init[0])
        best = jnp.argmax(jnp.where(jnp.isnan(value), -jnp.inf, value), axis=0)  # per SN
        pick = jnp.arange(model.n_sn)
        position = init[0].at[index].set(X[best, pick])
        total = model.logdensity(position)
        return MAPResult(
            position=position,
            log_density=total,
            converged=jnp.all(ok[best, pick]),
            steps=jnp.max(steps[best, pick]),
            grad_max=jnp.max(gmax[best, pick]),
            start_log_density=jnp.sum(value, axis=1) + (total - jnp.sum(value[best, pick])),
            start_positions=jax.vmap(lambda x0, Xs: x0.at[index].set(Xs))(init, X),
            params=model.constrain(position),
            per_sn_converged=ok[best, pick],
            per_sn_steps=steps[best, pick],
        )


def _diagnose(model, start):
    """Name the block that makes the log density non-finite (ModelError), or say that the
    optimiser left the region where it is finite."""
    totals = model.check(start)
    zero = [name for name, value in totals.items() if value == -np.inf]
    if zero:
        raise ModelError(
            f"the log density is -inf at the start (zero density in {', '.join(zero)}); "
            "check fixed values and starting points",
            field=zero[0],
        )
    raise ModelError(
        "the optimiser reached points where the log density is not finite although it is "
        "finite at the start; try another optimiser or smaller steps",
        field="optimizer",
    )


random_starts = jit_once(
    lambda model, keys, radius: jax.vmap(lambda k: model.init_position(k, radius=radius))(keys)
)


@eqx.filter_jit
def _optimise(model, init, opt, max_steps, gtol, ftol):
    # the optimiser works in JAX's widest float whatever the model's dtype (line-search
    # comparisons of nearly equal log densities); the model is evaluated in its own
    model_dtype = init.dtype
    init = init.astype(jax.dtypes.canonicalize_dtype(jnp.float64))

    def loss(x):
        return -model.logdensity(x.astype(model_dtype)).astype(x.dtype)

    value_and_grad = jax.value_and_grad(loss)

    def one(x0):
        if opt is None:  # the lean L-BFGS: one gradient per iteration (see _lbfgs)
            x, value, k, gmax, ok = lbfgs(value_and_grad, x0, max_steps, gtol, ftol)
            return x.astype(model_dtype), -value.astype(model_dtype), k, gmax, ok
        state = opt.init(x0)

        def cond(carry):
            _, _, k, g, change = carry
            return (k < max_steps) & (jnp.max(jnp.abs(g)) >= gtol) & (change > 0)

        def body(carry):
            x, state, k, _, _ = carry
            value, grad = value_and_grad(x)
            updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=loss)
            x = optax.apply_updates(x, updates)
            # stop once a step no longer moves the log density (checked every 10 steps so
            # that one flat step does not end a run)
            small = jnp.abs(loss(x) - value) <= ftol * jnp.maximum(1.0, jnp.abs(value))
            change = jnp.where(small & (k % 10 == 9), 0.0, 1.0)
            return x, state, k + 1, grad, change

        # (the first pass always runs: its gradient check uses the placeholder ∞)
        g0 = jnp.full_like(x0, jnp.inf)
        x, state, k, _, _ = jax.lax.while_loop(cond, body, (x0, state, 0, g0, 1.0))
        value, grad = value_and_grad(x)
        gmax = jnp.max(jnp.abs(grad))
        ok = (gmax < gtol) | ((ftol > 0) & (k < max_steps))  # stopped on a criterion
        return x.astype(model_dtype), -value.astype(model_dtype), k, gmax, ok

    return map_starts(model, one, init)  # vmapped, or in groups for long light curves
