"""Laplace approximation: a Gaussian in the sampler's unconstrained coordinates, centred
on a mode, with covariance (−∇² log p)⁻¹.

Three ways to get the covariance, picked by ``method="auto"``:

* ``"blocks"`` (models without hyperparameters — per-SN fits): the Hessian is block
  diagonal, so every SN's ``d × d`` block comes from ``d`` Hessian-vector products for the
  whole survey at once (see ``_blocks``);
* ``"dense"`` (up to ``dense_limit`` parameters): the full Hessian;
* ``"cg"`` (larger): variances of chosen coordinates (default: the hyperparameters) by
  conjugate-gradient solves with Hessian-vector products, never forming the Hessian.
"""

from __future__ import annotations

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from .._compile import jit_once
from .._custom_types import Flat
from .._errors import ConfigError, ModelError
from ._batching import fits_whole, map_products
from ._blocks import block_hessian

__all__ = ["Laplace", "laplace"]


class Laplace(eqx.Module):
    """A Laplace approximation (see module docstring). ``sd`` holds the standard
    deviations of the flat unconstrained coordinates that were computed (all of them for
    ``dense`` and ``blocks``; ``which`` for ``cg``, NaN elsewhere). For ``blocks``,
    ``valid`` flags the SNe whose Hessian block is negative definite (others are NaN)."""

    mean: Flat
    sd: Flat
    method: str = eqx.field(static=True)
    covariance: Float[Array, "dim dim"] | None = None
    block_covariance: Float[Array, "n_sn d d"] | None = None
    block_index: Int[Array, "n_sn d"] | None = None
    valid: Bool[Array, " n_sn"] | None = None

    def sample(self, key, n: int) -> Float[Array, "n dim"]:
        """``n`` draws of the flat unconstrained vector."""
        if self.method == "dense":
            chol = jnp.linalg.cholesky(self.covariance)
            z = jax.random.normal(key, (n, self.mean.size), self.mean.dtype)
            return self.mean + z @ chol.T
        if self.method == "blocks":
            chol = jnp.linalg.cholesky(self.block_covariance)  # (n_sn, d, d); NaN if invalid
            z = jax.random.normal(key, (n, *self.block_index.shape), self.mean.dtype)
            blocks = self.mean[self.block_index] + jnp.einsum("sij,nsj->nsi", chol, z)
            return jax.vmap(lambda b: self.mean.at[self.block_index].set(b))(blocks)
        raise ConfigError("draws need method='dense' or 'blocks'", field="method")

    def physical_sd(self, model, key, n: int = 4000) -> dict[str, Array]:
        """Standard deviations of the named physical values, from ``n`` draws."""
        draws = _constrain_all(model, self.sample(key, n))
        return {k: jnp.std(v, axis=0) for k, v in draws.items()}


_constrain_all = jit_once(lambda model, x: jax.vmap(model.constrain)(x))
_block_hessian = jit_once(block_hessian)


@jit_once
def _hessian(model, x):
    """∇² log p at ``x``; for long light curves its columns in bounded memory."""
    if fits_whole(model, model.dim):
        return jax.hessian(model.logdensity)(x)

    def column(m, t):
        return jax.jvp(jax.grad(m.logdensity), (x,), (t,))[1]

    return map_products(model, column, jnp.eye(model.dim, dtype=x.dtype)).T


def laplace(model, position, *, method: str = "auto", which=None, dense_limit: int = 3000):
    """Laplace approximation of ``model`` at ``position`` (e.g. ``MAP(...).run(...).position``).

    Args:
        method: ``"auto"``, ``"blocks"``, ``"dense"`` or ``"cg"`` (see module docstring).
        which: for ``"cg"``, flat indices whose variances to compute (default: every
            hyperparameter coordinate).
        dense_limit: largest dimension for which ``"auto"`` forms the dense Hessian.

    Raises:
        ModelError: the Hessian is not negative definite there (not a maximum); for
            ``blocks`` a warning names the SNe instead and their covariances are NaN.
    """
    position = jnp.asarray(position)
    if method == "auto":
        method = (
            "blocks" if not model.layout.hyper else ("dense" if model.dim <= dense_limit else "cg")
        )
    if method == "blocks":
        if model.layout.hyper:
            raise ConfigError(
                "method='blocks' needs a model without hyperparameters (per-SN fits)",
                field="method",
            )
        index = jnp.asarray(model.layout.per_sn_index())
        H = _block_hessian(model, position, index, position[index])
        w = np.linalg.eigvalsh(np.asarray(H))
        bad = w[:, 0] <= 0
        if bad.any():
            names = ", ".join(model.snid[i] for i in np.flatnonzero(bad)[:10])
            warnings.warn(
                f"not at a maximum for {bad.sum()} SNe ({names}): their Laplace "
                "covariances are NaN (see Laplace.valid)",
                stacklevel=2,
            )
        valid = jnp.asarray(~bad)
        eye = jnp.eye(H.shape[1], dtype=H.dtype)
        cov = jnp.linalg.inv(jnp.where(valid[:, None, None], H, eye))
        cov = jnp.where(valid[:, None, None], cov, jnp.nan)
        sd = (
            jnp.full(model.dim, jnp.nan)
            .at[index]
            .set(jnp.sqrt(jnp.diagonal(cov, axis1=1, axis2=2)))
        )
        return Laplace(position, sd, "blocks", block_covariance=cov, block_index=index, valid=valid)
    if method == "dense":
        H = -_hessian(model, position)
        H = 0.5 * (H + H.T)
        w = np.linalg.eigvalsh(np.asarray(H))
        if w[0] <= 0:
            raise ModelError(
                f"Hessian not negative definite (smallest curvature {w[0]:.3g}):"
                " not at a maximum; run MAP first",
                field="position",
            )
        cov = jnp.linalg.inv(H)
        cov = 0.5 * (cov + cov.T)
        return Laplace(position, jnp.sqrt(jnp.diagonal(cov)), "dense", covariance=cov)
    if method == "cg":
        if which is None and not model.layout.hyper:
            raise ConfigError(
                "method='cg' without which= needs hyperparameters; use "
                "method='blocks' for per-SN fits",
                field="which",
            )
        if which is None:
            which = model.layout.hyper_index()
        which = np.asarray(which, int)

        @eqx.filter_jit
        def variance(m, x0, i):
            def neg_hvp(v):
                return -jax.jvp(jax.grad(m.logdensity), (x0,), (v,))[1]

            e = jnp.zeros(m.dim, x0.dtype).at[i].set(1.0)
            x, _ = jax.scipy.sparse.linalg.cg(neg_hvp, e, tol=1e-8, maxiter=10 * m.dim)
            return x[i]

        var = jnp.stack([variance(model, position, jnp.asarray(i)) for i in which])
        if jnp.any(var <= 0):
            raise ModelError("negative Laplace variance: not at a maximum", field="position")
        sd = jnp.full(model.dim, jnp.nan).at[which].set(jnp.sqrt(var))
        return Laplace(position, sd, "cg")
    raise ConfigError(f"unknown method {method!r}: auto, blocks, dense or cg", field="method")
