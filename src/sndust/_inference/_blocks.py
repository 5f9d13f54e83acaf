"""Per-SN blocks of a model's flat vector, and their exact Hessian blocks.

With the hyperparameters held fixed, SNe are conditionally independent: the Hessian of
the log density w.r.t. per-SN parameters is block diagonal, one ``d × d`` block per SN.
All ``n_sn`` blocks come from only ``d`` Hessian-vector products — direction ``j`` set to
1 in every SN's block at once — because the blocks do not interact. This is what makes
per-SN Newton fits and Laplace covariances of thousands of SNe one vectorised call.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["per_sn_index", "hyper_index", "block_value_grad", "block_hessian"]


def per_sn_index(model) -> np.ndarray:
    """``(n_sn, d)`` positions in the flat vector of each SN's parameters."""
    # the flat vector is the template's leaves raveled in tree order (ravel_pytree); in
    # NumPy, since op-by-op JAX slicing here cost a compile per slice
    leaves, treedef = jax.tree_util.tree_flatten(model._template())
    offsets = np.cumsum([0] + [leaf.size for leaf in leaves])
    positions = jax.tree_util.tree_unflatten(
        treedef,
        [np.arange(a, b).reshape(leaf.shape) for a, b, leaf in zip(offsets, offsets[1:], leaves)],
    )
    columns = [positions[name].reshape(model.n_sn, -1) for name in model.layout.sampled]
    return np.concatenate(columns, axis=1)


def hyper_index(model, index: np.ndarray) -> np.ndarray:
    """Positions in the flat vector outside the per-SN blocks ``index`` (the
    hyperparameters), ascending, in ``index``'s dtype."""
    return np.setdiff1d(np.arange(model.dim), index.ravel()).astype(index.dtype)


def _negative_per_sn(model, base, index):
    def f(X):
        return -model.logdensity_per_sn(base.at[index].set(X))

    return f


def block_value_grad(model, base, index, X):
    """Per-SN negative log density ``(n,)`` and its gradient ``(n, d)`` at blocks ``X``."""
    f = _negative_per_sn(model, base, index)
    value, vjp = jax.vjp(f, X)
    (grad,) = vjp(jnp.ones_like(value))
    return value, grad


def block_hessian(model, base, index, X):
    """Per-SN Hessian blocks ``(n, d, d)`` of the negative log density at ``X``."""
    d = X.shape[1]

    def grad(Y):
        return block_value_grad(model, base, index, Y)[1]

    tangents = jnp.broadcast_to(jnp.eye(d, dtype=X.dtype)[:, None, :], (d, *X.shape))
    columns = jax.vmap(lambda t: jax.jvp(grad, (X,), (t,))[1])(tangents)  # (d, n, d)
    H = jnp.transpose(columns, (1, 2, 0))
    return 0.5 * (H + jnp.swapaxes(H, 1, 2))
