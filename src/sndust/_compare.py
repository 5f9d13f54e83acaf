"""Which population do the data prefer: PSIS-LOO (Vehtari, Gelman & Gabry 2017) of runs on
the same SNe through arviz-stats (``arviz_stats.loo``, ``arviz_stats.compare``); the runs'
hyperparameters side by side; per-SN elpd differences against host mass and redshift.

Leave-one-out here leaves out one *SN* (all its photometry), the unit a population
describes; its Pareto k̂ says whether importance sampling could stand in for refitting
without that SN (k̂ > 0.7: it could not, and that SN's elpd is unreliable).

Two ways, by what each draw's weight is:

* **integrated** (with ``models=``; the default of ``sndust compare``): each SN's
  likelihood with its own parameters integrated out, ``p(data_i | h_s)``, at the
  hyperparameter draws (:func:`sndust.sn_marginal_likelihoods`). Leaving an SN out
  frees its own parameters, and this is the weight that accounts for it.
* **pointwise**: the per-SN flux log-likelihood of the joint draws, stored with every
  run. Cheap, but its weights ``1 / p(data_i | x_i,s)`` follow the SN's own
  parameters, which its light curve pins down: on Foundation DR1 k̂ > 0.7 for all 167
  SNe under every population, and on a simulated survey its elpd is off by several
  nats per SN against refits without each SN (benchmarks/README.md, "Leave-one-SN-out").
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._errors import ConfigError

__all__ = ["Comparison", "compare"]

#: Pareto k̂ above which a PSIS-LOO term is unreliable (Vehtari et al. 2024).
K_HAT_MAX = 0.7
_LISTED = 10  # SNe named per run in the report (every one in to_json)
#: to_json's key → the arviz-stats compare table's column
_JSON_COLUMNS = {
    "elpd_loo": "elpd",
    "se": "se",
    "p_loo": "p",
    "elpd_diff": "elpd_diff",
    "dse": "dse",
    "weight": "weight",
}
_MOSTLY_UNRELIABLE = (
    "most SNe's LOO terms are unreliable: leaving an SN out frees its own parameters "
    "(theta, A_V, R_V, distance, epsilon), which its light curve pins down, so the "
    "posterior cannot stand in for the fit without it; the elpd differences are not to "
    "be trusted. (Measured on Foundation DR1: k̂ > 0.7 for all 167 SNe under every "
    "population; benchmarks/README.md.) The integrated comparison integrates those "
    "parameters out: sndust compare without --pointwise, or compare(..., models=...)."
)


_MOSTLY_UNRELIABLE_INTEGRATED = (
    "most SNe's LOO terms are unreliable even with their own parameters integrated out: "
    "leaving out one SN moves the hyperparameters further than the draws used cover (few "
    "SNe per hyperparameter, an unconverged run, or too few draws: --hyper-draws); do not "
    "trust these differences"
)


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`.

    Attributes:
        names: the runs' names, in the order given.
        table: arviz-stats' ``compare`` table, unrounded (rows best first: ``rank``,
            ``elpd_diff``, ``dse`` (the SE of the difference), ``p_worse``, ``diag_diff``,
            ``diag_elpd``, ``p`` (ArviZ 0.x's ``p_loo``), ``elpd`` (its ``elpd_loo``),
            ``se``, ``weight``).
        loo: each run's ``arviz_stats.loo(..., pointwise=True)`` result
            (``ELPDDataLOO``: ``elpd``, ``se``, ``p``, per-SN ``elpd_i`` and
            ``pareto_k``), by name.
        snid: the SNe (the same in every run).
        elpd_sn: per-SN elpd, ``(runs, n_sn)``.
        k_hat: per-SN Pareto k̂, ``(runs, n_sn)``.
        hyper: ``{parameter: {run: (mean, sd)}}`` over the runs' hyperparameters and
            derived quantities.
        log_mass, z: each SN's host mass and CMB redshift (from the first run).
        method: ``"integrated"`` or ``"pointwise"`` (module docstring).
        marginals: the integrated method's :class:`sndust.SNMarginals` of each run, by
            name (importance-sampling diagnostics: ``k_hat``, ``ess``, ``mc_se``).
    """

    names: tuple[str, ...]
    table: Any
    loo: dict[str, Any]
    snid: tuple[str, ...]
    elpd_sn: np.ndarray
    k_hat: np.ndarray
    hyper: dict[str, dict[str, tuple[float, float]]]
    log_mass: np.ndarray
    z: np.ndarray
    warnings: tuple[str, ...] = field(default=())
    method: str = "pointwise"
    marginals: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> str:
        return str(self.table.index[0])

    def report(self) -> str:
        """The comparison as text: elpd differences with their SEs, k̂ warnings naming
        the SNe, then the hyperparameters side by side."""
        if self.method == "integrated":
            draws = next(iter(self.marginals.values())).draws
            how = f"its own parameters integrated out, {draws} importance draws per SN"
        else:
            how = "pointwise: the stored per-SN likelihood of the joint draws"
        lines = [f"PSIS-LOO over {len(self.snid)} SNe (leave one SN out; {how}); best first:"]
        width = max(len(n) for n in self.names)
        lines.append(
            f"  {'run':{width}s}  {'elpd_loo':>10s} {'se':>7s}  {'elpd_diff':>9s} {'dse':>7s}"
            f"  {'p_loo':>7s}  {'k̂ > ' + str(K_HAT_MAX):>8s}"
        )
        for name, row in self.table.iterrows():
            bad = int((self.k_hat[self.names.index(name)] > K_HAT_MAX).sum())
            lines.append(
                f"  {name:{width}s}  {row['elpd']:10.2f} {row['se']:7.2f}  "
                f"{row['elpd_diff']:9.2f} {row['dse']:7.2f}  {row['p']:7.2f}  {bad:8d}"
            )
        if self.marginals:
            se = ", ".join(
                f"{n} {np.sqrt(np.sum(m.mc_se**2)):.2f}" for n, m in self.marginals.items()
            )
            lines.append(f"  Monte Carlo SE of elpd_loo from the importance draws: {se}")
        lines += [f"  warning: {w}" for w in self.warnings]
        lines.append("Hyperparameters (posterior mean ± sd):")
        pad = max((len(p) for p in self.hyper), default=0)
        lines.append("  " + " " * pad + "".join(f"  {n:>18s}" for n in self.names))
        for param, runs in self.hyper.items():
            cells = "".join(
                f"  {runs[n][0]:9.4g} ± {runs[n][1]:<6.2g}" if n in runs else f"  {'—':>18s}"
                for n in self.names
            )
            lines.append(f"  {param:{pad}s}{cells}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        """The comparison as plain JSON-able data."""
        return {
            "best": self.best,
            "runs": {
                name: {  # (the keys as before arviz-stats renamed elpd_loo and p_loo)
                    key: float(self.table.loc[name, column])
                    for key, column in _JSON_COLUMNS.items()
                }
                | {
                    "k_hat_over": [
                        s
                        for s, k in zip(self.snid, self.k_hat[i])
                        if k > K_HAT_MAX  # the SNe whose LOO term is unreliable
                    ]
                }
                for i, name in enumerate(self.names)
            },
            "hyper": {p: {n: list(v) for n, v in runs.items()} for p, runs in self.hyper.items()},
            "warnings": list(self.warnings),
            "method": self.method,
        } | (
            {
                "importance_sampling": {
                    name: {
                        "draws": m.draws,
                        "mc_se_total": float(np.sqrt(np.sum(m.mc_se**2))),
                        "k_hat_over": [s for s, k in zip(self.snid, m.k_hat) if k > K_HAT_MAX],
                        "seconds": m.seconds,
                    }
                    for name, m in self.marginals.items()
                }
            }
            if self.marginals
            else {}
        )

    def figure(self, path: str | os.PathLike | None = None):
        """Per-SN elpd of each run minus the best run's, against host mass and
        redshift (SNe whose k̂ exceeds 0.7 in either run ringed)."""
        from .plots import _finish, _pyplot

        plt = _pyplot()
        best = self.names.index(self.best)
        others = [i for i in range(len(self.names)) if i != best] or [best]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
        for ax, x, label in (
            (axes[0], self.log_mass, "host log10 M*/M☉"),
            (axes[1], self.z, "z (CMB)"),
        ):
            for i in others:
                diff = self.elpd_sn[i] - self.elpd_sn[best]
                ax.scatter(x, diff, s=14, label=f"{self.names[i]} − {self.best}")
                bad = (self.k_hat[i] > K_HAT_MAX) | (self.k_hat[best] > K_HAT_MAX)
                ax.scatter(x[bad], diff[bad], s=60, facecolors="none", edgecolors="red")
            ax.axhline(0.0, color="k", lw=0.8)
            ax.set_xlabel(label)
        axes[0].set_ylabel("per-SN Δelpd_loo")
        axes[0].legend(fontsize=8)
        return _finish(fig, path)


def compare(
    posteriors: Sequence[Any],
    names: Sequence[str] | None = None,
    *,
    models: Sequence[Any] | None = None,
    key=None,
    draws: int = 2048,
    hyper_draws: int | None = None,
    progress=None,
) -> Comparison:
    """PSIS-LOO comparison of posteriors of the same SNe (:class:`sndust.Posterior`
    objects or netCDF paths).

    Args:
        posteriors: two or more runs.
        names: a name for each (default: file names, else population names).
        models: each run's :class:`sndust.HierarchicalModel`: the integrated comparison
            (module docstring; :func:`sndust.sn_marginal_likelihoods`). Without, the
            pointwise one.
        key: PRNG key of the importance draws (default ``jax.random.key(0)``; the same
            for every run).
        draws, hyper_draws: passed to :func:`sndust.sn_marginal_likelihoods`.
        progress: called with a line of text as each run's integration ends (the
            command prints them).

    Raises:
        ConfigError: fewer than two runs, names of the wrong number or repeated, runs
            on different SNe (naming them), a run without per-SN log-likelihood, or
            models not matching their runs.
    """
    import arviz_stats as azs

    from ._sampling._posterior import Posterior

    if len(posteriors) < 2:
        raise ConfigError("compare needs at least two runs", field="runs")
    runs = [p if isinstance(p, Posterior) else Posterior.from_netcdf(p) for p in posteriors]
    if names is None:
        names = [
            os.path.splitext(os.path.basename(str(p)))[0] if not isinstance(p, Posterior) else ""
            for p in posteriors
        ]
        if len(set(names)) < len(names) or not all(names):
            names = [
                f"{r.posterior.attrs.get('population', 'run')}_{i + 1}" for i, r in enumerate(runs)
            ]
    names = tuple(str(n) for n in names)
    if len(names) != len(runs) or len(set(names)) != len(names):
        raise ConfigError(f"expected {len(runs)} different names, got {list(names)}", field="names")
    snid = tuple(str(s) for s in runs[0].posterior["sn"].values)
    for name, run in zip(names, runs):
        if "log_likelihood" not in run.groups():
            raise ConfigError(f"run {name} has no per-SN log-likelihood", field="runs")
        other = tuple(str(s) for s in run.posterior["sn"].values)
        if other != snid:
            only = sorted(set(snid) ^ set(other))
            what = f"SNe in one but not the other: {', '.join(only[:10])}" if only else "order"
            raise ConfigError(
                f"runs {names[0]} and {name} are not on the same SNe ({what}); LOO compares "
                "fits of one dataset",
                field="runs",
            )
    marginals = {}
    if models is not None:
        marginals = _integrated(runs, names, models, key, draws, hyper_draws, progress)
    with warnings.catch_warnings():  # the k̂ ArviZ warns of are reported by SN below
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        loo = {}
        for name, run in zip(names, runs):
            if marginals:
                tree, var = _as_datatree(marginals[name], snid), "marginal"
                reff = None if marginals[name].hyper else 1.0  # no hyperparameters
            else:
                tree, var, reff = run.datatree, "flux", None
            try:
                loo[name] = _loo(tree, var, reff)
            except ValueError as err:  # e.g. too few draws to fit the Pareto tail
                draws = tree["log_likelihood"].sizes
                raise ConfigError(
                    f"run {name}: PSIS-LOO failed on its {draws['chain']} chains × "
                    f"{draws['draw']} draws ({err}); a run needs at least 25 draws in all",
                    field="runs",
                ) from None
        with np.errstate(divide="ignore", invalid="ignore"):  # stacking: exp(elpd_i) → 0
            table = azs.compare(loo, round_to="none")
    elpd = np.stack([np.asarray(loo[n].elpd_i) for n in names])
    k_hat = np.stack([np.asarray(loo[n].pareto_k) for n in names])
    said = []
    for i, name in enumerate(names):
        bad = [s for s, k in zip(snid, k_hat[i]) if k > K_HAT_MAX]
        if bad:
            more = f" and {len(bad) - _LISTED} more (all in --json)" if len(bad) > _LISTED else ""
            said.append(
                f"{name}: Pareto k̂ > {K_HAT_MAX} for {len(bad)} of {len(snid)} SNe: "
                + ", ".join(bad[:_LISTED])
                + more
            )
    if (k_hat > K_HAT_MAX).mean() > 0.5:
        said.insert(0, _MOSTLY_UNRELIABLE if not marginals else _MOSTLY_UNRELIABLE_INTEGRATED)
    for name, m in marginals.items():
        bad = [s for s, k in zip(snid, m.k_hat) if k > K_HAT_MAX]
        if bad:
            said.append(
                f"{name}: the importance draws of {len(bad)} SNe's integrated likelihood "
                f"have k̂ > {K_HAT_MAX} (unreliable; more draws, or a longer run, whose "
                "per-SN draws set the proposals): " + ", ".join(bad[:_LISTED])
            )
    hyper: dict[str, dict[str, tuple[float, float]]] = {}
    for name, run in zip(names, runs):
        for param in (*run.hyper_names, *run.derived_names):
            draws = np.asarray(run.posterior[param].values, float)
            if draws.ndim != 2:  # a vector hyperparameter (ΔW0): not one number
                continue
            hyper.setdefault(param, {})[name] = (float(draws.mean()), float(draws.std(ddof=1)))
    const = runs[0].constant_data
    return Comparison(
        names=names,
        table=table,
        loo=loo,
        snid=snid,
        elpd_sn=elpd,
        k_hat=k_hat,
        hyper=hyper,
        log_mass=np.asarray(const["log_mass"].values, float),
        z=np.asarray(const["z_cmb"].values, float),
        warnings=tuple(said),
        method="integrated" if marginals else "pointwise",
        marginals=marginals,
    )


def _integrated(runs, names, models, key, draws, hyper_draws, progress):
    """Each run's :class:`sndust.SNMarginals`."""
    import jax

    from ._marginal import sn_marginal_likelihoods

    if len(models) != len(runs):
        raise ConfigError(
            f"expected {len(runs)} models, one per run, got {len(models)}", field="models"
        )
    key = jax.random.key(0) if key is None else key
    out = {}
    for name, run, model in zip(names, runs, models):
        try:
            out[name] = sn_marginal_likelihoods(
                model, run, key, draws=draws, hyper_draws=hyper_draws
            )
        except ConfigError as err:
            raise ConfigError(f"run {name}: {err.message}", field="models") from None
        if progress is not None:
            m = out[name]
            how = "at every draw" if m.light_curves_per_draw else "once"
            progress(
                f"{name}: each SN's parameters integrated out at {m.log_lik.shape[0]} chains × "
                f"{m.log_lik.shape[1]} hyperparameter draws ({m.draws} importance draws per "
                f"SN, light curves evaluated {how}): {m.seconds:.0f} s"
            )
    return out


def _loo(tree, var, reff):
    """arviz-stats' PSIS-LOO of ``tree``'s log-likelihood ``var``, pointwise.

    Where every SN's log-likelihood is the same at every draw (a run without
    hyperparameters, its SNe integrated out) the leave-one-out predictive is that value
    exactly: the importance weights are uniform and k̂ is 0. arviz-stats' Pareto fit
    refuses such a constant tail, so the weights are given to it."""
    import arviz_stats as azs
    import xarray as xr

    ll = tree["log_likelihood"][var]
    sample = ("chain", "draw")
    if bool((ll.max(sample) == ll.min(sample)).all()):
        weights = xr.full_like(ll, -np.log(ll.sizes["chain"] * ll.sizes["draw"]))
        k_hat = xr.zeros_like(ll.isel(chain=0, draw=0, drop=True))
        return azs.loo(tree, pointwise=True, var_name=var, log_weights=weights, pareto_k=k_hat)
    return azs.loo(tree, pointwise=True, var_name=var, reff=reff)


def _as_datatree(marginal, snid):
    """A DataTree of the integrated per-SN log-likelihood (and the hyperparameter draws
    it was computed at, for ArviZ's relative efficiency)."""
    import xarray as xr

    chains, draws, _ = marginal.log_lik.shape
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    posterior = xr.Dataset(
        {k: (("chain", "draw"), v) for k, v in marginal.hyper.items()}, coords=coords
    )
    loglik = xr.Dataset(
        {"marginal": (("chain", "draw", "sn"), marginal.log_lik)},
        coords=coords | {"sn": list(snid)},
    )
    return xr.DataTree.from_dict({"posterior": posterior, "log_likelihood": loglik})
