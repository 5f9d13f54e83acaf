"""The No-U-Turn sampler (BlackJAX) with Stan's windowed warm-up per chain."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .._errors import ConfigError
from ._adaptation import (
    BlockWelford,
    dual_averaging,
    dual_averaging_start,
    stan_windows,
)
from ._base import MIN_EXTENDED_WARMUP, AbstractSampler, Carry, Control, Stage, step_key
from ._metric import BlockMetric, blackjax

__all__ = ["NUTS"]

#: the steps of an extension's final stretch adapting the step size alone (Stan's
#: terminal window)
_TERMINAL = 50


class NUTSAdaptation(NamedTuple):
    """Dual averaging's state, the current window's mass-matrix moments and the
    inverse mass matrix in use."""

    da: Any
    moments: Any
    inverse_mass_matrix: Any


class NUTSStats(NamedTuple):
    lp: Array
    diverging: Array
    acceptance_rate: Array
    n_steps: Array
    tree_depth: Array
    energy: Array
    step_size: Array


class NUTS(AbstractSampler):
    """No-U-Turn sampler (BlackJAX) with Stan's windowed warm-up per chain.

    Args:
        num_warmup: warm-up steps (step size by dual averaging; mass matrix from the
            slow windows of :func:`~._adaptation.stan_windows`).
        num_samples: draws kept per chain.
        thin: kernel steps per kept draw.
        mass: ``"diag"`` (default), ``"dense"`` or ``"block"`` (a dense block per SN
            and a diagonal for the hyperparameters, see :mod:`sndust._sampling._metric`)
            inverse mass matrix.
        target_accept: dual-averaging target acceptance rate (default 0.9: at 0.8 a
            chain can stick in a high-curvature corner of a hierarchical survey; see
            benchmarks/README.md, "A stranded chain").
        max_tree_depth: maximum number of trajectory doublings.
        initial_step_size: step size at the start of warm-up.
    """

    num_warmup: int = 1000
    num_samples: int = 1000
    thin: int = 1
    mass: str = "diag"
    target_accept: float = 0.9
    max_tree_depth: int = 10
    initial_step_size: float = 0.1

    name: ClassVar[str] = "NUTS"
    Stats: ClassVar[type] = NUTSStats

    def __check_init__(self):
        if self.mass not in ("block", "diag", "dense"):
            raise ConfigError(
                f"mass must be 'block', 'diag' or 'dense', got {self.mass!r}", field="mass"
            )
        if not 0 < self.target_accept < 1:
            raise ConfigError("target_accept must be in (0, 1)", field="target_accept")

    def _welford(self):
        """BlackJAX's diagonal or dense mass-matrix adaptation (init, update, final)."""
        return blackjax().adaptation.mass_matrix.mass_matrix_adaptation(self.mass == "diag")

    def _mass_init(self, position, metric: BlockMetric):
        """(moments, inverse mass matrix) at the start of warm-up."""
        if self.mass == "block":
            return BlockWelford.empty(metric), metric
        mm_init, _, _ = self._welford()
        diag = metric.diagonal()
        mm = mm_init(position.shape[-1], diag if self.mass == "diag" else jnp.diag(diag))
        return mm, mm.inverse_mass_matrix

    def _mass_update(self, mm, imm, position):
        if self.mass == "block":
            return mm.update(imm, position)
        return self._welford()[1](mm, position)

    def _mass_final(self, mm, imm):
        """The window's estimate, and a fresh accumulator for the next window."""
        if self.mass == "block":
            new = mm.metric(imm)
            return BlockWelford.empty(new), new
        mm = self._welford()[2](mm)  # (BlackJAX's regularisation promotes to the widest float)
        new = mm.inverse_mass_matrix.astype(imm.dtype)
        return mm._replace(inverse_mass_matrix=new), new

    def init(self, logdensity, position, key, metric) -> Carry:
        state = blackjax().nuts.init(position, logdensity)
        mm, imm = self._mass_init(position, metric)
        da = dual_averaging_start(self.initial_step_size, self.target_accept)
        return Carry(state, NUTSAdaptation(da, mm, imm))

    def stages(self) -> tuple[Stage, ...]:
        """Stan's windows run inside one warm-up stage: they close step by step in
        :meth:`step`, with nothing pooled between chains."""
        warmup = (Stage(self.num_warmup),) if self.num_warmup else ()
        return (*warmup, self.sampling())

    def extension(self) -> tuple[Stage, ...]:
        """Half the warm-up again: one slow window re-estimating the metric from where
        the chains now are, then Stan's 50-step terminal window adapting the step size
        to it (the stage's ``knob``: the slow window's length). None for a warm-up under
        200 steps: a window of under 50 draws, or a shorter terminal window, leaves a
        worse metric or step size than the one it replaces (measured: a 4-SN survey's
        chains froze, R-hat 3–4, after extensions of 20 steps)."""
        if self.num_warmup < MIN_EXTENDED_WARMUP:
            return ()
        steps = self.num_warmup // 2
        return (Stage(steps, knob=float(steps - _TERMINAL)),)

    def begin_stage(self, carry, pooled, use_pooled) -> Carry:
        return carry

    def pool(self, carries) -> None:
        return None

    def step(self, logdensity, carry, key, index, control: Control):
        """One NUTS transition: warm-up step ``index`` while adapting (dual averaging and
        the windows' mass-matrix estimates updated: Stan's windows, or an
        :meth:`extension`'s), otherwise at the tuned step size (dual averaging's average)
        and metric."""
        da_init, da_update, da_final = dual_averaging(self.target_accept)
        state, (da, mm, imm) = carry
        log_step = jnp.where(control.adapting, da.log_step_size, da.log_step_size_avg)
        step_size = jnp.exp(log_step).astype(state.position.dtype)
        metric = imm.as_blackjax() if isinstance(imm, BlockMetric) else imm
        state, info = blackjax().nuts.build_kernel()(
            step_key(key, index),
            state,
            logdensity,
            step_size,
            metric,
            max_num_doublings=self.max_tree_depth,
        )

        def adapt(args):
            da, mm, imm = args
            # (one row at least: traced, never run, without warm-up)
            schedule = jnp.asarray(stan_windows(max(self.num_warmup, 1)))
            slow, window_end = schedule[index, 0] == 1, schedule[index, 1] == 1
            # an extension (knob > 0): one slow window of ``knob`` steps, then fast
            local, window = index - control.start, control.knob.astype(index.dtype)
            extending = control.knob > 0
            slow = jnp.where(extending, local < window, slow)
            window_end = jnp.where(extending, local == window - 1, window_end)
            da = da_update(da, info.acceptance_rate)
            mm = jax.lax.cond(
                slow, lambda m: self._mass_update(m, imm, state.position), lambda m: m, mm
            )

            def close_window(args):
                da, mm, imm = args
                mm, imm = self._mass_final(mm, imm)
                return da_init(da_final(da)), mm, imm

            return jax.lax.cond(window_end, close_window, lambda a: a, (da, mm, imm))

        da, mm, imm = jax.lax.cond(control.adapting, adapt, lambda a: a, (da, mm, imm))
        stats = NUTSStats(
            lp=state.logdensity,
            diverging=info.is_divergent,
            acceptance_rate=info.acceptance_rate,
            n_steps=info.num_integration_steps,
            tree_depth=info.num_trajectory_expansions,
            energy=info.energy,
            step_size=step_size,
        )
        return Carry(state, NUTSAdaptation(da, mm, imm)), stats

    def tuned(self, carry) -> dict:
        """The tuned step size (dual averaging's average) and inverse mass matrix."""
        state, (da, _, imm) = carry
        step_size = jnp.exp(da.log_step_size_avg).astype(state.position.dtype)
        return {"step_size": step_size, "inverse_mass_matrix": imm}
