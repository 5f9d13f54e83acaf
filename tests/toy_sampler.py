"""A sampler written outside the package, as a user would: random-walk Metropolis on the
sampler protocol (``sndust/_sampling/_base.py``), with its proposal scale adapted during
warm-up by BlackJAX's dual averaging towards an acceptance rate of 0.3. Used by the
tests to show that a new sampler is one class (through the API and, as
``toy_sampler:RandomWalkMetropolis``, from a YAML config)."""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.step_size import dual_averaging_adaptation
from jaxtyping import Array

import sndust as sd


class RWMState(NamedTuple):
    position: Array
    logdensity: Array


class RWMAdaptation(NamedTuple):
    da: object
    scale: Array  # proposal sd per coordinate: the step size times the metric's sd
    step: Array


class RWMStats(NamedTuple):
    lp: Array
    diverging: Array
    n_steps: Array
    step_size: Array
    acceptance_rate: Array


class RandomWalkMetropolis(sd.AbstractSampler):
    """Gaussian random-walk Metropolis, proposal sd = step × √(starting metric)."""

    num_warmup: int = 200
    num_samples: int = 200
    thin: int = 1
    target_accept: float = 0.3

    name: ClassVar[str] = "RandomWalkMetropolis"
    Stats: ClassVar[type] = RWMStats

    def init(self, logdensity, position, key, metric):
        state = RWMState(position, logdensity(position))
        da_init = dual_averaging_adaptation(self.target_accept)[0]
        step = jnp.asarray(2.38 / np.sqrt(position.size), position.dtype)
        return sd.Carry(state, RWMAdaptation(da_init(step), jnp.sqrt(metric.diagonal()), step))

    def stages(self):
        warmup = (sd.Stage(self.num_warmup),) if self.num_warmup else ()
        return (*warmup, self.sampling())

    def begin_stage(self, carry, pooled, use_pooled):
        return carry

    def pool(self, carries):
        return None

    def step(self, logdensity, carry, key, index, control):
        _, da_update, da_final = dual_averaging_adaptation(self.target_accept)
        state, a = carry
        k_move, k_accept = jax.random.split(jax.random.fold_in(key, index))
        step = jnp.where(control.adapting, jnp.exp(a.da.log_step_size), a.step)
        step = step.astype(state.position.dtype)
        noise = jax.random.normal(k_move, state.position.shape, state.position.dtype)
        proposal = state.position + step * a.scale * noise
        lp = logdensity(proposal)
        accept = jnp.minimum(
            1.0, jnp.exp(jnp.where(jnp.isfinite(lp), lp - state.logdensity, -jnp.inf))
        )
        moved = jax.random.uniform(k_accept, (), state.position.dtype) < accept
        state = RWMState(
            jnp.where(moved, proposal, state.position), jnp.where(moved, lp, state.logdensity)
        )
        da = da_update(a.da, accept)
        adapted = a._replace(da=da, step=da_final(da).astype(a.step.dtype))
        a = jax.tree_util.tree_map(lambda n, o: jnp.where(control.adapting, n, o), adapted, a)
        stats = RWMStats(
            state.logdensity, ~jnp.isfinite(lp), jnp.asarray(1, jnp.int32), step, accept
        )
        return sd.Carry(state, a), stats

    def tuned(self, carry):
        return {"step_size": carry.adaptation.step}
