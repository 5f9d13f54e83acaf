"""Where hierarchical chains start by default: per-SN fits first, then the population
fitted to them.

The joint MAP is a poor start for a hierarchical survey. The joint mode of a scale
hyperparameter and the values it scales sits where the scale is too small or, in the
sampler's non-centred coordinates, too large (σ0 ≈ 0.002 and σ_R ≈ 2.6 on the demo
survey, whose truths are 0.1 and 0.5), and a few SNe with bad inputs drag it further
(σ_R 5.7 on a real sample of 468 SNe). What is sound is the per-SN fits: given the
hyperparameters the SNe are independent, and each fit takes seconds for the whole
survey.

So the start estimates the hyperparameters' marginal posterior mode, the SN
parameters integrated out, by importance sampling from broad per-SN fits:

1. **Per-SN fits at broad hyperparameters** ``h0`` (every sampler coordinate 0: σ0 =
   τ_A = σ_R = 1, μ_R mid-range), where each SN is fitted almost on its own: the
   per-SN BFGS of :class:`sndust.MAP`, all SNe at once, and ``draws`` draws of each SN's
   parameters ``x_ik`` from its Laplace approximation (its exact Hessian block).
2. **The population fitted to them.** With those draws standing for each SN's
   posterior under ``h0``, ``p(data_i | h) / p(data_i | h0) ≈ mean_k p(x_ik | h) /
   p(x_ik | h0)``, so ``log p(h) + Σ_i log mean_k p(x_ik | h) / p(x_ik | h0)`` estimates
   the log marginal posterior of ``h``; it is maximised in the sampler's coordinates
   (L-BFGS). It needs only the population's priors, cheap for any survey size;
   populations whose hyperparameters enter the light curves (a magnitude step,
   ``MassSplitSED``'s ΔW0) get the likelihood term as well, found by tracing
   ``dust_priors``, with no code from their author.
3. The SNe are fitted again at the estimate. Each chain starts from its own draw of
   the hyperparameters from the Laplace approximation of the estimated marginal (the
   curvature of the maximised estimate), with the SNe fitted at that draw: chains start
   as far apart as the posterior is wide, so that R-hat can see them disagree.

Unlike the joint mode, the estimate does not collapse a scale: each SN's uncertainty
enters through its draws, and the broad ``h0`` makes the draws cover every narrower
population. Measured (2026-12-06), start against the posterior mean ± sd:

=================  ==============================  ===============================
survey             joint MAP (μ_R, σ_R, τ_A, σ0)   this start (keys 2, 3, 4)
=================  ==============================  ===============================
demo (100 SNe)     1.49, 2.59, 0.316, 0.002        2.94, 0.34, 0.330, 0.100;
                                                   2.76, 0.19, 0.323, 0.100;
                                                   2.95, 0.31, 0.331, 0.102
posterior          2.86 ± 0.17, 0.69 ± 0.24, 0.306 ± 0.031, 0.089 ± 0.010
Foundation (167)   1.61, 2.84, 0.222, 0.066        3.08, 0.41, 0.231, 0.110;
                                                   3.04, 0.39, 0.229, 0.109;
                                                   3.08, 0.34, 0.232, 0.108
posterior          2.80 ± 0.15, 0.34 ± 0.24, 0.191 ± 0.016, 0.109 ± 0.008
=================  ==============================  ===============================

It costs a few seconds once compiled (1.4 s for 30 SNe, 5.4 s for Foundation on two
CPU cores; compiling it, about 30 s).

Surveys the broad fits cannot fully place are handled, not crashed on: Laplace draws
with no usable importance weight are left out of the population fit (``_m_step``), the
chains' spread is capped where the survey leaves a hyperparameter unconstrained
(:func:`_capped`), and a chain whose drawn hyperparameters give a non-finite light curve
is drawn closer to the estimate (:func:`_dispersed`). Before these, the default start
stopped with a NaN ModelError on the 58th MassSplit survey of benchmarks/sbc.py (4 SNe,
one mass bin almost empty) and, for 1 key in 4, on a 3-SN survey drawn from BayeSN's
own hyperpriors (tests/test_population_start.py).

Repeating the two steps from the estimate (proposals from fits at ``h``, no longer
broad) was measured to drift instead of converging (Foundation: σ0 0.111 → 0.259, τ_A
0.231 → 0.323), so it is done once.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ModelError
from .._inference._bfgs import inverse_hessian_blocks, positive_definite_inverse
from .._inference._lbfgs import lbfgs
from .._model._params import PER_SN

__all__ = ["PopulationStart", "population_start"]

_MAX_SD = 1.0  # the chains' spread in each direction of the hyperparameters' coordinates
_MAX_DROP = 100.0  # a valid draw's prior log density lies at most this far below its mode's
_HESSIAN_COLUMNS = 8  # Hessian columns computed at once where the light curves enter it


class PopulationStart(NamedTuple):
    """Outcome of :func:`population_start`.

    Attributes:
        position: the start (flat, sampler coordinates): per-SN modes at ``hyper``.
        broad: the broad hyperparameters of the first fits (sampler coordinates).
        hyper: the fitted hyperparameters (sampler coordinates).
        hyper_cov: their covariance from the curvature of the estimated marginal (each
            direction's standard deviation capped at 1, see :func:`_capped`).
        chains: with ``chains=``, one start per chain ``(chains, dim)``: hyperparameters
            drawn from ``N(hyper, hyper_cov)``, the SNe fitted at each draw.
        seconds: wall time.
        likelihood: whether the population fit evaluated the light curves (the
            population's hyperparameters enter them).
        anchors: each SN's light-curve information on its normal or truncated-normal
            dust parameters (``{"R_V": (loc, prec)}``, see :func:`anchors_from_fits`),
            or ``{}``. ``position`` and ``chains`` are in the coordinates of
            ``model.with_anchors(anchors)``, the model the sampler then runs.
    """

    position: jax.Array
    broad: np.ndarray
    hyper: np.ndarray
    hyper_cov: np.ndarray
    chains: jax.Array | None
    seconds: float
    likelihood: bool
    anchors: dict


def population_start(
    model,
    key,
    *,
    chains: int | None = None,
    draws: int = 64,
    map_starts: int = 4,
    steps: int = 200,
    informed: bool = True,
) -> PopulationStart:
    """The start of a hierarchical ``model`` (module docstring): per-SN fits (``steps``
    BFGS iterations from ``map_starts`` random starts per SN) at broad hyperparameters,
    ``draws`` Laplace draws per SN, the population fitted to them, and the SNe fitted
    again there; with ``chains``, also one start per chain, its hyperparameters drawn
    from the Laplace approximation of the estimated marginal. A model without
    hyperparameters gets its per-SN MAP (the same for every chain).

    ``informed``: also measure each SN's information on its normal or truncated-normal
    dust parameters from the broad fits (:func:`anchors_from_fits`) and give the starts
    in the informed coordinates of ``model.with_anchors(anchors)``, which a sampler
    given this start as ``init`` (and every run with the default ``init="per_sn"``) then
    runs in (``_model/_reparam.py``; measured in benchmarks/README.md, "``informed.py``")."""
    from .._inference import MAP
    from .._inference._map import random_starts

    t0 = time.perf_counter()
    hyper_index = np.asarray(model.layout.hyper_index())
    k_start, k_draws, k_chains = jax.random.split(key, 3)
    init = random_starts(model, jax.random.split(k_start, map_starts), 2.0)
    init = init.at[:, hyper_index].set(0.0)
    fit = MAP(optimizer="per_sn", steps=steps, starts=map_starts).run(model, k_start, init)
    position = fit.position
    broad = np.asarray(position[hyper_index])
    if not hyper_index.size:
        starts = None if chains is None else jnp.broadcast_to(position, (chains, model.dim))
        return PopulationStart(
            position, broad, broad, np.zeros((0, 0)), starts, time.perf_counter() - t0, False, {}
        )
    uses = _likelihood_uses_hyper(model)
    index = jnp.asarray(model.layout.per_sn_index())
    per_sn_cov = inverse_hessian_blocks(model, position, index, position[index])
    values = _laplace_draws(model, position, per_sn_cov, k_draws, draws)
    u, _, hessian = _m_step(model, position[hyper_index], values, uses)
    u, hessian = np.asarray(u), np.asarray(hessian)
    if not np.all(np.isfinite(u)):  # not seen; kept so that a start is always made
        u = broad
    if not np.all(np.isfinite(hessian)):
        hessian = np.eye(len(u)) / _MAX_SD**2
    anchors = anchors_from_fits(model, position, per_sn_cov) if informed else {}
    if anchors:  # the broad fits in the informed coordinates, the fits below start there
        model, position = _informed(model, anchors, position)
    cov = _capped(np.asarray(positive_definite_inverse(hessian)))

    def fitted_at(v):  # the SNe fitted at hyperparameters v; ModelError where they cannot be
        x = position.at[hyper_index].set(jnp.asarray(v, position.dtype))
        return MAP(optimizer="per_sn", steps=steps).run(model, k_draws, x).position

    try:
        center = fitted_at(u)
    except ModelError:  # not seen; the broad fits are a start
        u, center = broad, position
    starts = None
    if chains is not None:
        L = np.linalg.cholesky(cov)
        z = np.asarray(jax.random.normal(k_chains, (chains, len(hyper_index)), cov.dtype))
        starts = jnp.stack([_dispersed(fitted_at, u, L @ zc, center) for zc in z])
    seconds = time.perf_counter() - t0
    return PopulationStart(center, broad, np.asarray(u), cov, starts, seconds, uses, anchors)


#: an SN whose fit narrows a parameter's prior precision by less than this fraction
#: is left in the prior's coordinate (prec = 0): its information is not worth a shift
_MIN_GAIN = 0.05


def anchors_from_fits(model, position, cov) -> dict:
    """Each SN's light-curve information on its normal or truncated-normal dust
    parameters, from per-SN fits: ``{name: (loc, prec)}``, arrays ``(n_sn,)``.

    ``position`` holds the per-SN modes at fixed hyperparameters and ``cov`` each SN's
    block covariance (the inverse of its Hessian block, in the sampler's coordinates).
    The marginal precision of the parameter's coordinate, ``1/cov_jj`` (the other
    parameters of the SN integrated out, A_V's coupling to R_V among them), less the
    prior's own curvature in that coordinate, is what the light curves add; mapped to
    the value's scale (the coordinate's derivative) it is ``prec``, and ``loc`` is the
    centre that a Gaussian of that precision must have for the fit's mode to be where it
    is. A summary, not a model: any finite anchors give an exact change of variables;
    good ones give coordinates in which the SN's value barely moves with the
    hyperparameters when its light curves pin it, and moves with them when they do not.
    """
    from .._model._reparam import ANCHORED_KINDS, kind_of

    kinds = dict(model.layout.dust_kinds)
    names = [name for name, kind in kinds.items() if kind in ANCHORED_KINDS]
    if not names or not model.hyper_names:
        return {}
    positions = model.layout.positions()
    index = np.asarray(model.layout.per_sn_index())
    values = model.constrain(position)
    priors = model.population.dust_priors({k: values[k] for k in model.hyper_names}, model.host)
    cov = np.asarray(cov)
    rows = np.arange(model.n_sn)
    out = {}
    for name in names:
        flat = positions[name]
        col = np.argmax(index == flat[:, None], axis=1)
        var = cov[rows, col, col]
        prior = getattr(priors, name)
        loc = np.broadcast_to(np.asarray(prior.loc, float), (model.n_sn,))
        scale = np.broadcast_to(np.asarray(prior.scale, float), (model.n_sn,))
        value = np.asarray(values[name], float)
        if kind_of(prior) == "normal":  # value = loc + scale·x: prior curvature 1 in x
            curvature, slope = 1.0, scale
        else:  # u = σ(x), value = icdf(u): prior curvature 2u(1 − u) in x
            u = 1.0 / (1.0 + np.exp(-np.asarray(position[flat], float)))
            curvature = 2.0 * u * (1.0 - u)
            slope = u * (1.0 - u) / np.exp(np.asarray(prior.log_prob(value), float))
        gain = 1.0 / var - curvature
        keep = np.isfinite(gain) & np.isfinite(slope) & (gain > _MIN_GAIN * curvature)
        prec = np.where(keep, gain / np.where(keep, slope, 1.0) ** 2, 0.0)
        safe = np.where(keep, prec, 1.0)
        centre = np.where(keep, value + (value - loc) / (scale**2 * safe), value)
        finite = np.isfinite(centre)
        out[name] = (np.where(finite, centre, value), np.where(finite, prec, 0.0))
    return out


def _informed(model, anchors, position):
    """``model`` in the informed coordinates of ``anchors``, and ``position`` (values of
    ``model``'s coordinates) moved to them."""
    informed = model.with_anchors(anchors)
    values = model.constrain(position)
    given = {k: values[k] for k in (*model.hyper_names, *PER_SN) if k in values}
    return informed, informed.unconstrain(given)


def _capped(cov):
    """``cov`` symmetrised, its standard deviations capped at ``_MAX_SD`` in every
    direction. A hyperparameter the survey does not constrain (a mass bin holding one
    SN of four) has a near-flat estimated marginal in its log coordinate: its Laplace
    variance is in the hundreds, and a chain drawn there started at σ = e^20 with a
    NaN likelihood. Spreading the chains by more than the prior's own width in the
    sampler's coordinates (about 1) serves no diagnosis."""
    w, V = np.linalg.eigh(0.5 * (cov + cov.T))
    return (V * np.minimum(w, _MAX_SD**2)) @ V.T


def _dispersed(fitted_at, u, step, center):
    """One chain's start: the SNe fitted at ``u + step``, or at ``u + step/2`` where they
    cannot be (the light curves not finite there), or ``center``."""
    for scale in (1.0, 0.5):
        try:
            return fitted_at(u + scale * step)
        except ModelError:
            continue
    return center


@eqx.filter_jit
def _laplace_draws(model, position, cov, key, draws: int):
    """``draws`` draws of every SN's physical values from its Laplace approximation at
    ``position`` (hyperparameters fixed; ``cov``: each SN's block covariance), after the
    mode itself: a dict of ``(1 + draws, n_sn, ...)`` arrays."""
    index = jnp.asarray(model.layout.per_sn_index())
    X = position[index]
    L = jnp.linalg.cholesky(0.5 * (cov + jnp.swapaxes(cov, 1, 2)))
    z = jax.random.normal(key, (draws, *X.shape), X.dtype)
    z = jnp.concatenate([jnp.zeros_like(z[:1]), z])
    flats = jax.vmap(lambda zk: position.at[index].set(X + jnp.einsum("nij,nj->ni", L, zk)))(z)
    values = jax.vmap(model._constrain)(flats)
    return {name: values[name] for name in PER_SN if name in values}


@eqx.filter_jit
def _m_step(model, u0, values, likelihood: bool, max_steps: int = 500):
    """Maximise the Laplace-importance estimate of the hyperparameters' marginal
    posterior, ``log p(h) + Σ_i log mean_k p(x_ik | h) / p(x_ik | h0)``, over their
    sampler coordinates ``u`` from ``u0`` (``h0``, where the draws ``x_ik`` were made;
    the light curves' term too with ``likelihood``). ``values``: the SNe's modes, then
    their draws (:func:`_laplace_draws`)."""
    dtype = u0.dtype
    hyper_index = model.layout.hyper_index()
    wide = jax.dtypes.canonicalize_dtype(jnp.float64)
    mode = jax.tree_util.tree_map(lambda v: v[0], values)
    values = jax.tree_util.tree_map(lambda v: v[1:], values)

    def per_sn(u, values):
        x = model.unravel(jnp.zeros(model.dim, dtype).at[hyper_index].set(u))["hyper"]
        h, lp = model._hyper_part(x)

        def one(v):
            return model._log_joint({**h, **v}, likelihood=likelihood)[1]

        return lp, jax.lax.map(one, values)  # (draws, n_sn)

    # The Laplace approximation of a poorly constrained SN (a faint, heavily reddened one
    # fitted as a fast decliner) can reach A_V of 1e180 or R_V on its bound: draws whose
    # population prior is zero, or so far below the mode's that their weight would swing
    # by e^100 or more with any change of h (a Gaussian draw of d parameters falls
    # χ²_d/2, about 14 for sndust's 28, below its mode). Such a draw has no usable
    # importance weight: it is replaced by its SN's mode, which keeps the gradients
    # finite, and left out of that SN's mean.
    at_mode = per_sn(u0, jax.tree_util.tree_map(lambda m: m[None], mode))[1]
    drawn = per_sn(u0, values)[1]
    valid = jnp.isfinite(drawn) & (drawn > at_mode - _MAX_DROP)  # (draws, n_sn)

    def pick(v, m):
        mask = valid.reshape(valid.shape + (1,) * (v.ndim - 2))
        return jnp.where(mask, v, m[None])

    values = jax.tree_util.tree_map(pick, values, mode)
    _, base = per_sn(u0, values)
    count = jnp.maximum(jnp.sum(valid, axis=0), 1)

    def loss(u):
        lp, terms = per_sn(u.astype(dtype), values)
        log_ratio = jnp.where(valid, terms - base, -jnp.inf)
        ratio = jax.nn.logsumexp(log_ratio, axis=0) - jnp.log(count)
        return -(lp + jnp.sum(jnp.where(jnp.any(valid, axis=0), ratio, 0.0))).astype(u.dtype)

    u, value, _, _, ok = lbfgs(jax.value_and_grad(loss), u0.astype(wide), max_steps, 1e-6, 1e-12)
    if not likelihood:  # the priors alone: every column at once costs little
        return u.astype(dtype), ok, jax.hessian(loss)(u).astype(dtype)

    # With the light curves in the loss, each Hessian column (a forward-over-reverse
    # product) holds every draw's light-curve residuals: Foundation's 167 SNe × 64 draws
    # take 240 MB a column, and MassSplitSED's 116 columns at once asked for 28 GB.
    # Columns a few at a time keep it to a few of those.
    def column(e):
        return jax.jvp(jax.grad(loss), (u,), (e,))[1]

    eye = jnp.eye(u.shape[0], dtype=u.dtype)
    hessian = jax.lax.map(column, eye, batch_size=min(u.shape[0], _HESSIAN_COLUMNS))
    return u.astype(dtype), ok, (0.5 * (hessian + hessian.T)).astype(dtype)


def _likelihood_uses_hyper(model) -> bool:
    """Whether the population's hyperparameters reach the light curves (a magnitude
    offset δM or an SED offset ΔW0 that depends on them), found by tracing."""
    hyper_index = model.layout.hyper_index()
    found = []

    def probe(u):
        x = model.unravel(jnp.zeros(model.dim, u.dtype).at[hyper_index].set(u))["hyper"]
        h, _ = model._hyper_part(x)
        priors = model.population.dust_priors(h, model.host)
        leaves = jax.tree_util.tree_leaves((priors.delta_M, priors.delta_W0))
        found.append(any(isinstance(leaf, jax.core.Tracer) for leaf in leaves))
        return jnp.zeros(())

    jax.eval_shape(probe, jnp.zeros(hyper_index.size, model.prepared.obs_fluxcal.dtype))
    return found[0]
