"""Batches of log-density evaluations in bounded memory: Hessian columns and MAP starts.

One evaluation of the model holds temporaries of ``PreparedSurvey.evaluation_size``
elements (observation slots × wavelength bins), and a ``vmap`` over ``k`` evaluations —
the ``d`` Hessian-vector products of a Hessian, the random starts of a MAP fit — holds
``k`` sets. For a long light curve or a large survey that product, not the data, is what
fills the memory: a Hessian holds tens of times what one gradient holds
(benchmarks/README.md, ``memory.py``).

A batch whose ``k × evaluation_size`` is at most ``_WHOLE`` runs as one ``vmap``, exactly
as before (the programs of small problems do not change). A larger batch runs in pieces:

* Hessian-vector products (:func:`map_products`) share their primal, so they stay
  vmapped, in groups, over the survey evaluated in blocks of chunks
  (``PreparedSurvey.in_blocks``): each step of the loop holds ``group × block`` elements,
  at most ``_STEP``. The data are sliced once per block for the whole group, so the
  blocks cost little here (unlike a single gradient, which they slow down).
* Optimiser starts (:func:`map_starts`) are independent runs: they run in equal groups
  of at most ``_WHOLE // evaluation_size`` (one at a time for a long light curve) over
  the survey evaluated at once, each at single-run speed.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = ["fits_whole", "map_products", "map_starts"]

#: most elements (batch members × observation slots × wavelength bins) a batch may hold
#: at once and still run as one vmap: 4 MAP starts of the 30-SN recovery survey fit
_WHOLE = 2**20
#: most elements one step of a larger batch of Hessian-vector products holds: about a
#: 40-observation light curve's whole Hessian
_STEP = 2**17


def fits_whole(model, k: int) -> bool:
    """Whether a batch of ``k`` evaluations of ``model`` runs as one vmap."""
    return k * model.prepared.evaluation_size <= _WHOLE


def map_products(model, f, tangents):
    """``vmap(lambda t: f(model, t))(tangents)`` for Hessian-vector products (or other
    linearisations sharing one primal point), in bounded memory (see module docstring).

    ``f(model, t)`` must use the ``model`` it is given: a large batch gives it the model
    with its survey evaluated in blocks.
    """
    k = tangents.shape[0]
    if fits_whole(model, k):
        return jax.vmap(lambda t: f(model, t))(tangents)
    prepared = model.prepared
    per_chunk = prepared.obs_fluxcal.shape[1] * prepared.info.window
    n_groups = -(-k // max(1, _STEP // per_chunk))
    group = -(-k // n_groups)
    chunks = max(1, _STEP // (group * per_chunk))
    blocked = eqx.tree_at(lambda m: m.prepared, model, prepared.in_blocks(chunks))
    # zero tangents fill the last group: a shorter one would be a second program to compile
    padded = jnp.concatenate([tangents, jnp.zeros_like(tangents[: n_groups * group - k])])
    return jax.lax.map(lambda t: f(blocked, t), padded, batch_size=group)[:k]


def map_starts(model, f, starts):
    """``vmap(f)(starts)`` for independent optimiser runs, in equal groups small enough
    that a group's evaluations hold at most ``_WHOLE`` elements (at least one run)."""
    k = starts.shape[0]
    if fits_whole(model, k):
        return jax.vmap(f)(starts)
    most = max(1, _WHOLE // model.prepared.evaluation_size)
    group = max(g for g in range(1, min(k, most) + 1) if k % g == 0)  # no shorter last group
    return jax.lax.map(f, starts, batch_size=group)
