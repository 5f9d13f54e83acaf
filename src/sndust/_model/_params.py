"""The flat parameter vector of a :class:`sndust.HierarchicalModel`, and the one walk over
a population's hyperpriors.

Everything that knows how the flat vector is laid out lives here: which parameters a
model has (:class:`ParameterLayout`, learnt once from the population), the template
pytree, ravel/unravel, and where each SN's parameters and the hyperparameters sit
(:meth:`ParameterLayout.per_sn_index`, :meth:`ParameterLayout.hyper_index`). Samplers,
MAP, Laplace and preconditioners ask the layout; none re-derives positions.

The flat vector is ``jax.flatten_util.ravel_pytree`` of a dict: its keys in sorted
order (``A_V, D, R_V, e, hyper, t_max, theta``), each hyperparameter (sorted by name)
inside ``hyper``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jax.flatten_util import ravel_pytree

from .._errors import ConfigError
from ._reparam import kind_of

__all__ = [
    "PER_SN",
    "ParameterLayout",
    "discover_layout",
    "hyperpriors_of",
    "resolve_prior",
    "walk_hyperpriors",
]

#: the per-SN parameters, in the order of each SN's block (see ``per_sn_index``)
PER_SN = ("theta", "A_V", "R_V", "e", "D", "t_max")
#: names a population may not give its hyperparameters (per-SN and derived outputs)
RESERVED = frozenset(PER_SN) | {"sigma0_sn", "delta_M", "muhat", "residual"}
GLOBAL_SIGMA0_PRIOR = 0.1  # HalfCauchy scale of σ0 when the population gives none


def resolve_prior(prior, h: Mapping) -> dist.Distribution:
    """A hyperprior, resolving ``h -> distribution`` callables against the values ``h``
    of the hyperparameters before it."""
    if isinstance(prior, dist.Distribution):
        return prior
    if callable(prior):
        return prior(h)
    raise ConfigError(
        f"a hyperprior must be a numpyro distribution or a callable h -> distribution, "
        f"got {type(prior).__name__}",
        field="hyperpriors",
    )


def walk_hyperpriors(
    priors: Mapping, value_of: Callable[[str, dist.Distribution], jax.Array]
) -> tuple[dict, dict]:
    """The one walk over hyperpriors, in their declared order: each prior is resolved
    against the values before it (a prior may be a callable of them), then
    ``value_of(name, distribution)`` gives its value (drawn, transformed from sampler
    coordinates, or given). Returns ``(values, distributions)`` by name."""
    h, dists = {}, {}
    for name, prior in priors.items():
        d = resolve_prior(prior, h)
        h[name] = value_of(name, d)
        dists[name] = d
    return h, dists


def hyperpriors_of(population, global_sigma0: bool) -> dict:
    """The population's hyperpriors, plus a global σ0 ~ HalfCauchy(0.1) where the
    population gives no grey scatter of its own."""
    priors = dict(population.hyperpriors())
    if global_sigma0:
        priors["sigma0"] = dist.HalfCauchy(GLOBAL_SIGMA0_PRIOR)
    return priors


@dataclass(frozen=True)
class ParameterLayout:
    """Static structure of a model's parameters: which exist, their shapes and how each
    per-SN prior is sampled (see ``_reparam``).

    Attributes:
        hyper: ``(name, shape)`` of each hyperparameter, in the hyperpriors' order.
        dust_kinds: ``(("A_V", kind), ("R_V", kind))``, ``kind`` from ``kind_of``.
        global_sigma0: the model adds a global σ0 (the population gives none).
        free_tmax: each SN has a time of maximum ``t_max``.
        n_sn, n_eps: SNe, and ε components per SN.
        dtype: the floating dtype of the parameters.
    """

    hyper: tuple[tuple[str, tuple[int, ...]], ...]
    dust_kinds: tuple[tuple[str, str], ...]
    global_sigma0: bool
    free_tmax: bool
    n_sn: int
    n_eps: int
    dtype: str = "float64"

    @property
    def sampled(self) -> tuple[str, ...]:
        """The per-SN parameters this model samples, in block order."""
        dust = {name for name, kind in self.dust_kinds if kind != "fixed"}
        names = ["theta", *(n for n in ("A_V", "R_V") if n in dust), "e", "D"]
        return tuple(names + (["t_max"] if self.free_tmax else []))

    @property
    def hyper_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.hyper)

    def template(self) -> dict:
        """The unconstrained parameter dict, all zeros."""
        n = self.n_sn
        tree = {"hyper": {name: jnp.zeros(shape, self.dtype) for name, shape in self.hyper}}
        for name in self.sampled:
            tree[name] = jnp.zeros((n, self.n_eps) if name == "e" else (n,), self.dtype)
        return tree

    @property
    def dim(self) -> int:
        """Length of the flat unconstrained vector."""
        return sum(int(np.prod(s)) for _, s in self.hyper) + self.n_sn * self.per_sn_dim

    @property
    def per_sn_dim(self) -> int:
        """Parameters per SN (the size of each SN's block)."""
        return sum(self.n_eps if name == "e" else 1 for name in self.sampled)

    def unravel(self, flat) -> dict:
        """Flat unconstrained vector → unconstrained parameter dict."""
        return ravel_pytree(self.template())[1](flat)

    def ravel(self, tree: dict):
        """Unconstrained parameter dict → flat vector (keys and shapes checked)."""
        template = self.template()
        if jax.tree_util.tree_structure(tree) != jax.tree_util.tree_structure(template):
            raise ConfigError(
                f"parameter dict has keys {sorted(tree)}, expected {sorted(template)}",
                field="params",
            )
        for (path, leaf), ref in zip(
            jax.tree_util.tree_flatten_with_path(tree)[0], jax.tree_util.tree_leaves(template)
        ):
            if jnp.shape(leaf) != ref.shape:
                raise ConfigError(
                    f"{jax.tree_util.keystr(path)} has shape {jnp.shape(leaf)}, expected "
                    f"{ref.shape}",
                    field=jax.tree_util.keystr(path),
                )
        return ravel_pytree(
            jax.tree_util.tree_map(lambda x, r: jnp.asarray(x, r.dtype), tree, template)
        )[0]

    def positions(self) -> dict:
        """The template's pytree with each leaf replaced by its positions in the flat
        vector (NumPy: op-by-op JAX slicing cost a compile per slice)."""
        leaves, treedef = jax.tree_util.tree_flatten(self.template())
        offsets = np.cumsum([0] + [leaf.size for leaf in leaves])
        ranges = zip(offsets, offsets[1:], leaves)
        return jax.tree_util.tree_unflatten(
            treedef, [np.arange(a, b).reshape(leaf.shape) for a, b, leaf in ranges]
        )

    def per_sn_index(self) -> np.ndarray:
        """``(n_sn, per_sn_dim)`` positions in the flat vector of each SN's parameters,
        in the order of :attr:`sampled`."""
        positions = self.positions()
        columns = [positions[name].reshape(self.n_sn, -1) for name in self.sampled]
        return np.concatenate(columns, axis=1)

    def hyper_index(self) -> np.ndarray:
        """Positions in the flat vector of the hyperparameters, ascending."""
        return np.setdiff1d(np.arange(self.dim), self.per_sn_index().ravel())


def discover_layout(population, host, n_sn: int, n_eps: int, dtype) -> ParameterLayout:
    """Evaluate the population once, at a draw from its hyperpriors, to learn the
    hyperparameters' shapes and how each per-SN prior is sampled."""
    priors_in = dict(population.hyperpriors())
    clash = RESERVED & set(priors_in)
    if clash:
        raise ConfigError(
            f"hyperparameter names {sorted(clash)} are reserved for per-SN parameters",
            field="hyperpriors",
        )
    keys = [jax.random.key(0)]

    def draw(name, d):
        keys[0], sub = jax.random.split(keys[0])
        return d.sample(sub)

    h, dists = walk_hyperpriors(priors_in, draw)
    shapes = [(name, tuple(d.shape())) for name, d in dists.items()]
    priors = population.dust_priors(h, host)
    global_sigma0 = priors.sigma0 is None and "sigma0" not in priors_in
    if global_sigma0:
        shapes.append(("sigma0", ()))
    if priors.sigma0 is None and not global_sigma0 and "sigma0" not in h:
        raise ConfigError("population gives no sigma0", field="sigma0")
    kinds = tuple((name, kind_of(getattr(priors, name))) for name in ("A_V", "R_V"))
    return ParameterLayout(
        hyper=tuple(shapes),
        dust_kinds=kinds,
        global_sigma0=global_sigma0,
        free_tmax=bool(population.free_tmax),
        n_sn=n_sn,
        n_eps=n_eps,
        dtype=str(jnp.dtype(dtype)),
    )
