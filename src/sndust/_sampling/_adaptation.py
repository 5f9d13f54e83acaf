"""Warm-up pieces shared by the samplers: dual averaging of the step size, Stan's window
schedule, streaming (Welford) moments, Stan's shrinkage of an estimated metric, and the
variance pooled over all chains.

BlackJAX's pieces are used where they fit: its dual averaging
(``blackjax.adaptation.step_size.dual_averaging_adaptation``), its Stan schedule
(``build_schedule``) and, for NUTS's diagonal and dense metrics, its
``mass_matrix_adaptation``. sndust forks two things, each because BlackJAX has no such
piece: the per-SN block metric (:class:`BlockWelford`: dense blocks per SN, see
``_metric``) and AdjustedMCLMC's metric pooled over every chain (:func:`pooled_variance`:
BlackJAX's adaptations estimate each chain's metric from that chain alone). One piece is
sndust's own: the Robbins–Monro step (:func:`robbins_monro_log_step`) that settles
AdjustedMCLMC's step size after dual averaging has found its scale (BlackJAX tunes step
sizes by dual averaging only, whose averaged step accepted 0.98–0.997 against a target
of 0.9 here; benchmarks/README.md).
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._custom_types import Flat, Hyper, Scalar
from ._metric import BlockMetric, blackjax, block_metric

__all__ = [
    "BlockWelford",
    "DiagonalWelford",
    "dual_averaging",
    "dual_averaging_start",
    "pooled_variance",
    "robbins_monro_log_step",
    "stan_shrinkage",
    "stan_windows",
]


def _widest_float():
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def dual_averaging(target_accept: float):
    """BlackJAX's dual averaging of the log step size towards ``target_accept`` (Hoffman
    & Gelman 2014): ``(init, update, final)``."""
    return blackjax().adaptation.step_size.dual_averaging_adaptation(target_accept)


def dual_averaging_start(step_size, target_accept: float):
    """Dual averaging's state at ``step_size``, in JAX's widest float whatever the
    model's dtype (BlackJAX's state mixes Python floats); cast the step size to the
    position's dtype where it is used."""
    return dual_averaging(target_accept)[0](jnp.asarray(step_size).astype(_widest_float()))


#: Robbins–Monro gain ``ROBBINS_MONRO_GAIN / (t + ROBBINS_MONRO_T0) ** ROBBINS_MONRO_DECAY``
#: at the ``t``-th step of a stage (counted from 0): the first step moves the log step size
#: by 0.27 × (accept − target), at most 0.27 × target down; the gains sum to about 11 over
#: 150 steps, so the step can still travel far, and their squares converge, so it settles
#: (Robbins & Monro 1951)
ROBBINS_MONRO_GAIN, ROBBINS_MONRO_T0, ROBBINS_MONRO_DECAY = 1.5, 10.0, 0.75


def robbins_monro_log_step(log_step, accept, target_accept: float, t):
    """The next log step size of a Robbins–Monro search for the step whose mean
    acceptance is ``target_accept``: up by the gain times ``accept − target`` (a
    non-finite acceptance counts as 0).

    Why not dual averaging to the end: its *iterates* hold the target on average but
    spread over a factor of about 4 in step size, and acceptance falls steeply above the
    largest stable step, so the averaged step it returns accepts far more often than the
    target (0.98–0.997 for AdjustedMCLMC at a target of 0.9, where Robbins–Monro's step,
    1.3–1.4 × larger, accepts 0.88–0.93 on the 30-SN survey; benchmarks/README.md). With a
    gain that decreases to 0, the iterate itself converges to the step whose acceptance
    is the target, so the last iterate is the step to sample with.
    """
    accept = jnp.where(jnp.isfinite(accept), accept, 0.0).astype(log_step.dtype)
    t = jnp.asarray(t, log_step.dtype)
    gain = ROBBINS_MONRO_GAIN / (t + ROBBINS_MONRO_T0) ** ROBBINS_MONRO_DECAY
    return log_step + gain * (accept - target_accept)


def stan_windows(num_steps: int) -> np.ndarray:
    """Stan's warm-up windows as an ``(num_steps, 2)`` int array of (slow, window_end)
    (BlackJAX's ``build_schedule``): a fast stretch adapting only the step size, then
    slow windows (mass matrix and step size) doubling in length, the last stretched to
    fill, then a final fast stretch; short warm-ups scale the three parts to
    15% / 75% / 10%, and below 20 steps there are no slow windows."""
    from blackjax.adaptation.window_adaptation import build_schedule

    with jax.ensure_compile_time_eval():  # (a constant, also when called under jit)
        schedule = build_schedule(num_steps)
    return np.asarray(schedule, np.int32).reshape(num_steps, 2)


def stan_shrinkage(covariance, n, identity=1.0):
    """An estimated covariance from ``n`` draws shrunk towards ``10⁻³ I`` with weight
    ``5 / (n + 5)``, as Stan (and BlackJAX) regularise their metrics."""
    return (n / (n + 5.0)) * covariance + 1e-3 * (5.0 / (n + 5.0)) * identity


def _welford(count, mean, x):
    """One Welford step: the new count and mean, and ``x``'s deviations from the old and
    the new mean (whose product updates the second moments)."""
    count = count + 1
    before = x - mean
    mean = mean + before / count
    return count, mean, before, x - mean


class DiagonalWelford(NamedTuple):
    """Streaming mean and sum of squared deviations of the draws (per coordinate)."""

    mean: Flat
    m2: Flat
    count: Scalar

    @classmethod
    def empty(cls, like) -> DiagonalWelford:
        zeros = jnp.zeros_like(like)
        return cls(zeros, zeros, zeros[0])

    def update(self, x) -> DiagonalWelford:
        count, mean, before, after = _welford(self.count, self.mean, x)
        return DiagonalWelford(mean, self.m2 + before * after, count)


def pooled_variance(moments: DiagonalWelford) -> np.ndarray | None:
    """The variance pooled over all chains' moments (leading axis: chains): the mean
    within-chain variance plus the variance of the chain means (a chain away from the
    others widens it rather than being averaged away), with :func:`stan_shrinkage`;
    None before any step was counted. NumPy, between batches."""
    counts = np.asarray(moments.count, np.float64)
    if not np.sum(counts) > 0:
        return None
    means = np.asarray(moments.mean, np.float64)
    variances = np.asarray(moments.m2, np.float64) / np.maximum(counts, 1.0)[:, None]
    total = np.mean(variances, axis=0) + np.var(means, axis=0)
    return stan_shrinkage(total, np.sum(counts))


class BlockWelford(eqx.Module):
    """Streaming mean and block covariance of the draws (Welford's algorithm)."""

    count: Scalar
    mean: Flat
    m2_blocks: Float[Array, "n_sn d d"]
    m2_hyper: Hyper

    @classmethod
    def empty(cls, metric: BlockMetric) -> BlockWelford:
        dtype = metric.hyper_var.dtype
        dim = metric.index.size + metric.hyper_index.size
        return cls(
            jnp.zeros((), dtype),
            jnp.zeros(dim, dtype),
            jnp.zeros_like(metric.chol),
            jnp.zeros_like(metric.hyper_var),
        )

    def update(self, metric: BlockMetric, x: Flat) -> BlockWelford:
        count, mean, before, after = _welford(self.count, self.mean, x)
        bb, bh = before[metric.index], before[metric.hyper_index]
        ab, ah = after[metric.index], after[metric.hyper_index]
        m2_blocks = self.m2_blocks + jnp.einsum("si,sj->sij", bb, ab)
        return BlockWelford(count, mean, m2_blocks, self.m2_hyper + bh * ah)

    def metric(self, metric: BlockMetric) -> BlockMetric:
        """The estimated metric, with :func:`stan_shrinkage`."""
        n = self.count
        denominator = jnp.maximum(n - 1.0, 1.0)
        eye = jnp.eye(metric.index.shape[-1], dtype=self.mean.dtype)
        cov = stan_shrinkage(self.m2_blocks / denominator, n, eye)
        var = stan_shrinkage(self.m2_hyper / denominator, n)
        return block_metric(cov, var, metric.index, metric.hyper_index)
