"""Sampling results as an ArviZ 1.x DataTree (:class:`xarray.DataTree`): hyperparameters,
per-SN latents and distances.

Groups: ``posterior`` (hyperparameters by name; per-SN ``theta``, ``A_V``, ``R_V``, ``e``,
``D``, ``t_max``, ``sigma0_sn``, ``delta_M``, ``residual`` (D − μ̂), ``mu`` and
``peak_mjd`` where defined — dims ``chain, draw, sn, …``), ``sample_stats`` (``lp``,
``diverging``, ``acceptance_rate``, ``n_steps``, ``energy``… as the sampler defines them),
``log_likelihood`` (``flux``: per-SN log-likelihood, for PSIS-LOO), ``observed_data`` (the
FLUXCAL points fitted) and ``constant_data`` (redshifts, μ̂, host masses). Saved as netCDF
(HDF5) — never pickle; files written through ArviZ 0.x's InferenceData (sndust before the
move to ArviZ 1.x) have the same layout and read the same. Summaries and diagnostics
(R-hat, ESS, MCSE, HDI) come from arviz-stats.
"""

from __future__ import annotations

import datetime
import json
import os

import arviz_stats as azs
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from astropy.table import Table

from .._compile import jit_once
from .._errors import ConfigError, DataError
from .._fitres import write_fitres

__all__ = ["Posterior"]

_CHUNK = 256  # draws per vectorised evaluation when building the posterior
#: convergence criteria (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, Bayesian
#: Analysis 16:667): rank-normalised split R-hat and bulk/tail ESS of every parameter
RHAT_MAX = 1.01
ESS_MIN = 400.0
#: chains whose log densities or hyperparameters over the second half of warm-up give a
#: larger R-hat are reported as disagreeing (stuck apart, or still on their way), and the
#: warm-up is extended where asked (``run(extend_warmup=)``)
WARMUP_RHAT_MAX = 1.1
#: the summary's highest-density interval (ArviZ 0.x's default, kept by sndust)
HDI_PROB = 0.94


def _hdi_columns(table, prob: float):
    """arviz-stats' interval columns (``hdi94_lb``, ``hdi94_ub``) renamed as ArviZ 0.x
    and sndust named them (``hdi_3%``, ``hdi_97%``), the display formatting kept."""
    names = {}
    for col in table.columns:
        if col.startswith("hdi") and col.endswith(("_lb", "_ub")):
            q = (1 - prob) / 2 if col.endswith("_lb") else (1 + prob) / 2
            names[col] = f"hdi_{100 * q:g}%"
    fmt = getattr(table, "_fmt_map", None)  # arviz-stats' SummaryDataFrame: rounded display
    table = table.rename(columns=names)
    if fmt:
        table._fmt_map = {names.get(k, k): v for k, v in fmt.items()}
    return table


def warmup_rhat(lp, hyper=None) -> float | None:
    """The largest rank-normalised split R-hat over the second half of warm-up, of the
    chains' log density ``lp`` ``(chains, steps)`` and of each of their hyperparameters
    ``hyper`` ``(chains, steps, h)`` (optional); None with one chain or under 20 steps.
    Chains stuck in different places, or still far from the typical set, give a large
    value; the hyperparameters show a chain apart that the log density, dominated by
    the many per-SN terms, can hide."""
    lp = np.asarray(lp, np.float64)
    if lp.ndim != 2 or lp.shape[0] < 2 or lp.shape[1] < 20:
        return None
    half = lp.shape[1] // 2
    series = [lp[:, half:]]
    if hyper is not None:
        hyper = np.asarray(hyper, np.float64)
        series += [hyper[:, half:, i] for i in range(hyper.shape[-1])]
    return float(max(azs.rhat(x) for x in series))


class Posterior:
    """The result of a sampler run: an ArviZ 1.x :class:`xarray.DataTree` as ``.datatree``
    (also ``.idata``, the name of ArviZ 0.x's InferenceData it replaces). Its groups are
    also attributes, each as an :class:`xarray.Dataset`: ``post.posterior["tau_A"]``."""

    def __init__(self, datatree):  # an xarray.DataTree with a posterior group
        if not isinstance(datatree, xr.DataTree) or "posterior" not in datatree.children:
            raise DataError("a Posterior needs an xarray DataTree with a posterior group")
        self.datatree = datatree

    @property
    def idata(self) -> xr.DataTree:
        """The results' :class:`xarray.DataTree` (``.datatree``; ArviZ 1.x's replacement of
        InferenceData, which this name held before)."""
        return self.datatree

    def groups(self) -> list[str]:
        """The names of the groups present (``posterior``, ``sample_stats``, …)."""
        return list(self.datatree.children)

    def __getattr__(self, name):
        if name == "datatree":
            raise AttributeError(name)
        tree = self.datatree
        if name in tree.children:  # a group as a Dataset, as InferenceData gave: a view
            return tree[name].ds  # (its attrs and values the tree's own; no new variables)
        return getattr(tree, name)

    def __repr__(self) -> str:
        a = self.posterior.attrs
        ch, dr = self.posterior.sizes["chain"], self.posterior.sizes["draw"]
        return (
            f"Posterior({a.get('sampler', '?')}: {ch} chains × {dr} draws, "
            f"{self.posterior.sizes.get('sn', 0)} SNe, hyperparameters "
            f"{', '.join(self.hyper_names) or 'none'}; {self.divergences} divergences)"
        )

    # ------------------------------------------------------------------ build
    @classmethod
    def from_run(cls, model, sampler, draws, stats, **kwargs):
        """The posterior of a sampler's run (:meth:`from_draws` with the sampler's name
        and settings)."""
        return cls.from_draws(
            model, draws, method=sampler.name, settings=sampler.config(), stats=stats, **kwargs
        )

    @classmethod
    def from_draws(
        cls, model, draws, *, method, settings=None, stats=None, params=None, seconds=None,
        key, devices=1, warmup_rhat=None, warmup_extensions=0,
    ):  # fmt: skip
        """A posterior from draws of ``model``'s flat vector, ``(chains, draws, dim)``,
        made by any method (a sampler, or Laplace draws at a mode): every draw evaluated
        (physical values, distances, per-SN log-likelihood).

        Args:
            method: what made the draws (recorded as the ``sampler`` attribute).
            settings: its settings (recorded as ``sampler_config``).
            stats: per-draw statistics, name → ``(chains, draws)``.
            params: tuned parameters, name → per-chain values.
            seconds: ``{"warmup": …, "sampling": …}`` wall times.
            key: the PRNG key of the draws' derived quantities (fits' μ).
            devices: what the draws ran on.
            warmup_rhat: the chains' R-hat at the end of warm-up (:func:`warmup_rhat`;
                recorded; :meth:`convergence` warns above ``WARMUP_RHAT_MAX``).
            warmup_extensions: times the warm-up was extended because the chains
                disagreed at its end (recorded).
        """
        stats = {} if stats is None else stats
        params = {} if params is None else params
        seconds = {"warmup": 0.0, "sampling": 0.0} if seconds is None else seconds
        settings = {} if settings is None else settings
        draws = np.asarray(draws)
        chains, n_draw, dim = draws.shape
        flat = draws.reshape(-1, dim)
        # every chunk the same shape (the last padded with copies of the first draw), so
        # one program serves them all; slicing and keys in NumPy and in that program
        # (op by op, each JAX slice would compile a program of its own)
        n = flat.shape[0]
        chunk = min(_CHUNK, n)
        pad = -n % chunk
        flat = np.concatenate([flat, np.broadcast_to(flat[:1], (pad, dim))])
        parts = [
            _evaluate_chunk(model, jnp.asarray(flat[i : i + chunk]), key, jnp.asarray(np.int32(i)))
            for i in range(0, n + pad, chunk)
        ]
        values = jax.tree_util.tree_map(
            lambda *a: np.concatenate([np.asarray(x) for x in a])[:n].reshape(
                (chains, n_draw) + a[0].shape[1:]
            ),
            *parts,
        )
        loglik = values.pop("__log_likelihood__")
        shift = values.pop("__anchor_log_jacobian__", None)
        if shift is not None and "lp" in stats:  # lp: the model's density at each draw
            stats = stats | {"lp": np.asarray(stats["lp"]) + shift}
        derived = _derived_order(model, [k for k in values if k.startswith(_DERIVED)])
        values = {k.removeprefix(_DERIVED): v for k, v in values.items()}
        snid = list(model.snid)
        hyper = set(model.hyper_names) | set(derived)
        posterior = {}
        for name, a in values.items():
            if name in hyper:
                dims = [f"{name}_dim_{i}" for i in range(a.ndim - 2)]
            elif name == "e":
                dims = ["sn", "e_dim"]
            else:
                dims = ["sn"] + [f"{name}_dim_{i}" for i in range(a.ndim - 3)]
            posterior[name] = xr.DataArray(a, dims=["chain", "draw", *dims])
        coords = {"chain": np.arange(chains), "draw": np.arange(n_draw), "sn": snid}
        created = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        from .._version import __version__

        attrs = {
            "created_at": created,
            "inference_library": "sndust",
            "inference_library_version": __version__,
            "sampler": method,
            "sampler_config": json.dumps(settings),
            "hyper_names": json.dumps(list(model.hyper_names)),
            "derived_names": json.dumps(derived),
            "population": type(model.population).__name__,
            "distance_prior": model.population.distance_prior,
            "free_tmax": int(model.layout.free_tmax),
            "warmup_seconds": float(seconds["warmup"]),
            "sampling_seconds": float(seconds["sampling"]),
            "devices": devices,
        }
        if warmup_rhat is not None:
            attrs["warmup_rhat"] = float(warmup_rhat)
        if stats:
            attrs["warmup_extensions"] = int(warmup_extensions)
        sample_stats = {
            name: xr.DataArray(np.asarray(v), dims=["chain", "draw"]) for name, v in stats.items()
        }
        tuned = {
            f"tuned_{name}": xr.DataArray(np.asarray(v), dims=["chain"])
            for name, v in params.items()
            if np.ndim(v) == 1
        }
        prepared = model.prepared
        mask = np.asarray(prepared.mask)
        chunk_sn = np.broadcast_to(np.asarray(prepared.chunk_sn)[:, None], mask.shape)[mask]
        observed = {
            "fluxcal": xr.DataArray(np.asarray(prepared.obs_fluxcal)[mask], dims=["obs"]),
            "fluxcal_err": xr.DataArray(np.asarray(prepared.obs_fluxcal_err)[mask], dims=["obs"]),
            "obs_sn": xr.DataArray(np.asarray(snid)[chunk_sn], dims=["obs"]),
            "obs_phase": xr.DataArray(np.asarray(prepared.phase)[mask], dims=["obs"]),
        }
        constant = {
            name: xr.DataArray(np.asarray(v), dims=["sn"])
            for name, v in {
                "z_cmb": prepared.z_cmb,
                "z_hel": prepared.z_hel,
                "muhat": model.muhat,
                "muhat_err": model.muhat_err,
                "log_mass": prepared.log_mass,
                "peak_mjd_prior": prepared.peak_mjd,
                "survey": np.asarray(model.host.surveys, dtype=str)[np.asarray(model.host.survey)]
                if model.host.surveys
                else np.full(len(snid), ""),
            }.items()
        }
        groups = {
            "posterior": xr.Dataset(posterior, coords=coords, attrs=attrs),
            "log_likelihood": xr.Dataset(
                {"flux": xr.DataArray(loglik, dims=["chain", "draw", "sn"])}, coords=coords
            ),
            "sample_stats": xr.Dataset(
                sample_stats | tuned, coords={k: coords[k] for k in ("chain", "draw")}
            ),
            "observed_data": xr.Dataset(observed),
            "constant_data": xr.Dataset(constant, coords={"sn": snid}),
        }
        # no group without variables (draws of a Laplace approximation have no
        # sample_stats), as InferenceData left them out
        return cls(xr.DataTree.from_dict({k: v for k, v in groups.items() if v.data_vars}))

    # ------------------------------------------------------------------ summaries
    @property
    def hyper_names(self) -> tuple[str, ...]:
        return tuple(json.loads(self.posterior.attrs.get("hyper_names", "[]")))

    @property
    def derived_names(self) -> tuple[str, ...]:
        """The population's derived quantities in the posterior (``RV_mean``, ``Delta_M0``,
        …; :meth:`sndust.AbstractDustPopulation.derived`); none in older files."""
        return tuple(json.loads(self.posterior.attrs.get("derived_names", "[]")))

    @property
    def divergences(self) -> int:
        """Number of divergent transitions over all chains."""
        if "sample_stats" not in self.datatree.children:  # e.g. Laplace draws
            return 0
        stats = self.sample_stats
        return int(stats["diverging"].sum()) if "diverging" in stats else 0

    def summary(self, var_names=None, *, hdi_prob: float = HDI_PROB, **kwargs):
        """arviz-stats' summary (mean, sd, HDI, bulk/tail ESS, R-hat, MCSE) of
        ``var_names`` (default: the hyperparameters and the population's derived
        quantities, or θ, A_V, D of a per-SN fit); the data frame's ``attrs`` hold the
        divergence count and the sampler.

        The interval is the ``hdi_prob`` highest-density interval, in columns named as
        sndust always named them, ``hdi_3%`` and ``hdi_97%`` at the default 0.94
        (``hdi_2.5%``, ``hdi_97.5%`` at 0.95); given ``ci_prob`` or ``ci_kind``, the
        interval and its columns are arviz-stats' own (``eti89_lb``, ``eti89_ub``, …).
        Other keywords go to :func:`arviz_stats.summary` (``round_to="none"``: raw
        numbers; by default they are raw too, only displayed rounded)."""
        if var_names is None:
            var_names = [*self.hyper_names, *self.derived_names] or ["theta", "A_V", "D"]
        missing = [v for v in var_names if v not in self.posterior]
        if missing:
            raise ConfigError(
                f"no posterior variable(s) {missing}; available: "
                + ", ".join(self.posterior.data_vars),
                field="var_names",
            )
        own = "ci_prob" not in kwargs and "ci_kind" not in kwargs
        if own:
            kwargs |= {"ci_prob": hdi_prob, "ci_kind": "hdi"}
        # a chain that never moved (every draw rejected) has zero variance: arviz-stats
        # then divides 0 by 0 and returns NaN, which convergence() reports by name
        with np.errstate(divide="ignore", invalid="ignore"):
            table = azs.summary(self.datatree, var_names=list(var_names), **kwargs)
        if own:
            table = _hdi_columns(table, hdi_prob)
        table.attrs["divergences"] = self.divergences
        table.attrs["sampler"] = self.posterior.attrs.get("sampler")
        return table

    def report(self, *, verdict: bool = True) -> str:
        """The summary as text, with divergences and timing, and (``verdict``) a last line
        that says whether the chains converged (:meth:`convergence`), naming every
        parameter that did not."""
        a = self.posterior.attrs
        head = (
            f"{a.get('sampler')}: {self.posterior.sizes['chain']} chains × "
            f"{self.posterior.sizes['draw']} draws; divergences {self.divergences}; "
            f"warm-up {a.get('warmup_seconds', float('nan')):.1f} s, sampling "
            f"{a.get('sampling_seconds', float('nan')):.1f} s"
        )
        text = head + "\n" + self.summary().to_string()
        return text + ("\n" + self.convergence()["verdict"] if verdict else "")

    def convergence(self, rhat_max: float = RHAT_MAX, ess_min: float = ESS_MIN) -> dict:
        """Whether the chains converged: every hyperparameter (every element; θ, A_V and D
        of a per-SN fit) with rank-normalised split R-hat ≤ ``rhat_max`` and bulk and
        tail ESS ≥ ``ess_min`` (Vehtari et al. 2021's recommendations: 1.01 and 400).

        Returns:
            ``{"converged": bool, or None for draws that are not Markov chains (MAP +
            Laplace); "criteria": {...}; "failing": ["sigma_R: R-hat 1.09 > 1.01, bulk
            ESS 20 < 400", ...]; "verdict": one line for people; "parameters": {row:
            {"mean", "sd", "hdi_95", "rhat", "ess_bulk", "ess_tail"}}}``, rows as in
            :meth:`summary` (``name`` or ``name[i]``).
        """
        table = self.summary(list(self.hyper_names) or None, hdi_prob=0.95, round_to="none")
        parameters, failing = {}, []
        for row, r in table.iterrows():
            entry = {
                "mean": float(r["mean"]),
                "sd": float(r["sd"]),
                "hdi_95": [float(r["hdi_2.5%"]), float(r["hdi_97.5%"])],
                "rhat": float(r["r_hat"]),
                "ess_bulk": float(r["ess_bulk"]),
                "ess_tail": float(r["ess_tail"]),
            }
            parameters[str(row)] = entry
            why = []
            if entry["sd"] <= 1e-12 * abs(entry["mean"]):  # (0 up to the mean's rounding)
                why.append("every draw the same (the chains did not move)")
            if not entry["rhat"] <= rhat_max:  # (NaN fails)
                why.append(f"R-hat {entry['rhat']:.4f} > {rhat_max:g}")
            for kind in ("bulk", "tail"):
                if not entry[f"ess_{kind}"] >= ess_min:
                    why.append(f"{kind} ESS {entry[f'ess_{kind}']:.0f} < {ess_min:g}")
            if why:
                failing.append(f"{row}: " + ", ".join(why))
        markov = "sample_stats" in self.datatree.children
        converged = (not failing) if markov else None
        attrs = self.posterior.attrs  # (earlier: "warmup_lp_rhat", log density alone)
        warm = float(attrs.get("warmup_rhat", attrs.get("warmup_lp_rhat", np.nan)))
        criteria = f"R-hat ≤ {rhat_max:g}, bulk and tail ESS ≥ {ess_min:g}"
        if converged is None:
            verdict = "draws of a Laplace approximation: no convergence to check"
        elif converged:
            verdict = f"converged: every parameter above has {criteria}"
        else:
            shown = "; ".join(failing[:8]) + ("; …" if len(failing) > 8 else "")
            verdict = (
                f"NOT CONVERGED ({len(failing)} of {len(parameters)} parameters miss "
                f"{criteria}): {shown}. These intervals are not yet reliable: sample "
                "longer (more draws or warm-up) or with more chains"
            )
        extended = int(attrs.get("warmup_extensions", 0))
        if warm > WARMUP_RHAT_MAX:
            after = (
                f", after {extended} extension{'s' * (extended != 1)} of warm-up"
                if extended
                else ""
            )
            verdict += (
                f". The chains still disagreed at the end of warm-up (R-hat {warm:.2f} of "
                f"their log densities or hyperparameters{after}): some may be stuck apart; "
                "compare their traces "
                "(arviz.plot_trace) before sampling longer"
            )
        return {
            "converged": converged,
            "warmup_rhat": None if np.isnan(warm) else warm,
            "warmup_extensions": extended,
            "criteria": {"rhat_max": rhat_max, "ess_min": ess_min},
            "failing": failing,
            "verdict": verdict,
            "parameters": parameters,
        }

    def min_ess(self, var_names=None, method: str = "bulk") -> float:
        """Smallest ESS over ``var_names`` (default the hyperparameters), every element."""
        names = var_names or list(self.hyper_names)
        ess = azs.ess(self.datatree, var_names=names, method=method)
        return float(min(float(ess[n].min()) for n in names))

    # ------------------------------------------------------------------ distances
    def distance_table(self) -> Table:
        """Per-SN table (one row per SN): posterior mean and SD of the distance modulus
        ``MU`` (the latent distance D of a hierarchical model; μ of a fit), μ̂, the
        Hubble residual, A_V, R_V, θ, the peak MJD where t_max is free, and each SN's
        ``SURVEY`` where the SNe come from several surveys."""
        post, const = self.posterior, self.constant_data

        def mean_sd(name):
            a = post[name].values
            a = a.reshape((-1,) + a.shape[2:])
            return a.mean(0), a.std(0, ddof=1)

        mu_name = "mu" if "mu" in post else "D"
        mu, mu_err = mean_sd(mu_name)
        muhat = const["muhat"].values
        cols = {
            "CID": np.asarray(post["sn"].values, dtype=str),
            "zCMB": const["z_cmb"].values,
            "zHEL": const["z_hel"].values,
            "MU": mu,
            "MUERR": mu_err,
            "MUMODEL": muhat,
            "MUERR_MODEL": const["muhat_err"].values,
            "MURES": mu - muhat,
        }
        for name, col in (("A_V", "AV"), ("R_V", "RV"), ("theta", "THETA")):
            if name in post and post[name].ndim == 3:
                m, s = mean_sd(name)
                cols[col], cols[col + "ERR"] = m, s
        if "peak_mjd" in post:
            cols["PKMJD"], cols["PKMJDERR"] = mean_sd("peak_mjd")
        cols["HOST_LOGMASS"] = const["log_mass"].values
        if "survey" in const and len(set(const["survey"].values.tolist())) > 1:
            cols["SURVEY"] = np.asarray(const["survey"].values, dtype=str)
        return Table(cols)

    def to_fitres(self, path: str | os.PathLike) -> None:
        """Write :meth:`distance_table` as SNANA FITRES text."""
        a = self.posterior.attrs
        write_fitres(
            self.distance_table(),
            path,
            comments=(
                f"sndust {a.get('inference_library_version')} {a.get('sampler')} "
                f"({a.get('population')}), {a.get('created_at')}",
                "MU: posterior mean distance modulus; MUMODEL: cosmology at zCMB",
            ),
        )

    # ------------------------------------------------------------------ files
    def to_netcdf(self, path: str | os.PathLike) -> str:
        """Save every group to one netCDF-4 (HDF5) file (one HDF5 group per ArviZ group,
        the layout ArviZ 0.x wrote too); returns the path."""
        path = os.fspath(path)
        self.datatree.to_netcdf(path, engine="h5netcdf")
        return path

    @classmethod
    def from_netcdf(cls, path: str | os.PathLike) -> Posterior:
        """Load a file written by :meth:`to_netcdf`, by this sndust or by one on ArviZ
        0.x (InferenceData.to_netcdf: the same groups). Read whole into memory and the
        file closed, so a later run may overwrite it."""
        if not os.path.exists(path):
            raise DataError("no such file", file=path)
        try:
            with xr.open_datatree(os.fspath(path), engine="h5netcdf") as tree:
                tree = tree.load()
        except Exception as err:  # noqa: BLE001 (xarray/h5netcdf raise many kinds)
            raise DataError(f"not a readable posterior netCDF file: {err}", file=path) from None
        if "posterior" not in tree.children:
            raise DataError("not a posterior file: it has no posterior group", file=path)
        attrs = tree["posterior"].attrs
        missing = [k for k in ("sampler", "hyper_names") if k not in attrs]
        if missing:
            raise DataError(
                "not written by sndust (Posterior.to_netcdf): its posterior group lacks the "
                f"attribute(s) {', '.join(missing)}",
                file=path,
            )
        try:
            names = json.loads(attrs["hyper_names"])
        except (TypeError, ValueError):
            names = None
        absent = None if names is None else [n for n in names if n not in tree["posterior"]]
        if names is None or absent:
            raise DataError(
                "its posterior group does not hold the hyperparameters its 'hyper_names' "
                f"attribute names ({attrs['hyper_names']})",
                file=path,
            )
        return cls(tree)


#: prefix that marks a population's derived quantities among a draw's values
_DERIVED = "__derived__"


def _derived(model, values) -> dict:
    """The population's derived quantities (:meth:`AbstractDustPopulation.derived`) at
    one draw's hyperparameter values; a name that repeats a hyperparameter's is a
    ConfigError."""
    if not model.hyper_names:
        return {}
    out = model.population.derived({name: values[name] for name in model.hyper_names})
    clash = sorted(set(out) & set(values))
    if clash:
        raise ConfigError(
            f"{type(model.population).__name__}.derived names {clash}, which are "
            "parameters of the model; give derived quantities names of their own",
            field="derived",
        )
    return out


def _derived_order(model, keys: list[str]) -> list[str]:
    """The derived quantities' names in the order the population gives them (a compiled
    program returns its dict sorted)."""
    names = [k.removeprefix(_DERIVED) for k in keys]
    if not names:
        return []
    ones = {name: jnp.ones(shape) for name, shape in model.layout.hyper}
    declared = list(model.population.derived(ones))
    return sorted(names, key=lambda n: declared.index(n) if n in declared else len(declared))


@jit_once
def _evaluate_chunk(model, x, key, start):
    # the model is an argument (not a constant baked into the program), so one program
    # serves every run of a model of this shape; draw i uses fold_in(key, i)
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(start + jnp.arange(x.shape[0]))
    return jax.vmap(lambda xi, ki: _evaluate(model, xi, ki))(x, keys)


def _evaluate(model, x, key):
    values = model.constrain(x)
    out = dict(values)
    out |= {f"{_DERIVED}{k}": v for k, v in _derived(model, values).items()}
    dist = model.distances(x, key)
    for name in ("residual", "mu", "delta_M", "peak_mjd"):
        if name in dist:
            out[name] = dist[name]
    out["__log_likelihood__"] = model.log_likelihood_per_sn(x)
    if model.anchors:  # from the sampler's coordinates to the model's (lp below)
        out["__anchor_log_jacobian__"] = model.anchor_log_jacobian(x)
    return out
