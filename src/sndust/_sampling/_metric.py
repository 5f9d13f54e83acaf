"""Block-diagonal mass matrices: one dense ``d × d`` block per SN, a diagonal for the rest.

Each SN's light curve pins a combination of its θ, A_V, distance and SED residuals far
better than any one of them (the colour–luminosity degeneracy), so per SN the posterior is
a thin tilted ellipse that a diagonal metric cannot follow. SNe are conditionally
independent given the hyperparameters, so the covariance that matters is block diagonal:
a dense metric restricted to those blocks captures the tilts at ``O(n_sn d²)`` memory and
cost per leapfrog step, where a full dense metric would need ``O((n_sn d)²)`` and far more
warm-up draws to estimate. The hyperparameters keep a diagonal, and no SN is tied to them
by the metric: their coupling changes across the posterior (the population widths set
how far each SN may stray), which a fixed linear map gets wrong.

:class:`BlockMetric` is the inverse mass matrix as a pytree of arrays (it crosses
``vmap``, ``shard_map`` and checkpoints like any array); :meth:`BlockMetric.as_blackjax`
turns it into BlackJAX's ``Metric`` at the kernel call. ``_adaptation.BlockWelford``
estimates it from warm-up draws, regularised towards the identity as Stan does.
"""

from __future__ import annotations

import functools
import importlib

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .._custom_types import Flat, Hyper

__all__ = ["BlockMetric", "block_metric", "blackjax"]


@functools.cache
def blackjax():
    """BlackJAX, imported on first use: its import starts JAX's backends, which would
    freeze ``XLA_FLAGS`` (e.g. fake CPU devices) at ``import sndust``."""
    module = importlib.import_module("blackjax")
    for name in (
        "adaptation.mass_matrix",
        "adaptation.mclmc_adaptation",
        "adaptation.step_size",
        "mcmc.adjusted_mclmc_dynamic",
        "mcmc.integrators",
        "mcmc.mclmc",
        "mcmc.metrics",
    ):
        importlib.import_module(f"blackjax.{name}")
    return module


def _solve_upper_t(chol, v):
    """``L⁻ᵀ v`` for each block (``chol`` lower triangular)."""
    return jax.scipy.linalg.solve_triangular(chol, v[..., None], lower=True, trans=1)[..., 0]


class BlockMetric(eqx.Module):
    """Inverse mass matrix ``Σ``: SN blocks ``Σ_i = L_i L_iᵀ`` and diagonal ``hyper_var``."""

    chol: Float[Array, "n_sn d d"]
    hyper_var: Hyper
    index: Int[Array, "n_sn d"]
    hyper_index: Int[Array, " n_hyper"]

    def _blocks(self, v):
        return v[self.index], v[self.hyper_index]

    def _assemble(self, blocks, hyper, like):
        return like.at[self.index].set(blocks).at[self.hyper_index].set(hyper)

    def velocity(self, p: Flat) -> Flat:
        """``Σ p``."""
        pb, ph = self._blocks(p)
        lt_p = jnp.einsum("sji,sj->si", self.chol, pb)
        return self._assemble(jnp.einsum("sij,sj->si", self.chol, lt_p), self.hyper_var * ph, p)

    def as_blackjax(self):
        """This metric as a BlackJAX ``Metric`` (closures over the arrays)."""

        def sample_momentum(key, position):
            xi = jax.random.normal(key, position.shape, position.dtype)
            xb, xh = self._blocks(xi)
            return self._assemble(_solve_upper_t(self.chol, xb), xh / jnp.sqrt(self.hyper_var), xi)

        def kinetic_energy(momentum, position=None):
            return 0.5 * jnp.dot(self.velocity(momentum), momentum)

        def check_turning(left, right, total, position_left=None, position_right=None):
            rho = total - 0.5 * (left + right)
            return (jnp.dot(self.velocity(left), rho) <= 0) | (
                jnp.dot(self.velocity(right), rho) <= 0
            )

        def scale(position, element, *, inv, trans):
            # inv: Σ^{1/2} = L (Lᵀ if trans); else M^{1/2} = L⁻ᵀ (L⁻¹ if trans)
            eb, eh = self._blocks(element)
            root = jnp.sqrt(self.hyper_var)
            if inv:
                spec = "sji,sj->si" if trans else "sij,sj->si"
                return self._assemble(jnp.einsum(spec, self.chol, eb), root * eh, element)
            solved = jax.scipy.linalg.solve_triangular(
                self.chol, eb[..., None], lower=True, trans=0 if trans else 1
            )[..., 0]
            return self._assemble(solved, eh / root, element)

        return blackjax().mcmc.metrics.Metric(sample_momentum, kinetic_energy, check_turning, scale)

    def diagonal(self) -> Flat:
        """The marginal variances (diagonal of ``Σ``)."""
        block_var = jnp.sum(self.chol**2, axis=-1)
        like = jnp.zeros(self.index.size + self.hyper_index.size, self.hyper_var.dtype)
        return self._assemble(block_var, self.hyper_var, like)


def block_metric(cov_blocks, hyper_var, index, hyper_index) -> BlockMetric:
    """A :class:`BlockMetric` from covariance blocks ``(n_sn, d, d)``."""
    sym = 0.5 * (cov_blocks + jnp.swapaxes(cov_blocks, -1, -2))
    return BlockMetric(jnp.linalg.cholesky(sym), hyper_var, index, hyper_index)
