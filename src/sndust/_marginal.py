"""Each SN's likelihood with its own parameters integrated out, ``p(data_i | h)``, at every
hyperparameter draw of a run: what leave-one-SN-out cross-validation needs.

Leaving SN ``i`` out of a hierarchical fit removes its photometry *and* frees its own
parameters (θ, A_V, R_V, ε, D, t_max), so its predictive density is

    p(data_i | data_−i) = ∫ p(data_i | h) p(h | data_−i) dh,
    p(data_i | h)       = ∫ p(data_i | x) p(x | h) dx.

PSIS-LOO on the joint draws ``(h_s, x_is)`` (ArviZ's default, from the per-SN
log-likelihood every posterior stores) weights each draw by ``1 / p(data_i | x_is)``:
the SN's light curve pins ``x_i`` far more tightly than the population does, the weights
are dominated by a few draws, and on Foundation DR1 Pareto k̂ exceeds 0.7 for all 167
SNe under every population (benchmarks/README.md). With ``x_i`` integrated out the
weights are ``1 / p(data_i | h_s)``: one SN among many moves the hyperparameters
little, and PSIS works (where one SN does move them, a sparsely populated mass bin, k̂
says so). (The marginal rather than the conditional likelihood of a
latent-variable model: Merkle, Furr & Rabe-Hesketh 2019, Psychometrika 84, 802;
Vehtari, Mononen, Tolvanen, Sivula & Winther 2016, JMLR 17(103).)

``p(data_i | h_s)`` is estimated by importance sampling, one proposal per SN for every
hyperparameter draw, so the light curves are evaluated once per proposal draw and not
once per (draw, hyperparameter draw):

* **Coordinates.** Each SN's values in fixed unconstrained coordinates: θ, ε's standard
  normals, the *apparent* distance D + A_V (measured by the light curve, nearly
  independent of A_V), A_V and R_V through the bijection onto their prior's support
  (e.g. log A_V), t_max through its logistic map. The Jacobian is carried exactly.
* **Proposal.** A multivariate Student-t (5 degrees of freedom: polynomial tails cover
  the exponential ones of log A_V near zero) with the mean and covariance of the run's
  own posterior draws of that SN. Those draws mix the SN's conditional posterior over
  every hyperparameter draw, so the proposal covers each ``p(x_i | data_i, h_s)``.
* **The light curves.** ``log p(data_i | x)`` of every proposal draw once. A
  population's magnitude offset (a mass step ΔM0) scales the model flux by
  ``a = 10^(−0.4 δM)``; the Gaussian flux likelihood is then exactly
  ``L(1) + (a − 1) R − (a − 1)² S / 2`` with ``R = Σ f (y − f)/σ²`` and
  ``S = Σ f²/σ²``, so it costs nothing per hyperparameter draw either. Populations whose
  hyperparameters reach the light curves otherwise (``MassSplitSED``'s ΔW0, a global
  R_V) get the light curves evaluated at every (hyperparameter draw, proposal draw),
  on fewer hyperparameter draws by default.

The importance weights at the posterior mean of the hyperparameters give each SN's
Pareto k̂ and effective sample size: k̂ > 0.7 says the proposal missed that SN's
posterior and its marginal likelihood is unreliable.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions.transforms import biject_to

from ._errors import ConfigError
from ._model._hierarchical import TMAX_RANGE
from ._model._params import PER_SN

__all__ = ["SNMarginals", "sn_marginal_likelihoods"]

_DF = 5.0  # the proposal's degrees of freedom
_POOL = 4000  # posterior draws (at most) that set each SN's proposal
_LN10_04 = 0.4 * math.log(10.0)
_HYPER_DRAWS = 2000  # hyperparameter draws used, where the light curves are evaluated once
_HYPER_DRAWS_SLOW = 100  # ... where they are evaluated at every hyperparameter draw


class SNMarginals(NamedTuple):
    """Outcome of :func:`sn_marginal_likelihoods`.

    Attributes:
        log_lik: ``log p(data_i | h_s)``, ``(chains, draws, n_sn)``, at the run's
            hyperparameter draws ``draw_index`` of each chain.
        draw_index: which of each chain's draws were used (all, or evenly thinned).
        hyper: those draws' scalar hyperparameters, name → ``(chains, draws)``.
        k_hat: each SN's Pareto k̂ of its importance weights at the posterior-mean
            hyperparameters (> 0.7: unreliable).
        ess: their effective sample size (of ``draws``).
        mc_se: the Monte Carlo standard error of each SN's ``log p(data_i | h)`` there,
            ``√((1/ess − 1/draws))``.
        draws: proposal draws per SN.
        light_curves_per_draw: whether the light curves were evaluated at every
            hyperparameter draw (hyperparameters that reach them other than a magnitude
            offset).
        seconds: wall time.
    """

    log_lik: np.ndarray
    draw_index: np.ndarray
    hyper: dict
    k_hat: np.ndarray
    ess: np.ndarray
    mc_se: np.ndarray
    draws: int
    light_curves_per_draw: bool
    seconds: float


def sn_marginal_likelihoods(
    model,
    posterior,
    key,
    *,
    draws: int = 2048,
    hyper_draws: int | None = None,
    at: dict | None = None,
    batch: int = 16,
) -> SNMarginals:
    """``log p(data_i | h_s)`` of every SN ``i`` of ``model`` at the hyperparameter draws
    ``h_s`` of ``posterior`` (a run of that model), each SN's parameters integrated out
    by importance sampling (module docstring). A model without hyperparameters (per-SN
    fits) gets each SN's evidence ``log p(data_i)``, the same at every draw.

    Args:
        model: the :class:`sndust.HierarchicalModel` the run sampled.
        posterior: its :class:`sndust.Posterior`.
        key: PRNG key of the proposal draws.
        draws: proposal draws per SN.
        hyper_draws: at most this many hyperparameter draws, thinned evenly within each
            chain (default: 2000, or 100 where the light curves are evaluated at each).
        at: hyperparameter draws to use instead of the run's, name → ``(chains, draws,
            ...)`` (e.g. a run without some SNe, for exact leave-out); the proposals
            still come from ``posterior``'s per-SN draws.
        batch: proposal draws whose light curves are evaluated together.

    Raises:
        ConfigError: the run is not of this model (other SNe or photometry, other
            hyperparameters).
    """
    t0 = time.perf_counter()
    _check_run(model, posterior)
    if at is not None and (missing := [n for n in model.hyper_names if n not in at]):
        raise ConfigError(f"at= has no draws of {', '.join(missing)}", field="at")
    depends = _likelihood_depends_on_hyper(model)
    slow = depends == "other"
    source = posterior.posterior if at is None else at
    if model.hyper_names:
        chains, n_draws = np.shape(source[model.hyper_names[0]])[:2]
    else:  # per-SN fits: p(data_i), the same at every draw
        chains, n_draws = (posterior.posterior.sizes[k] for k in ("chain", "draw"))
    limit = hyper_draws or (_HYPER_DRAWS_SLOW if slow else _HYPER_DRAWS)
    step = max(1, math.ceil(chains * n_draws / limit))
    index = np.arange(0, n_draws, step)
    dtype = jnp.float64 if jax.config.jax_enable_x64 else model.prepared.obs_fluxcal.dtype
    hyper = {
        name: jnp.asarray(np.asarray(source[name])[:, index], dtype) for name in model.hyper_names
    }
    h_ref = {name: v.mean(axis=(0, 1)) for name, v in hyper.items()}
    coords = _Coordinates(model, h_ref)
    pooled = _pooled_draws(model, posterior, dtype)
    z_post = coords.to_z(pooled)  # (K, n_sn, d)
    mean, chol = _moments(np.asarray(z_post, np.float64))
    z, log_q = _student_t(key, jnp.asarray(mean, dtype), jnp.asarray(chol, dtype), draws)
    values, log_jac = jax.vmap(coords.from_z)(z)  # each (draws, n_sn, ...)
    fixed = log_jac - log_q  # the parts that do not depend on h

    flat_h = {k: v.reshape(chains * len(index), *v.shape[2:]) for k, v in hyper.items()}
    moments = None if slow else _light_curve_moments(model, values, h_ref, batch)
    at_ref = _weights_at(model, values, fixed, moments, h_ref, batch)
    if hyper:
        log_lik = _log_marginals(model, values, fixed, moments, flat_h, batch)
    else:  # no hyperparameters: one value per SN
        log_lik = jax.nn.logsumexp(at_ref, axis=0) - jnp.log(draws)
        log_lik = jnp.broadcast_to(log_lik, (chains * len(index), model.n_sn))
    log_lik = np.asarray(log_lik, np.float64).reshape(chains, len(index), model.n_sn)
    k_hat, ess, mc_se = _diagnostics(np.asarray(at_ref, np.float64))
    return SNMarginals(
        log_lik=log_lik,
        draw_index=index,
        hyper={k: np.asarray(v, np.float64) for k, v in hyper.items() if v.ndim == 2},
        k_hat=k_hat,
        ess=ess,
        mc_se=mc_se,
        draws=draws,
        light_curves_per_draw=slow,
        seconds=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------- checks
def _check_run(model, posterior):
    snid = tuple(str(s) for s in posterior.posterior["sn"].values)
    if snid != tuple(model.snid):
        only = sorted(set(snid) ^ set(model.snid))
        what = f"SNe in one but not the other: {', '.join(only[:10])}" if only else "order"
        raise ConfigError(f"the run is not of this model's survey ({what})", field="model")
    if "observed_data" in posterior.groups():  # the same names, other photometry?
        prepared = model.prepared
        ours = np.asarray(prepared.obs_fluxcal)[np.asarray(prepared.mask)]
        theirs = np.asarray(posterior.observed_data["fluxcal"].values)
        if ours.shape != theirs.shape or not np.allclose(ours, theirs, rtol=1e-6, atol=0):
            raise ConfigError(
                "the run's photometry is not this model's (the same SNe, other "
                f"observations: {theirs.size} points in the run, {ours.size} in the model)",
                field="model",
            )
    missing = [n for n in model.hyper_names if n not in posterior.posterior]
    if missing:
        raise ConfigError(
            f"the run has no draws of {', '.join(missing)}: it is not of this model's "
            f"population ({type(model.population).__name__})",
            field="model",
        )
    if "log_likelihood" in posterior.groups():  # the same data, another model?
        _check_likelihood(model, posterior)


def _check_likelihood(model, posterior):
    """The model's per-SN likelihood at the run's first draw is the one the run stored:
    otherwise the model is not the run's (another SED model or dust law, say, rebuilt
    from a config.yaml that a later run in the same folder overwrote)."""
    post = posterior.posterior
    draw = {
        name: np.asarray(post[name].values[0, 0])
        for name in (*model.hyper_names, *(n for n in PER_SN if n in post))
    }
    flat = model.unconstrain(draw)
    ours = np.asarray(_likelihood_per_sn(model, flat), np.float64)
    theirs = np.asarray(posterior.log_likelihood["flux"].values[0, 0], np.float64)
    if not np.allclose(ours, theirs, rtol=1e-5, atol=1e-3):
        worst = int(np.argmax(np.abs(ours - theirs)))
        raise ConfigError(
            "the model's likelihood at the run's first draw is not the run's (SN "
            f"{model.snid[worst]}: {ours[worst]:.3f} here, {theirs[worst]:.3f} stored): "
            "another SED model, dust law or data",
            field="model",
        )


_likelihood_per_sn = eqx.filter_jit(lambda model, flat: model.log_likelihood_per_sn(flat))


def _likelihood_depends_on_hyper(model) -> str:
    """How the hyperparameters reach the light curves, found by tracing ``dust_priors``:
    ``"none"``, ``"delta_M"`` (a magnitude offset only) or ``"other"`` (an SED offset
    ΔW0, or A_V / R_V fixed at hyperparameter values)."""
    found = []
    hyper_index = model.layout.hyper_index()

    def traced(tree):
        return any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(tree))

    def probe(u):
        x = model.unravel(jnp.zeros(model.dim, u.dtype).at[hyper_index].set(u))["hyper"]
        h, _ = model._hyper_part(x)
        priors = model.population.dust_priors(h, model.host)
        fixed = [getattr(priors, n) for n, kind in model.layout.dust_kinds if kind == "fixed"]
        if traced(priors.delta_W0) or traced(fixed):
            found.append("other")
        else:
            found.append("delta_M" if traced(priors.delta_M) else "none")
        return jnp.zeros(())

    jax.eval_shape(probe, jnp.zeros(hyper_index.size, model.prepared.obs_fluxcal.dtype))
    return found[0]


# ----------------------------------------------------------------------------- proposal
class _Coordinates:
    """Each SN's per-SN values ↔ a point ``z`` of R^d (module docstring); the bijections
    of A_V and R_V are those of their priors' supports at ``h_ref``."""

    def __init__(self, model, h_ref):
        self.model = model
        priors = model.population.dust_priors(h_ref, model.host)
        self.dust = [name for name, kind in model.layout.dust_kinds if kind != "fixed"]
        self.transforms = {name: _Bijection(getattr(priors, name)) for name in self.dust}
        self.free_tmax = model.layout.free_tmax
        self.n_eps = model.prepared.n_eps

    def to_z(self, v):
        cols = [v["theta"][..., None], v["e"], (v["D"] + v.get("A_V", 0.0))[..., None]]
        cols += [self.transforms[name].inverse(v[name])[..., None] for name in self.dust]
        if self.free_tmax:
            cols.append(2.0 * jnp.arctanh(v["t_max"] / TMAX_RANGE)[..., None])
        return jnp.concatenate(cols, axis=-1)

    def from_z(self, z):
        """Values of ``z`` ``(n_sn, d)`` and the log Jacobian ``|dx/dz|`` per SN."""
        ne = self.n_eps
        out = {"theta": z[:, 0], "e": z[:, 1 : 1 + ne]}
        apparent = z[:, 1 + ne]
        log_jac = jnp.zeros(z.shape[0], z.dtype)
        for k, name in enumerate(self.dust):
            out[name], jac = self.transforms[name](z[:, 2 + ne + k])
            log_jac = log_jac + jac
        out["D"] = apparent - out.get("A_V", 0.0)  # a shear: unit Jacobian
        if self.free_tmax:
            y = z[:, -1]
            out["t_max"] = TMAX_RANGE * jnp.tanh(0.5 * y)
            log_jac = log_jac + jnp.log(2 * TMAX_RANGE) - jax.nn.softplus(-y) - jax.nn.softplus(y)
        return out, log_jac


class _Bijection:
    """R → a per-SN prior's support, with its log Jacobian. An interval with an
    infinite end (a truncated normal bounded below only) is a shifted exponential; with
    two finite ends, a scaled logistic (numpyro's ``biject_to`` would scale the logistic
    by an infinite width). Other supports: ``biject_to``."""

    def __init__(self, prior):
        support = prior.support
        self.interval = hasattr(support, "lower_bound") and hasattr(support, "upper_bound")
        if self.interval:
            self.low = jnp.asarray(support.lower_bound)
            self.high = jnp.asarray(support.upper_bound)
        else:
            self.transform = biject_to(support)

    def __call__(self, y):
        if not self.interval:
            x = self.transform(y)
            return x, self.transform.log_abs_det_jacobian(y, x)
        lo, hi = jnp.isfinite(self.low), jnp.isfinite(self.high)
        low, high = jnp.where(lo, self.low, 0.0), jnp.where(hi, self.high, 1.0)
        logistic = low + (high - low) * jax.nn.sigmoid(y)
        x = jnp.where(lo & hi, logistic, jnp.where(lo, low + jnp.exp(y), high - jnp.exp(y)))
        x = jnp.where(lo | hi, x, y)
        jac_logistic = jnp.log(high - low) - jax.nn.softplus(-y) - jax.nn.softplus(y)
        jac = jnp.where(lo & hi, jac_logistic, jnp.where(lo | hi, y, 0.0))
        return x, jac

    def inverse(self, x):
        if not self.interval:
            return self.transform.inv(x)
        lo, hi = jnp.isfinite(self.low), jnp.isfinite(self.high)
        low, high = jnp.where(lo, self.low, 0.0), jnp.where(hi, self.high, 1.0)
        u = (x - low) / (high - low)
        y_both = jnp.log(u) - jnp.log1p(-u)
        y_one = jnp.where(lo, jnp.log(x - low), jnp.log(high - x))
        return jnp.where(lo & hi, y_both, jnp.where(lo | hi, y_one, x))


def _pooled_draws(model, posterior, dtype):
    """The run's per-SN draws, chains pooled, at most ``_POOL`` of them."""
    names = ["theta", "e", "D", *(n for n, k in model.layout.dust_kinds if k != "fixed")]
    if model.layout.free_tmax:
        names.append("t_max")
    out = {}
    for name in names:
        v = np.asarray(posterior.posterior[name].values)
        v = v.reshape(-1, *v.shape[2:])
        out[name] = jnp.asarray(v[:: max(1, math.ceil(len(v) / _POOL))], dtype)
    return out


def _moments(z):
    """Mean ``(n_sn, d)`` and Cholesky factor ``(n_sn, d, d)`` of the covariance of
    ``z`` ``(K, n_sn, d)``; a direction the draws do not vary in gets a small floor."""
    mean = z.mean(axis=0)
    r = z - mean
    cov = np.einsum("kni,knj->nij", r, r) / max(len(z) - 1, 1)
    scale = np.maximum(np.einsum("nii->n", cov) / z.shape[-1], 1e-300)
    cov = cov + 1e-9 * scale[:, None, None] * np.eye(z.shape[-1])
    return mean, np.linalg.cholesky(cov)


def _student_t(key, mean, chol, draws):
    """``draws`` draws ``(draws, n_sn, d)`` of each SN's multivariate Student-t, and
    their log densities ``(draws, n_sn)``."""
    k1, k2 = jax.random.split(key)
    n, d = mean.shape
    w = jax.random.normal(k1, (draws, n, d), mean.dtype)
    g = jax.random.gamma(k2, 0.5 * _DF, (draws, n, 1), mean.dtype) / (0.5 * _DF)
    r = w / jnp.sqrt(g)  # L⁻¹ (z − mean)
    z = mean + jnp.einsum("nij,knj->kni", chol, r)
    log_det = jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    log_q = (
        jax.scipy.special.gammaln(0.5 * (_DF + d))
        - jax.scipy.special.gammaln(0.5 * _DF)
        - 0.5 * d * jnp.log(_DF * jnp.pi)
        - log_det
        - 0.5 * (_DF + d) * jnp.log1p(jnp.sum(r**2, axis=-1) / _DF)
    )
    return z, log_q


# ----------------------------------------------------------------------------- weights
def _priors(model, values, h):
    """Each proposal draw's per-SN prior log density at hyperparameters ``h``:
    ``(draws, n_sn)``."""
    return jax.vmap(lambda v: model._log_joint({**h, **v}, likelihood=False)[1])(values)


@eqx.filter_jit
def _light_curve_moments(model, values, h_ref, batch):
    """Per proposal draw and SN ``(draws, n_sn)``: the log-likelihood ``L`` with no
    magnitude offset, ``R = Σ f (y − f)/σ²`` and ``S = Σ f²/σ²`` (module docstring)."""
    prepared = model.prepared
    priors = model.population.dust_priors(h_ref, model.host)

    def one(v):
        v = {**v}
        for name, kind in model.layout.dust_kinds:
            if kind == "fixed":
                v[name] = jnp.broadcast_to(jnp.asarray(getattr(priors, name)), (model.n_sn,))
        args = model._forward_args(v, priors) | {"delta_M": 0.0}
        f = prepared.chunk_fluxcal(**args)
        y, s = prepared.obs_fluxcal, prepared.obs_fluxcal_err
        mask = prepared.mask
        zero = jnp.zeros((), f.dtype)
        point = jnp.where(mask, -0.5 * ((y - f) / s) ** 2 - jnp.log(s), zero)
        point = point - jnp.where(mask, 0.5 * math.log(2 * math.pi), zero)
        r = jnp.where(mask, f * (y - f) / s**2, zero)
        q = jnp.where(mask, (f / s) ** 2, zero)

        def per_sn(x):
            return jax.ops.segment_sum(x.sum(axis=1), prepared.chunk_sn, prepared.n_sn)

        return per_sn(point), per_sn(r), per_sn(q)

    L, R, S = jax.lax.map(one, values, batch_size=batch)
    # a draw far in the proposal's tails (R_V of 1e5) can overflow the model flux: its
    # weight is zero at every h (L = −inf, and R, S no longer turn that into a NaN or +inf)
    ok = jnp.isfinite(L) & jnp.isfinite(R) & jnp.isfinite(S)
    return jnp.where(ok, L, -jnp.inf), jnp.where(ok, R, 0.0), jnp.where(ok, S, 0.0)


def _log_weights_fast(model, values, fixed, moments, h):
    """Log importance weights ``(draws, n_sn)`` at ``h`` from the light-curve moments."""
    L, R, S = moments
    priors = model.population.dust_priors(h, model.host)
    a1 = jnp.expm1(-_LN10_04 * jnp.broadcast_to(jnp.asarray(priors.delta_M), (model.n_sn,)))
    return _finite(_priors(model, values, h) + L + a1 * R - 0.5 * a1**2 * S + fixed)


def _finite(log_w):
    """A draw whose density is not a number (a light curve overflowing far in the
    proposal's tails) has weight zero."""
    return jnp.where(jnp.isnan(log_w), -jnp.inf, log_w)


@eqx.filter_jit
def _log_marginals(model, values, fixed, moments, hyper, batch):
    """``log p(data_i | h)`` ``(n_h, n_sn)`` at each ``h`` of ``hyper``: the log mean
    weight, from the light-curve moments, or (``moments=None``) with the light curves
    evaluated at each ``h``."""
    n = len(fixed)

    def one(h):
        w = _weights_at(model, values, fixed, moments, h, batch)
        return jax.nn.logsumexp(w, axis=0) - jnp.log(n)

    return jax.lax.map(one, hyper, batch_size=None if moments is None else 4)


def _slow_weights(model, values, fixed, h, batch):
    """Log importance weights ``(draws, n_sn)`` at ``h``, the light curves evaluated."""

    def joint(v):
        return model._log_joint({**h, **v}, likelihood=True)[1]

    return _finite(jax.lax.map(joint, values, batch_size=batch) + fixed)


@eqx.filter_jit
def _weights_at(model, values, fixed, moments, h, batch):
    """Log importance weights ``(draws, n_sn)`` at ``h``: from the light-curve moments,
    or (``moments=None``) with the light curves evaluated."""
    if moments is None:
        return _slow_weights(model, values, fixed, h, batch)
    return _log_weights_fast(model, values, fixed, moments, h)


def _diagnostics(log_w):
    """Pareto k̂ (arviz-stats' PSIS), effective sample size and the Monte Carlo standard
    error of the log of the mean, of each SN's weights ``(draws, n_sn)``."""
    import arviz_stats  # noqa: F401 (the .azstats accessor)
    import xarray as xr

    log_w = np.where(np.isfinite(log_w), log_w, -1e300)  # PSIS wants finite numbers
    # arviz-stats' psislw smooths exp(-x), x a log-likelihood (ArviZ 0.x's took log weights)
    _, k_hat = xr.DataArray(-log_w, dims=["draw", "sn"]).azstats.psislw(dim="draw")
    w = np.exp(log_w - log_w.max(axis=0))
    ess = w.sum(axis=0) ** 2 / np.maximum((w**2).sum(axis=0), 1e-300)
    # the mean's relative variance is var(w)/(n mean(w)²) = (n/ess − 1)/n
    mc_se = np.sqrt(np.maximum(1.0 / ess - 1.0 / len(w), 0.0))
    return np.asarray(k_hat, float), ess, mc_se
