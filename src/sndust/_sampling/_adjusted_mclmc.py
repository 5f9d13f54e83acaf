"""Metropolis-adjusted microcanonical Langevin Monte Carlo (BlackJAX; Robnik+25) with a
warm-up whose metric is pooled over every chain."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._errors import ConfigError
from ._adaptation import (
    DiagonalWelford,
    dual_averaging,
    dual_averaging_start,
    pooled_variance,
    robbins_monro_log_step,
)
from ._base import MIN_EXTENDED_WARMUP, AbstractSampler, Carry, Control, Stage, step_key
from ._integrators import initial_params, isokinetic_mclachlan
from ._metric import blackjax

__all__ = ["AdjustedMCLMC"]


class AdjustedAdaptation(NamedTuple):
    """Dual averaging's state, the step size in use, the diagonal inverse mass matrix and
    the positions' running moments over the current stage."""

    da: Any
    step: Array
    inverse_mass_matrix: Array
    moments: DiagonalWelford


class AdjustedMCLMCStats(NamedTuple):
    lp: Array
    diverging: Array
    acceptance_rate: Array
    n_steps: Array
    energy: Array
    step_size: Array
    L: Array


class AdjustedMCLMC(AbstractSampler):
    """Metropolis-adjusted MCLMC (BlackJAX ``adjusted_mclmc_dynamic``; Robnik+25):
    isokinetic trajectories of random length (mean L / step size, two gradients per
    McLachlan integration step) with an accept/reject step, so it is asymptotically
    exact.

    Warm-up (``num_warmup`` kernel steps; see ``_plan``), in four stages that all chains
    run together: 10% at 2-step trajectories (cheap: finds the scale of the step), then
    20%, 40% and 30% at ``integration_steps``. The first three tune the step size by dual
    averaging towards ``target_accept``; the last settles it by Robbins–Monro
    (:func:`~._adaptation.robbins_monro_log_step`), whose last iterate is the step whose
    acceptance is the target (dual averaging's averaged step accepted 0.98–0.997 for a
    target of 0.9, with a step 1.3–1.4 × smaller). The first two stages start from the
    Laplace variances; each of the last two starts from the positions' variance over the
    previous stage pooled across every chain (:func:`~._adaptation.pooled_variance`), so
    all chains share one metric and a chain that wandered off widens it rather than
    tuning itself to its own corner. BlackJAX's tuner, run per chain, took 1.6 ×
    ``num_warmup`` steps and estimated each chain's metric from that chain alone
    (benchmarks/README.md).

    Args:
        num_warmup: warm-up kernel steps.
        num_samples: draws kept per chain.
        thin: kernel steps per kept draw.
        target_accept: target acceptance rate.
        integration_steps: mean integration steps per proposal (L = integration_steps ×
            step size). BlackJAX's default, 2, makes the sampler MALA-like and leaves the
            population widths unmixed; 32 mixes them (benchmarks/README.md).
        diagonal_preconditioning: replace the Laplace variances by the pooled variances
            of the warm-up draws (False: keep the Laplace variances).
    """

    num_warmup: int = 500
    num_samples: int = 1000
    thin: int = 1
    target_accept: float = 0.9
    integration_steps: float = 32.0
    diagonal_preconditioning: bool = True

    name: ClassVar[str] = "AdjustedMCLMC"
    Stats: ClassVar[type] = AdjustedMCLMCStats
    needs_float64: ClassVar[bool] = True

    def __check_init__(self):
        if not 0 < self.target_accept < 1:
            raise ConfigError("target_accept must be in (0, 1)", field="target_accept")
        steps = self.integration_steps
        if isinstance(steps, bool) or not isinstance(steps, int | float) or not steps >= 1.2:
            raise ConfigError(  # random lengths ⌈u · 2 · mean⌉ need a mean above one step
                f"integration_steps must be a number ≥ 1.2, got {steps!r}",
                field="integration_steps",
            )

    def _kernel(self):
        dynamic = blackjax().mcmc.adjusted_mclmc_dynamic
        return dynamic.build_kernel(
            integration_steps_fn=dynamic.make_random_trajectory_length_fn(True),
            integrator=isokinetic_mclachlan,
        )

    def init(self, logdensity, position, key, metric) -> Carry:
        dynamic = blackjax().mcmc.adjusted_mclmc_dynamic
        state = dynamic.init(position, logdensity, jax.random.key_data(key))
        imm = metric.diagonal()
        step = initial_params(imm, 0.2).step_size
        adaptation = AdjustedAdaptation(
            da=dual_averaging_start(step, self.target_accept),
            step=step,
            inverse_mass_matrix=imm,
            moments=DiagonalWelford.empty(position),
        )
        return Carry(state, adaptation)

    def _plan(self):
        """Warm-up stages: kernel steps, mean integration steps per trajectory, whether
        the stage takes the previous stage's pooled variances as its metric, and whether
        it settles the step size (Robbins–Monro) rather than exploring (dual averaging)."""
        n, k = self.num_warmup, float(self.integration_steps)
        search, first, second = n // 10, n // 5, 2 * n // 5
        return {
            "steps": np.array([search, first, second, n - search - first - second], np.int32),
            "avg": np.array([min(2.0, k), k, k, k]),
            "pooled": np.array([False, False, True, True]) & self.diagonal_preconditioning,
            "settle": np.array([False, False, False, True]),
        }

    def stages(self) -> tuple[Stage, ...]:
        """The warm-up stages of :meth:`_plan` (zero-length ones dropped), then sampling
        at ``integration_steps``."""
        plan = self._plan()
        warmup = tuple(
            Stage(int(n), pooled=bool(p), knob=float(a), settle=bool(s))
            for n, a, p, s in zip(plan["steps"], plan["avg"], plan["pooled"], plan["settle"])
            if n > 0
        )
        return (*warmup, self.sampling(knob=float(self.integration_steps)))

    def extension(self) -> tuple[Stage, ...]:
        """Half the warm-up again as one more of its last stage: the metric pooled over
        every chain's positions in the previous stretch (a chain that has not joined
        the others widens it), the step size settled again by Robbins–Monro from the
        current one. None for a warm-up under 200 steps (an extension of fewer than 100
        steps left a worse tuning than it replaced)."""
        if self.num_warmup < MIN_EXTENDED_WARMUP:
            return ()
        steps = self.num_warmup // 2
        pooled = self.diagonal_preconditioning
        return (Stage(steps, pooled=pooled, knob=float(self.integration_steps), settle=True),)

    def begin_stage(self, carry, pooled, use_pooled) -> Carry:
        """A fresh stage: dual averaging restarted from the current step size, the
        positions' running moments emptied, and the pooled metric taken if asked."""
        state, a = carry
        return Carry(
            state,
            a._replace(
                da=dual_averaging_start(a.step, self.target_accept),
                inverse_mass_matrix=jnp.where(
                    use_pooled, pooled.astype(a.inverse_mass_matrix.dtype), a.inverse_mass_matrix
                ),
                moments=DiagonalWelford.empty(a.moments.mean),
            ),
        )

    def pool(self, carries) -> np.ndarray | None:
        """The chains' pooled variance of the stage's positions."""
        return pooled_variance(carries.adaptation.moments)

    def step(self, logdensity, carry, key, index, control: Control):
        """One kernel step at ``control.knob`` mean integration steps. While adapting,
        the positions' running moments are kept for the next stage's metric, and the
        step size is dual averaging's current iterate, updated towards
        ``target_accept`` (its average is the tuned step), or, in a settling stage, the
        tuned step itself, moved by Robbins–Monro; in sampling the tuned step is used and
        nothing adapts."""
        _, da_update, da_final = dual_averaging(self.target_accept)
        state, a = carry
        dtype = state.position.dtype
        avg = control.knob.astype(dtype)
        exploring = control.adapting & ~control.settle
        step = jnp.where(exploring, jnp.exp(a.da.log_step_size).astype(dtype), a.step)
        state, info = self._kernel()(
            step_key(key, index),
            state,
            logdensity,
            step,
            inverse_mass_matrix=a.inverse_mass_matrix,
            integration_steps_params=(avg,),
        )
        accept = info.acceptance_rate
        da = da_update(a.da, jnp.where(jnp.isfinite(accept), accept, 0.0))
        settled = robbins_monro_log_step(
            jnp.log(a.step), accept, self.target_accept, index - control.start
        )
        adapted = a._replace(
            da=da,
            step=jnp.where(control.settle, jnp.exp(settled), da_final(da)).astype(dtype),
            moments=a.moments.update(state.position),
        )
        a = jax.tree_util.tree_map(
            lambda new, old: jnp.where(control.adapting, new, old), adapted, a
        )
        stats = AdjustedMCLMCStats(
            lp=state.logdensity,
            diverging=info.is_divergent,
            acceptance_rate=accept,
            n_steps=info.num_integration_steps,
            energy=info.energy,
            step_size=step,
            L=avg * step,
        )
        return Carry(state, a), stats

    def tuned(self, carry) -> dict:
        """The tuned parameters of a carry (per chain)."""
        a = carry.adaptation
        k = jnp.asarray(self.integration_steps, a.step.dtype)
        return {"L": k * a.step, "step_size": a.step, "inverse_mass_matrix": a.inverse_mass_matrix}
