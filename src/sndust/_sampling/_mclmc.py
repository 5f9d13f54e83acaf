"""Unadjusted microcanonical Langevin Monte Carlo (BlackJAX; Robnik+23)."""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ._base import AbstractSampler, Carry, Control, Stage, step_key
from ._integrators import initial_params, isokinetic_mclachlan
from ._metric import blackjax

__all__ = ["MCLMC"]


class MCLMCParams(NamedTuple):
    """The trajectory length, step size and diagonal inverse mass matrix in use."""

    L: Array
    step_size: Array
    inverse_mass_matrix: Array


class MCLMCStats(NamedTuple):
    lp: Array
    diverging: Array
    energy_change: Array
    n_steps: Array
    step_size: Array
    L: Array


def _params(state, params) -> MCLMCParams:
    """BlackJAX's MCLMC parameters as runtime arrays (the metric as a full diagonal)."""
    dim = state.position.shape[-1]
    imm = jnp.broadcast_to(jnp.asarray(params.inverse_mass_matrix), (dim,))
    return MCLMCParams(params.L, params.step_size, imm)


class MCLMC(AbstractSampler):
    """Microcanonical Langevin Monte Carlo (BlackJAX; Robnik+23), unadjusted.

    Warm-up is BlackJAX's ``mclmc_find_L_and_step_size``: step size from the energy
    error, diagonal preconditioning, then L from the chain's autocorrelation; the three
    stages take 40/40/20% of ``num_warmup`` steps. It runs as one warm-up "step" of the
    run (:meth:`step` while adapting), with the chain's warm-up key. Unadjusted: the bias
    is set by ``desired_energy_var`` (energy-error variance per dimension).

    Not for hierarchical surveys: there its tuner leaves the chains unmixed, and the step
    that mixes them samples a biased posterior of the population widths with every R-hat
    fine (benchmarks/README.md, "Unadjusted MCLMC on the 30-SN recovery survey").
    Use :class:`AdjustedMCLMC` (exact, faster) or :class:`NUTS`.

    Args:
        num_warmup: tuning steps.
        num_samples: draws kept per chain.
        thin: integrator steps per kept draw.
        diagonal_preconditioning: tune a diagonal preconditioner.
        desired_energy_var: target energy-error variance per dimension.
    """

    num_warmup: int = 2000
    num_samples: int = 2000
    thin: int = 1
    diagonal_preconditioning: bool = True
    desired_energy_var: float = 5e-4

    name: ClassVar[str] = "MCLMC"
    Stats: ClassVar[type] = MCLMCStats
    needs_float64: ClassVar[bool] = True

    def _kernel(self):
        return blackjax().mcmc.mclmc.build_kernel(
            integrator=isokinetic_mclachlan, desired_energy_var=self.desired_energy_var
        )

    def init(self, logdensity, position, key, metric) -> Carry:
        """The chain at ``position`` with BlackJAX's starting L and step size (what an
        untuned run samples with)."""
        state = blackjax().mcmc.mclmc.init(position, logdensity, key)
        return Carry(state, _params(state, initial_params(metric.diagonal(), 0.25)))

    def stages(self) -> tuple[Stage, ...]:
        """BlackJAX's whole tuner as one warm-up step, then sampling."""
        warmup = (Stage(1),) if self.num_warmup else ()
        return (*warmup, self.sampling())

    def begin_stage(self, carry, pooled, use_pooled) -> Carry:
        return carry

    def pool(self, carries) -> None:
        return None

    def step(self, logdensity, carry, key, index, control: Control):
        """While adapting: BlackJAX's tuner (``num_warmup`` kernel steps) from the
        carry's parameters, with the phase's ``key``. Otherwise one kernel step."""
        kernel = self._kernel()

        def tune(carry):
            params = blackjax().adaptation.mclmc_adaptation.MCLMCAdaptationState(*carry.adaptation)
            state, params, n_steps = blackjax().mclmc_find_L_and_step_size(
                mclmc_kernel=kernel,
                num_steps=self.num_warmup,
                state=carry.state,
                params=params,
                rng_key=key,
                logdensity_fn=logdensity,
                frac_tune1=0.4,
                frac_tune2=0.3,
                frac_tune3=0.2,
                desired_energy_var=self.desired_energy_var,
                diagonal_preconditioning=self.diagonal_preconditioning,
            )
            params = _params(state, params)
            lp = state.logdensity
            stats = MCLMCStats(
                lp=lp,
                diverging=~jnp.isfinite(lp),
                energy_change=jnp.zeros_like(lp),
                n_steps=jnp.asarray(n_steps, jnp.int32),
                step_size=params.step_size,
                L=params.L,
            )
            return Carry(state, params), stats

        def sample(carry):
            params = carry.adaptation
            state, info = kernel(
                step_key(key, index),
                carry.state,
                logdensity,
                params.inverse_mass_matrix,
                params.L,
                params.step_size,
            )
            stats = MCLMCStats(
                lp=state.logdensity,
                diverging=~info.nonans,
                energy_change=info.energy_change,
                n_steps=jnp.asarray(1, jnp.int32),
                step_size=params.step_size,
                L=params.L,
            )
            return Carry(state, params), stats

        return jax.lax.cond(control.adapting, tune, sample, carry)

    def tuned(self, carry) -> dict:
        return carry.adaptation._asdict()
