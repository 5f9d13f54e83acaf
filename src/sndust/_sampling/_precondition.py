"""Laplace whitening: the sampler moves in coordinates where the posterior is near N(0, I).

SN light curves pin a combination of each SN's A_V, distance and θ far better than any
one of them (the colour–luminosity degeneracy), and the population's hyperparameters
move all SNe together; in the model's own coordinates the posterior is a set of thin
tilted ellipses — condition numbers in the thousands even after a diagonal mass matrix,
which is what sends bayesn's NUTS to tree depth 9–10. A diagonal metric cannot rotate and
a dense one does not scale to thousands of SNe, so the rotation is done once, by an
affine change of variables that reproduces the Laplace approximation at the start point
(to rounding: the Hessian comes from central differences of the gradient, see
:func:`_hessian_columns`). With the Hessian of −log p in "arrowhead" form — per-SN
blocks ``B_i`` (``d × d``), couplings ``C_i`` (``d × h``) to the ``h`` hyperparameters,
and ``E`` (``h × h``) —

    x_hyper = c_hyper + R z_hyper,                 R Rᵀ = S⁻¹,  S = E − Σ C_iᵀ B_i⁻¹ C_i
    x_i     = c_i − B_i⁻¹ C_i (x_hyper − c_hyper) + L_i z_i,    L_i L_iᵀ = B_i⁻¹,

i.e. hyperparameters from their Laplace marginal and each SN from its conditional. ``B_i``
comes from ``d`` Hessian columns for all SNe at once, ``C`` and ``E`` from ``h`` more.
Eigenvalues of ``B_i`` and ``S`` are floored so that flat or non-convex directions
get prior-like widths. The Jacobian is constant, so the sampled density is exactly the
model's; every sampler (with its own step-size and metric adaptation) runs on ``z`` and
draws are mapped back to ``x``. The cost is ``O(n_sn d (d + h))`` per evaluation, small
next to the light-curve likelihood.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from .._compile import jit_once
from .._custom_types import Flat, Scalar, sn_axis

__all__ = ["Whitened", "whiten"]

_FLOOR = 0.1  # smallest curvature kept: widths at most ~3 (the prior's scale is 1)


class Whitened(eqx.Module):
    """The model seen through ``x = c + A z`` (see module docstring)."""

    model: eqx.Module
    center: Flat
    chol: Float[Array, "n_sn d d"] = sn_axis()
    gain: Float[Array, "n_sn d n_hyper"] = sn_axis()
    hyper_chol: Float[Array, "n_hyper n_hyper"]
    index: Int[Array, "n_sn d"] = sn_axis()
    hyper_index: Int[Array, " n_hyper"]

    def to_x(self, z: Flat) -> Flat:
        dh = self.hyper_chol @ z[self.hyper_index]
        blocks = (
            self.center[self.index]
            + jnp.einsum("sij,j->si", self.gain, dh)
            + jnp.einsum("sij,sj->si", self.chol, z[self.index])
        )
        x = self.center.at[self.hyper_index].add(dh)
        return x.at[self.index].set(blocks)

    def to_z(self, x: Flat) -> Flat:
        dh = x[self.hyper_index] - self.center[self.hyper_index]
        zh = jax.scipy.linalg.solve_triangular(self.hyper_chol, dh, lower=True)
        r = x[self.index] - self.center[self.index] - jnp.einsum("sij,j->si", self.gain, dh)
        blocks = jax.scipy.linalg.solve_triangular(self.chol, r[..., None], lower=True)[..., 0]
        return x.at[self.hyper_index].set(zh).at[self.index].set(blocks)

    def logdensity(self, z: Flat) -> Scalar:
        return self.model.logdensity(self.to_x(z))


class Identity(eqx.Module):
    """No change of variables (``precondition=False``)."""

    model: eqx.Module

    def to_x(self, z):
        return z

    def to_z(self, x):
        return x

    def logdensity(self, z):
        return self.model.logdensity(z)


def whiten(model, center) -> Whitened:
    """Build the whitening map at ``center`` (a flat unconstrained vector)."""
    index = model.layout.per_sn_index()  # NumPy: iterating a JAX array compiles an unstack
    hyper = model.layout.hyper_index()
    return _whiten(model, jnp.asarray(center), jnp.asarray(index), jnp.asarray(hyper))


def _floored_inverse(H):
    """Inverse of symmetric ``H`` (batched) with eigenvalues replaced by max(|λ|, floor)."""
    w, V = jnp.linalg.eigh(0.5 * (H + jnp.swapaxes(H, -1, -2)))
    inv = jnp.einsum("...ik,...k,...jk->...ij", V, 1.0 / jnp.maximum(jnp.abs(w), _FLOOR), V)
    return 0.5 * (inv + jnp.swapaxes(inv, -1, -2))


def _hessian_columns(logdensity, center, tangents):
    """``−∇² log p(center) · t`` for each row ``t`` of ``tangents``, by a fourth-order
    central difference of the gradient, ``(−g(x+2ht) + 8g(x+ht) − 8g(x−ht) + g(x−2ht))
    / 12h`` with ``h = ε^{1/5}`` (7·10⁻⁴ in float64: relative error ~10⁻¹¹ on the
    5-SN benchmark model). The gradients run one after another, so memory is that of one
    gradient; and the program holds the gradient only, which compiles in less than half
    the time of a forward-over-reverse Hessian-vector product (benchmarks/README.md) —
    most of a short run's start-up."""
    dtype = center.dtype
    h = float(jnp.finfo(dtype).eps) ** 0.2
    offsets = jnp.asarray([2.0, 1.0, -1.0, -2.0], dtype) * h
    weights = jnp.asarray([-1.0, 8.0, -8.0, 1.0], dtype) / (12.0 * h)
    points = center + offsets[:, None, None] * tangents[None]
    grads = jax.lax.map(jax.grad(logdensity), points.reshape(-1, center.size))
    return -jnp.einsum("k,kmd->md", weights, grads.reshape(points.shape))


@jit_once
def _whiten(model, center, index, hyper_index):
    # The Hessian columns along one direction per block coordinate give every piece:
    # direction j set to 1 in every SN's block at once returns column j of each SN's
    # block B_i on that SN's rows (SNe interact only through the hyperparameters), and a
    # unit hyperparameter direction returns a column of C and E.
    n_sn, d = index.shape
    n_hyper = hyper_index.size
    tangents = jnp.zeros((d + n_hyper, model.dim), center.dtype)
    tangents = tangents.at[jnp.arange(d)[:, None], index.T].set(1.0)
    tangents = tangents.at[d + jnp.arange(n_hyper), hyper_index].set(1.0)
    columns = _hessian_columns(model.logdensity, center, tangents)
    B = jnp.transpose(columns[:d, index], (1, 2, 0))  # (n_sn, d, d)
    B_inv = _floored_inverse(0.5 * (B + jnp.swapaxes(B, 1, 2)))
    chol = jnp.linalg.cholesky(B_inv)
    if n_hyper:
        E = columns[d:, hyper_index]
        C = jnp.moveaxis(columns[d:, index], 0, -1)  # (n_sn, d, h)
        gain = -jnp.einsum("sij,sjk->sik", B_inv, C)
        S = E + jnp.einsum("sji,sjk->ik", C, gain)
        hyper_chol = jnp.linalg.cholesky(_floored_inverse(S))
    else:
        gain = jnp.zeros((n_sn, d, 0), center.dtype)
        hyper_chol = jnp.zeros((0, 0), center.dtype)
    return Whitened(model, center, chol, gain, hyper_chol, index, hyper_index)
