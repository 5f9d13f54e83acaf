"""``HierarchicalModel``: SED model + dust law + survey + dust population → one
differentiable log density over a flat unconstrained vector.

Parameters, in the sampler's coordinates (a dict pytree, ``ravel_pytree``-flattened):

* ``hyper``: each hyperparameter ``x`` with value ``T(x)``, ``T = biject_to(support)``;
* per SN: ``theta`` (θ ~ N(0,1)); ``A_V`` and ``R_V`` when the population gives them a
  distribution (parameterised by type, see ``_reparam``; R_V in *informed* coordinates
  after :meth:`HierarchicalModel.with_anchors`, which the samplers' default per-SN
  start applies); ``e`` (ε = L_Σ e, e ~ N(0, I));
  ``D`` (centred: D = μ̂ + 0.1 mag·x − A_V by default, i.e. x measures the *apparent*
  distance D + A_V; see below);
  ``t_max`` (U(−10, 10) via a logistic map) when the population fits times of maximum.

The distance coordinate. A light curve measures D + A_V (how faint the SN looks in V)
to a few hundredths of a magnitude, while D and A_V separately are known only to about
σ_μ̂ ⊕ σ0 ≈ 0.1 mag: in (D, A_V) the posterior is a thin ridge along D + A_V = const that
a diagonal metric cannot follow. Sampling x = (D + A_V − μ̂)/0.1 mag instead
(``distance_coordinate="apparent"``, the default; a shear, unit Jacobian) turns that ridge
into an axis: shorter NUTS trajectories and a larger smallest hyperparameter ESS
(benchmarks/README.md, "The apparent-distance coordinate"). ``"distance"`` samples
x = (D − μ̂)/0.1 mag.
Either way D is centred: a non-centred D would tie σ0 to every SN.

``D = μ + δM`` is BayeSN's "distance plus grey offset". In the hierarchical models
μ̂ = distmod(z_cmb) in a fixed flat ΛCDM (BayeSN's H0 = 73.24, Ωm = 0.28) and
σ_μ̂ = 5/(z ln 10)·√(σ_z² + σ_pec²) with σ_pec = 150 km/s.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jaxtyping import Array
from numpyro.distributions.distribution import validation_enabled
from numpyro.distributions.transforms import biject_to

from .._compile import jit_once
from .._custom_types import Flat, PerObs, PerSN, Scalar, sn_axis
from .._errors import ConfigError, DataError, ModelError
from .._forward import PreparedSurvey, prepare
from .._population import AbstractDustPopulation, HostData
from ._params import (
    PER_SN,
    ParameterLayout,
    discover_layout,
    hyperpriors_of,
    walk_hyperpriors,
)
from ._reparam import (
    ANCHORED_KINDS,
    kind_of,
    natural_log_prob,
    sample_coordinates,
    to_unconstrained,
)

__all__ = ["HierarchicalModel"]

SIGMA_PEC = 150.0 / 3e5  # BayeSN: 150 km/s peculiar velocities, c = 3e5 km/s
FIT_DISTANCE_SD = 5.0  # BayeSN's fits: a near-flat N(μ̂, 5²) distance prior
FIT_DISTANCE_COORDINATE = 0.1  # fits: D = μ̂ + 0.1 mag × x (x is O(1) in the posterior)
TMAX_RANGE = 10.0  # BayeSN's fits: t_max ~ U(−10, 10) rest-frame days
BLOCKS = (
    "hyperprior",
    "dust_prior",
    "intrinsic_prior",
    "distance_prior",
    "tmax_prior",
    "likelihood",
)
_HALF_LOG_2PI = float(0.5 * np.log(2 * np.pi))


def _default_cosmology():
    from astropy.cosmology import FlatLambdaCDM

    return FlatLambdaCDM(H0=73.24, Om0=0.28)


class HierarchicalModel(eqx.Module):
    """The BayeSN hierarchical model of a survey, for any dust population.

    Example::

        model = sd.HierarchicalModel(sed=sd.BayeSNModel.load("T21"), survey=survey,
                                     population=sd.MassSplit(split=10.0))
        x = model.init_position(jax.random.key(0))
        model.logdensity(x), jax.grad(model.logdensity)(x)
        model.constrain(x)["mu_R_HM"]

    Args:
        sed: the SED model (hyperparameters W0, W1, L_Σ, M0 are held at trained values).
        survey: a :class:`sndust.Survey` (or an already :func:`sndust.prepare`-d survey).
        population: a :class:`sndust.DustPopulation`.
        dust: host dust law (default Fitzpatrick99).
        filters: filter bank (default built-in).
        cosmology: astropy cosmology for μ̂ (default flat ΛCDM, H0=73.24, Ωm=0.28).
        dtype, phase_window, chunk_size, milky_way, milky_way_R_V: passed to
            :func:`sndust.prepare` (the last two: the Galactic extinction law, default
            Fitzpatrick99 at R_V = 3.1).
        distance_coordinate: ``"apparent"`` (default) or ``"distance"``: what each SN's
            distance coordinate measures (see the module docstring). The posterior is
            the same; only the geometry the sampler sees differs.
    """

    prepared: PreparedSurvey
    population: AbstractDustPopulation
    host: HostData = sn_axis()
    muhat: PerSN = sn_axis()
    muhat_err: PerSN = sn_axis()
    flux_ref: PerSN = sn_axis()
    anchors: dict = sn_axis()
    layout: ParameterLayout = eqx.field(static=True)
    distance_coordinate: str = eqx.field(static=True)

    def __init__(
        self,
        *,
        sed,
        survey,
        population,
        dust=None,
        filters=None,
        cosmology=None,
        dtype=None,
        phase_window=None,
        chunk_size=None,
        distance_coordinate="apparent",
        milky_way=None,
        milky_way_R_V=None,
    ):
        if distance_coordinate not in ("apparent", "distance"):
            raise ConfigError(
                f"distance_coordinate must be 'apparent' or 'distance', got "
                f"{distance_coordinate!r}",
                field="distance_coordinate",
            )
        self.distance_coordinate = distance_coordinate
        if not isinstance(population, AbstractDustPopulation):
            raise ConfigError(
                f"population must be a sndust.DustPopulation, got {type(population).__name__}",
                field="population",
            )
        population = population.bind(sed)
        free_tmax = bool(population.free_tmax)
        if isinstance(survey, PreparedSurvey):
            prepared = survey
            if prepared.free_tmax != free_tmax:
                raise ConfigError(
                    f"survey was prepared with free_tmax={prepared.free_tmax}, but "
                    f"{type(population).__name__} needs free_tmax={free_tmax}",
                    field="free_tmax",
                )
        else:
            prepared = prepare(
                survey,
                sed,
                dust,
                filters,
                free_tmax=free_tmax,
                phase_window=phase_window,
                chunk_size=chunk_size,
                dtype=dtype,
                milky_way=milky_way,
                milky_way_R_V=milky_way_R_V,
            )
        ftype = prepared.obs_fluxcal.dtype
        host = HostData.from_prepared(prepared)
        _check_host(population, host, prepared.snid)
        z_cmb = np.asarray(prepared.z_cmb, float)
        if np.any(~np.isfinite(z_cmb)) or np.any(z_cmb <= 0):
            bad = [s for s, z in zip(prepared.snid, z_cmb) if not (np.isfinite(z) and z > 0)]
            raise DataError(
                f"{len(bad)} SNe have no positive CMB redshift for the distance prior: "
                f"{', '.join(bad[:10])}",
                field="z_cmb",
            )
        cosmo = _default_cosmology() if cosmology is None else cosmology
        muhat = np.asarray(cosmo.distmod(z_cmb).value, float)
        z_err = np.nan_to_num(np.asarray(prepared.z_err, float))
        muhat_err = 5.0 / (z_cmb * np.log(10.0)) * np.sqrt(z_err**2 + SIGMA_PEC**2)

        self.prepared = prepared
        self.population = population
        self.host = host
        self.muhat = jnp.asarray(muhat, ftype)
        self.muhat_err = jnp.asarray(muhat_err, ftype)
        # fluxes are computed from D − μ̂ with 10^(−0.4 (M0 + μ̂)) formed in float64 here
        self.flux_ref = prepared.reference_scale(muhat)
        self.anchors = {}
        with validation_enabled(False):  # NaN priors are named SN by SN just below
            self.layout = discover_layout(population, host, prepared.n_sn, prepared.n_eps, ftype)
        # NaN per-SN priors are named below, SN by SN, instead of numpyro's bare ValueError
        with validation_enabled(False):
            _check_priors_at_start(self)

    # ------------------------------------------------------------------ sizes, names
    @property
    def n_sn(self) -> int:
        return self.prepared.n_sn

    @property
    def snid(self) -> tuple[str, ...]:
        return self.prepared.snid

    @property
    def hyper_names(self) -> tuple[str, ...]:
        return self.layout.hyper_names

    def _hyperpriors(self) -> dict:
        return hyperpriors_of(self.population, self.layout.global_sigma0)

    # ------------------------------------------------------------------ the flat vector
    @property
    def dim(self) -> int:
        """Length of the flat unconstrained parameter vector."""
        return self.layout.dim

    def unravel(self, flat: Flat) -> dict:
        """Flat unconstrained vector → unconstrained parameter dict."""
        return self.layout.unravel(flat)

    def ravel(self, tree: dict) -> Flat:
        """Unconstrained parameter dict → flat vector."""
        return self.layout.ravel(tree)

    def with_anchors(self, anchors: dict) -> HierarchicalModel:
        """This model in *informed* coordinates: ``anchors`` maps a per-SN dust parameter
        (``"R_V"``) to ``(loc, prec)``, arrays ``(n_sn,)`` summarising each SN's light
        curves as N(loc, 1/prec) in that parameter; its coordinate then weighs the
        population prior against that summary SN by SN (``_reparam``'s module docstring:
        non-centred where prec = 0, centred where prec ≫ 1/scale²). The posterior of the
        values is the same; only the coordinates the sampler moves in differ (a run's
        ``lp`` statistic is still the model's log density at each draw: the posterior
        adds :meth:`anchor_log_jacobian`). The per-SN start (``informed=True``, its
        default; ``_sampling/_population_start.py``) measures the anchors, and a run
        from it (``init="per_sn"``, the default, or that start) samples in these
        coordinates.

        Raises:
            ConfigError: a name that is not a per-SN dust parameter this model samples
                with a normal or truncated-normal prior, or arrays of the wrong shape.
        """
        dtype = self.prepared.obs_fluxcal.dtype
        kinds = dict(self.layout.dust_kinds)
        checked = {}
        for name, (loc, prec) in anchors.items():
            if kinds.get(name) not in ANCHORED_KINDS:
                raise ConfigError(
                    f"anchors: {name!r} is not a per-SN dust parameter sampled with a normal "
                    f"or truncated-normal prior (this model's: "
                    f"{[k for k, v in kinds.items() if v in ANCHORED_KINDS]})",
                    field="anchors",
                )
            loc, prec = (np.asarray(a, float) for a in (loc, prec))
            if loc.shape != (self.n_sn,) or prec.shape != (self.n_sn,):
                raise ConfigError(
                    f"anchors[{name!r}]: loc and prec must have shape ({self.n_sn},), got "
                    f"{loc.shape} and {prec.shape}",
                    field="anchors",
                )
            if not (np.all(np.isfinite(loc)) and np.all(np.isfinite(prec)) and np.all(prec >= 0)):
                raise ConfigError(
                    f"anchors[{name!r}]: loc must be finite and prec finite and ≥ 0",
                    field="anchors",
                )
            checked[name] = (jnp.asarray(loc, dtype), jnp.asarray(prec, dtype))
        return eqx.tree_at(lambda m: m.anchors, self, checked)

    # ------------------------------------------------------------------ core
    def _forward(self, flat):
        """Values and per-block log densities (in sampler coordinates) of a flat vector."""
        values, priors, blocks = self._prior_part(self.unravel(flat))
        blocks["likelihood"] = self._log_likelihood_per_sn(values, priors)
        return values, blocks

    def _prior_part(self, u):
        """Values, the population's per-SN priors and the prior blocks of a parameter dict."""
        n = self.n_sn
        h, lp_hyper = self._hyper_part(u["hyper"])
        priors = self.population.dust_priors(h, self.host)
        values = dict(h)
        lp_dust = jnp.zeros(n)
        for name, kind in self.layout.dust_kinds:
            prior = getattr(priors, name)
            if kind_of(prior) != kind:
                raise ModelError(
                    f"{type(self.population).__name__}.dust_priors changed the type of its "
                    f"{name} prior between calls ({kind} -> {kind_of(prior)})",
                    field=name,
                )
            value, lp = sample_coordinates(prior, u.get(name), n, self.anchors.get(name))
            values[name] = value
            lp_dust = lp_dust + lp
        theta, e = u["theta"], u["e"]
        lp_intrinsic = _std_normal(theta) + _std_normal(e).sum(-1)
        # D = μ̂ + c·x (− A_V), centred, with c = 0.1 mag (the data-scale of D) keeping x O(1)
        c = self._distance_coordinate_scale(h, priors)
        offset = c * u["D"]  # D − μ̂, kept apart: D itself is rounded to ~4e-6 in float32
        if self.distance_coordinate == "apparent":
            offset = offset - values["A_V"]
        D = self.muhat + offset
        sd = self._distance_sd(h, priors)
        lp_distance = dist.Normal(0.0, sd).log_prob(offset) + jnp.log(c)
        values.update(theta=theta, e=e, D=D, _D_offset=offset)
        lp_tmax = jnp.zeros(n)
        if self.layout.free_tmax:
            x = u["t_max"]
            values["t_max"] = TMAX_RANGE * jnp.tanh(0.5 * x)  # = −10 + 20 σ(x)
            lp_tmax = -jax.nn.softplus(-x) - jax.nn.softplus(x)
        blocks = dict(
            hyperprior=lp_hyper,
            dust_prior=lp_dust,
            intrinsic_prior=lp_intrinsic,
            distance_prior=lp_distance,
            tmax_prior=lp_tmax,
        )
        return values, priors, blocks

    def _hyper_part(self, x: dict):
        """Hyperparameter values from their sampler coordinates ``x`` (by name), and
        their log prior density in those coordinates (Jacobian included)."""
        h, dists = walk_hyperpriors(
            self._hyperpriors(), lambda name, d: biject_to(d.support)(x[name])
        )
        lp_hyper = jnp.zeros(())
        for name, d in dists.items():
            jacobian = biject_to(d.support).log_abs_det_jacobian(x[name], h[name])
            lp_hyper = lp_hyper + jnp.sum(d.log_prob(h[name]) + jacobian)
        return h, lp_hyper

    def _distance_sd(self, h, priors):
        sigma0 = jnp.broadcast_to(_sigma0(h, priors), (self.n_sn,))
        if self.population.distance_prior == "free":
            return jnp.sqrt(FIT_DISTANCE_SD**2 + sigma0**2)
        return jnp.sqrt(self.muhat_err**2 + sigma0**2)

    def _distance_coordinate_scale(self, h, priors):
        return jnp.full(self.n_sn, FIT_DISTANCE_COORDINATE, self.muhat.dtype)

    def _eps(self, values, priors):
        eps = self.prepared.eps_from_e(values["e"])
        if priors.delta_W0 is not None:
            eps = eps + priors.delta_W0
        return eps

    def _forward_args(self, values, priors):
        """Keyword arguments of the PreparedSurvey forward model for these values."""
        offset = values.get("_D_offset")
        if offset is None:  # physical values given (log_joint)
            offset = values["D"] - self.muhat
        return dict(
            theta=values["theta"],
            A_V=values["A_V"],
            R_V=values["R_V"],
            eps=self._eps(values, priors),
            distmod=offset,
            ref_scale=self.flux_ref,
            delta_M=priors.delta_M,
            t_max=values.get("t_max"),
        )

    def _log_likelihood_per_sn(self, values, priors):
        return self.prepared.log_likelihood_per_sn(**self._forward_args(values, priors))

    # ------------------------------------------------------------------ public density
    def logdensity(self, flat: Flat) -> Scalar:
        """Log posterior density (up to a constant) at a flat unconstrained vector."""
        _, blocks = self._forward(flat)
        return sum(jnp.sum(b) for b in blocks.values())

    def logdensity_per_sn(self, flat: Flat) -> PerSN:
        """Each SN's share of the log density (hyperprior excluded): for populations with
        no hyperparameters (per-SN fits) these are independent problems."""
        _, blocks = self._forward(flat)
        return sum(b for k, b in blocks.items() if k != "hyperprior")

    def log_density_blocks(self, flat: Flat) -> dict[str, Array]:
        """The log density split by block: hyperprior, dust_prior, intrinsic_prior,
        distance_prior, tmax_prior, likelihood (per-SN blocks as ``(n_sn,)`` arrays)."""
        return self._forward(flat)[1]

    def anchor_log_jacobian(self, flat: Flat) -> Scalar:
        """log |det| of the change from this model's informed coordinates
        (:meth:`with_anchors`) back to the prior's: the log density of the same values
        in the model without anchors, minus :meth:`logdensity` here. Zero without
        anchors. Only the anchored per-SN prior terms differ, so no likelihood is
        evaluated; a run in informed coordinates adds it to its ``lp`` statistic, which
        is then the model's log density at each draw, whatever the coordinates."""
        if not self.anchors:
            return jnp.zeros((), self.prepared.obs_fluxcal.dtype)
        u = self.unravel(flat)
        h, _ = self._hyper_part(u["hyper"])
        priors = self.population.dust_priors(h, self.host)
        total = jnp.zeros((), self.prepared.obs_fluxcal.dtype)
        for name, anchor in self.anchors.items():
            prior = getattr(priors, name)
            value, lp = sample_coordinates(prior, u[name], self.n_sn, anchor)
            _, lp_prior = sample_coordinates(prior, to_unconstrained(prior, value), self.n_sn)
            total = total + jnp.sum(lp_prior - lp)
        return total

    def log_likelihood_per_sn(self, flat: Flat) -> PerSN:
        """Per-SN flux log-likelihood (for PSIS-LOO and model comparison)."""
        return self._forward(flat)[1]["likelihood"]

    def constrain(self, flat: Flat) -> dict[str, Array]:
        """Named physical values: hyperparameters by name; per SN ``theta``, ``A_V``,
        ``R_V``, ``e``, ``D``, (``t_max``), plus ``sigma0_sn`` (each SN's grey scatter)
        and ``delta_M`` (each SN's magnitude offset from the population)."""
        return _constrained(self, flat)  # compiled: op by op it took seconds of dispatch

    def _constrain(self, flat):
        values, priors, _ = self._prior_part(self.unravel(flat))
        h = {name: values[name] for name in self.hyper_names}
        out = {k: v for k, v in values.items() if not k.startswith("_")}
        out["sigma0_sn"] = jnp.broadcast_to(_sigma0(h, priors), (self.n_sn,))
        out["delta_M"] = jnp.broadcast_to(jnp.asarray(priors.delta_M), (self.n_sn,))
        return out

    def unconstrain(self, params: dict) -> Flat:
        """Flat vector for named physical values (missing per-SN entries: prior centre).

        Raises:
            ConfigError: a value outside its prior's support, naming the parameter and SN.
        """
        n = self.n_sn
        dtype = self.prepared.obs_fluxcal.dtype
        tree = self.layout.template()
        hyperpriors = self._hyperpriors()
        missing = [name for name in hyperpriors if name not in params]
        if missing:
            raise ConfigError(f"missing hyperparameter {missing[0]!r}", field=missing[0])

        def given(name, d):
            value = jnp.asarray(params[name], dtype)
            _check_support(d, value, name, None)
            return value

        h, dists = walk_hyperpriors(hyperpriors, given)
        for name, d in dists.items():
            tree["hyper"][name] = biject_to(d.support).inv(h[name])
        priors = self.population.dust_priors(h, self.host)
        for name, kind in self.layout.dust_kinds:
            if kind == "fixed" or name not in params:
                continue
            prior = getattr(priors, name)
            value = jnp.broadcast_to(jnp.asarray(params[name], dtype), (n,))
            _check_support(prior, value, name, self.snid)
            tree[name] = to_unconstrained(prior, value, self.anchors.get(name))
        for name in ("theta", "e"):
            if name in params:
                tree[name] = jnp.broadcast_to(jnp.asarray(params[name], dtype), tree[name].shape)
        if "D" in params:
            scale = self._distance_coordinate_scale(h, priors)
            D = jnp.asarray(params["D"], dtype)
            if self.distance_coordinate == "apparent":  # A_V as given, or at its default
                D = D + self._prior_part(tree)[0]["A_V"]
            tree["D"] = (D - self.muhat) / scale
        if self.layout.free_tmax and "t_max" in params:
            t = jnp.broadcast_to(jnp.asarray(params["t_max"], dtype), (n,))
            _check_support(dist.Uniform(-TMAX_RANGE, TMAX_RANGE), t, "t_max", self.snid)
            tree["t_max"] = 2.0 * jnp.arctanh(t / TMAX_RANGE)
        for name, leaf in [
            *tree["hyper"].items(),
            *((k, v) for k, v in tree.items() if k != "hyper"),
        ]:
            bad = ~np.isfinite(np.asarray(leaf))
            if bad.any():
                where = ""
                if name in PER_SN:
                    rows = np.flatnonzero(bad.reshape(n, -1).any(axis=1))
                    where = " for SNe " + ", ".join(self.snid[i] for i in rows[:10])
                raise ConfigError(
                    f"starting value of {name!r} is on the edge of its prior's support{where}"
                    " (no finite sampler coordinate); move it inside",
                    field=name,
                )
        return self.ravel(tree)

    def log_joint(self, params: dict) -> Scalar:
        """Log joint density of *physical* values (the model as written: no change of
        variables), ``log p(hyper) + Σ_s log p(θ, A_V, R_V, e, D, t_max | hyper) + log L``.

        Differences of this between points are what BayeSN's NumPyro model gives for
        the same values; :meth:`logdensity` adds the Jacobian of :meth:`constrain`.
        """
        hyper, per_sn = self._log_joint(params)
        return hyper + jnp.sum(per_sn)

    def _log_joint(self, params: dict, *, likelihood: bool = True):
        """:meth:`log_joint` in parts: the hyperprior's term, and each SN's terms as an
        ``(n_sn,)`` array, with or without its likelihood (the population start,
        ``_sampling/_population_start.py``, weighs each SN on its own and needs the
        likelihood only where the hyperparameters reach the light curves)."""
        n = self.n_sn
        h, dists = walk_hyperpriors(self._hyperpriors(), lambda name, d: params[name])
        hyper = jnp.zeros(())
        for name, d in dists.items():
            hyper = hyper + jnp.sum(d.log_prob(params[name]))
        priors = self.population.dust_priors(h, self.host)
        values = {**params}
        per_sn = jnp.zeros(n)
        for name, kind in self.layout.dust_kinds:
            prior = getattr(priors, name)
            if kind == "fixed":
                values[name] = jnp.broadcast_to(jnp.asarray(prior), (n,))
            per_sn = per_sn + natural_log_prob(prior, values[name], n)
        per_sn = per_sn + _std_normal(params["theta"]) + jnp.sum(_std_normal(params["e"]), -1)
        sd = self._distance_sd(h, priors)
        per_sn = per_sn + dist.Normal(self.muhat, sd).log_prob(params["D"])
        if self.layout.free_tmax:
            per_sn = per_sn + dist.Uniform(-TMAX_RANGE, TMAX_RANGE).log_prob(params["t_max"])
        if likelihood:
            per_sn = per_sn + self._log_likelihood_per_sn(values, priors)
        return hyper, per_sn

    # ------------------------------------------------------------------ starts, checks
    def init_position(self, key, *, radius: float = 2.0) -> Flat:
        """A random start: hyperparameters and A_V, R_V uniform in (−radius, radius) on
        the unconstrained scale (like NumPyro's ``init_to_uniform``); θ, e, D, t_max at
        small random values around the prior centre."""
        return _init_position(self, key, radius)

    def _init_position(self, key, radius):
        tree = self.layout.template()
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        keys = jax.random.split(key, len(leaves))
        paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
        out = []
        for k, leaf, path in zip(keys, leaves, paths):
            wide = "hyper" in path or "A_V" in path or "R_V" in path
            r = radius if wide else 0.1
            out.append(jax.random.uniform(k, leaf.shape, leaf.dtype, -r, r))
        return self.ravel(jax.tree_util.tree_unflatten(treedef, out))

    def sample_prior(self, key, *, fixed: dict | None = None) -> Flat:
        """A flat vector drawn from the prior: hyperparameters from their hyperpriors
        (or the values in ``fixed``), then every per-SN parameter from the population's
        priors given them (θ ~ N(0, 1), e ~ N(0, I), distances around μ̂ with the model's
        distance scatter; per-SN fits, whose distance prior is near-flat, draw D with
        the population's σ0 instead). The same key gives the same draw.

        In the sampler's coordinates every per-SN parameter is a draw from a fixed
        standard distribution, so the draw is made there.

        Raises:
            ConfigError: ``fixed`` names a hyperparameter this model does not have, or a
                value outside its prior's support.
        """
        fixed = dict(fixed or {})
        hyperpriors = self._hyperpriors()
        unknown = set(fixed) - set(hyperpriors)
        if unknown:
            raise ConfigError(
                f"unknown hyperparameters {sorted(unknown)}; this population has "
                f"{list(hyperpriors)}",
                field=sorted(unknown)[0],
            )
        # one compiled program: op by op, the prior transforms and inverse CDFs cost ~9 s
        # of per-operation compilation on the first call of a process
        x = _sample_prior(self, key, {k: jnp.asarray(v) for k, v in fixed.items()})
        coords = self.unravel(x)["hyper"]
        for name in fixed:
            if not np.all(np.isfinite(np.asarray(coords[name]))):
                raise ConfigError(
                    f"hyperparameter {name!r} = {fixed[name]} is outside its prior's support",
                    field=name,
                )
        return x

    def _sample_prior(self, key, fixed):
        keys = iter(jax.random.split(key, 64))
        tree = self.layout.template()
        dtype = self.layout.dtype

        def draw(name, d):
            value = fixed[name] if name in fixed else d.sample(next(keys))
            return jnp.asarray(value, dtype)

        h, dists = walk_hyperpriors(self._hyperpriors(), draw)
        for name, d in dists.items():
            tree["hyper"][name] = biject_to(d.support).inv(h[name])
        n = self.n_sn
        for name in self.layout.sampled:
            shape = tree[name].shape
            k = next(keys)
            if name in ("theta", "e"):
                tree[name] = jax.random.normal(k, shape)
            elif name == "D":
                # Fits have a near-flat distance prior (5 mag): draw with the
                # population's grey scatter σ0 around μ̂ instead.
                priors = self.population.dust_priors(h, self.host)
                sd = self._distance_sd(h, priors)
                if self.population.distance_prior == "free":
                    sd = jnp.broadcast_to(priors.sigma0, (n,))
                x = sd * jax.random.normal(k, shape)
                if self.distance_coordinate == "apparent":  # the coordinate holds D + A_V
                    x = x + self._prior_part(tree)[0]["A_V"]
                tree[name] = x / self._distance_coordinate_scale(h, priors)
            elif name in ("A_V", "R_V"):
                prior = getattr(self.population.dust_priors(h, self.host), name)
                value = jnp.broadcast_to(prior.sample(k, () if prior.batch_shape else (n,)), (n,))
                tree[name] = to_unconstrained(prior, value, self.anchors.get(name))
            elif name == "t_max":
                u = jax.random.uniform(k, shape, minval=1e-6, maxval=1 - 1e-6)
                tree[name] = jax.scipy.special.logit(u)
        return self.ravel(tree)

    def check(self, flat: Flat) -> dict[str, float]:
        """Evaluate each block at ``flat`` and raise a :class:`ModelError` naming the first
        block (and SNe) whose log density is NaN or +inf; returns the block totals."""
        _, blocks = _blocks_at(self, flat)
        totals = {}
        for name in BLOCKS:
            value = np.asarray(blocks[name])
            bad = ~np.isfinite(value) & ~(value == -np.inf)
            if bad.any():
                where = ""
                if value.ndim:
                    sne = [self.snid[i] for i in np.flatnonzero(bad)[:10]]
                    where = f" for {int(bad.sum())} SNe ({', '.join(sne)})"
                raise ModelError(
                    f"log density block {name!r} is {value[bad][0]}{where}", field=name
                )
            totals[name] = float(value.sum())
        return totals

    # ------------------------------------------------------------------ predictions
    def predict_fluxcal(self, flat: Flat) -> PerObs:
        """Model FLUXCAL at the parameters (posterior predictive mean for a draw), in the
        survey's ``(n_sn, n_obs)`` layout; vmap it over draws."""
        values, priors, _ = self._prior_part(self.unravel(flat))
        return self.prepared.fluxcal(**self._forward_args(values, priors))

    def distances(self, flat: Flat, key=None) -> dict[str, Array]:
        """Per-SN distances of one draw.

        Hierarchical populations: ``D`` (= μ + δM) and the Hubble residual ``D − μ̂``.
        Fits (``distance_prior="free"``): as BayeSN, μ is drawn from its conditional
        N((25 D + μ̂ σ0²)/(25 + σ0²), √(25 σ0²/(25 + σ0²))) with ``key`` and δM = D − μ.
        """
        values = self.constrain(flat)
        out = {"D": values["D"], "muhat": self.muhat, "residual": values["D"] - self.muhat}
        if self.population.distance_prior == "free":
            if key is None:
                raise ConfigError("distances() of a fit needs key= to draw μ", field="key")
            s2, v2 = values["sigma0_sn"] ** 2, FIT_DISTANCE_SD**2
            mean = (v2 * values["D"] + self.muhat * s2) / (v2 + s2)
            sd = jnp.sqrt(v2 * s2 / (v2 + s2))
            mu = mean + sd * jax.random.normal(key, mean.shape, mean.dtype)
            out |= {"mu": mu, "delta_M": values["D"] - mu}
        if self.layout.free_tmax:
            z = self.prepared.z_hel
            out["peak_mjd"] = self.prepared.peak_mjd + values["t_max"] * (1 + z)
        return out


# compiled once per model structure (a model is an argument, so every instance of one
# shape shares the program); called from traced code they are inlined
_constrained = jit_once(lambda model, flat: model._constrain(flat))
_init_position = jit_once(lambda model, key, radius: model._init_position(key, radius))
_blocks_at = jit_once(lambda model, flat: model._forward(flat))
_sample_prior = eqx.filter_jit(lambda model, key, fixed: model._sample_prior(key, fixed))


@jit_once
def _at_start(model, flat):
    values, _, blocks = model._prior_part(model.unravel(flat))
    return blocks["dust_prior"], values["A_V"], values["R_V"]


def _std_normal(x):
    return -0.5 * x**2 - _HALF_LOG_2PI


def _sigma0(h, priors):
    """Grey scatter per SN from the population, else the global hyperparameter."""
    return h["sigma0"] if priors.sigma0 is None else priors.sigma0


def _check_support(d, value, name, snid):
    ok = np.asarray(d.support(value))
    if ok.all():
        return
    bad = np.flatnonzero(~np.broadcast_to(ok, np.shape(value)).reshape(-1))
    where = ""
    if snid is not None and np.ndim(value) == 1:
        where = " for SNe " + ", ".join(snid[i] for i in bad[:10])
    raise ConfigError(
        f"starting value of {name!r} is outside its prior's support {d.support}{where}: "
        f"{np.asarray(value).reshape(-1)[bad[:5]]}",
        field=name,
    )


def _check_host(population, host, snid):
    for field in population.host_fields:
        values = np.asarray(host[field])
        bad = ~np.isfinite(values)
        if bad.any():
            names = [snid[i] for i in np.flatnonzero(bad)]
            raise DataError(
                f"{type(population).__name__} needs {field} for every SN, but {len(names)} "
                f"have none: {', '.join(names[:10])}{' …' if len(names) > 10 else ''}. "
                "Drop them with survey.cut(exclude=[...]) or supply the values.",
                field=field,
            )


def _check_priors_at_start(model) -> None:
    """Fail early, naming SNe, when the population's per-SN priors are undefined."""

    flat = jnp.zeros(model.dim, model.prepared.obs_fluxcal.dtype)
    bad = np.zeros(model.n_sn, bool)
    for part in _at_start(model, flat):
        bad |= np.isnan(np.asarray(part))
    if bad.any():
        names = [model.snid[i] for i in np.flatnonzero(bad)]
        raise ModelError(
            f"{type(model.population).__name__}.dust_priors gives NaN priors (A_V, R_V) for "
            f"{len(names)} SNe ({', '.join(names[:10])}); check the host data it uses",
            field="dust_priors",
        )
