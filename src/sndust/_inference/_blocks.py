"""Per-SN blocks of a model's flat vector, and their exact Hessian blocks.

With the hyperparameters held fixed, SNe are conditionally independent: the Hessian of
the log density w.r.t. per-SN parameters is block diagonal, one ``d × d`` block per SN.
All ``n_sn`` blocks come from only ``d`` Hessian-vector products — direction ``j`` set to
1 in every SN's block at once — because the blocks do not interact. This is what makes
per-SN Newton fits and Laplace covariances of thousands of SNe one vectorised call.
Each SN's block is ``model.layout.per_sn_index()``. For long light curves the ``d``
products run in bounded memory (``_batching.map_products``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._batching import map_products

__all__ = ["block_value_grad", "block_hessian"]


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

    def column(m, t):
        def grad(Y):
            return block_value_grad(m, base, index, Y)[1]

        return jax.jvp(grad, (X,), (t,))[1]

    tangents = jnp.broadcast_to(jnp.eye(d, dtype=X.dtype)[:, None, :], (d, *X.shape))
    columns = map_products(model, column, tangents)  # (d, n, d)
    H = jnp.transpose(columns, (1, 2, 0))
    return 0.5 * (H + jnp.swapaxes(H, 1, 2))
