"""Which population do the data prefer: PSIS-LOO (Vehtari, Gelman & Gabry 2017) of runs on
the same SNe, from the per-SN flux log-likelihood every posterior stores, through ArviZ
(``az.loo``, ``az.compare``); the runs' hyperparameters side by side; per-SN elpd
differences against host mass and redshift.

Leave-one-out here leaves out one *SN* (all its photometry), the unit a population
describes; its Pareto k̂ says whether importance sampling could stand in for refitting
without that SN (k̂ > 0.7: it could not, and that SN's elpd is unreliable).
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
_MOSTLY_UNRELIABLE = (
    "most SNe's LOO terms are unreliable: leaving an SN out frees its own parameters "
    "(theta, A_V, R_V, distance, epsilon), which its light curve pins down, so the "
    "posterior cannot stand in for the fit without it; the elpd differences are not to "
    "be trusted. (Measured on Foundation DR1: k̂ > 0.7 for all 167 SNe under every "
    "population; benchmarks/README.md.)"
)


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`.

    Attributes:
        names: the runs' names, in the order given.
        table: ArviZ's ``az.compare`` table (rows best first: ``elpd_loo``, ``p_loo``,
            ``elpd_diff``, ``dse`` (the SE of the difference), ``weight``, ...).
        loo: each run's ``az.loo(..., pointwise=True)`` result, by name.
        snid: the SNe (the same in every run).
        elpd_sn: per-SN elpd, ``(runs, n_sn)``.
        k_hat: per-SN Pareto k̂, ``(runs, n_sn)``.
        hyper: ``{parameter: {run: (mean, sd)}}`` over the runs' hyperparameters and
            derived quantities.
        log_mass, z: each SN's host mass and CMB redshift (from the first run).
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

    @property
    def best(self) -> str:
        return str(self.table.index[0])

    def report(self) -> str:
        """The comparison as text: elpd differences with their SEs, k̂ warnings naming
        the SNe, then the hyperparameters side by side."""
        lines = [f"PSIS-LOO over {len(self.snid)} SNe (leave one SN out); best first:"]
        width = max(len(n) for n in self.names)
        lines.append(
            f"  {'run':{width}s}  {'elpd_loo':>10s} {'se':>7s}  {'elpd_diff':>9s} {'dse':>7s}"
            f"  {'p_loo':>7s}  {'k̂ > ' + str(K_HAT_MAX):>8s}"
        )
        for name, row in self.table.iterrows():
            bad = int((self.k_hat[self.names.index(name)] > K_HAT_MAX).sum())
            lines.append(
                f"  {name:{width}s}  {row['elpd_loo']:10.2f} {row['se']:7.2f}  "
                f"{row['elpd_diff']:9.2f} {row['dse']:7.2f}  {row['p_loo']:7.2f}  {bad:8d}"
            )
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
                name: {
                    key: float(self.table.loc[name, key])
                    for key in ("elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight")
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
        }

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


def compare(posteriors: Sequence[Any], names: Sequence[str] | None = None) -> Comparison:
    """PSIS-LOO comparison of posteriors of the same SNe (:class:`sndust.Posterior`
    objects or netCDF paths).

    Raises:
        ConfigError: fewer than two runs, names of the wrong number or repeated, runs
            on different SNe (naming them), or a run without per-SN log-likelihood.
    """
    import arviz as az

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
        if "log_likelihood" not in run.idata.groups():
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
    with warnings.catch_warnings():  # the k̂ ArviZ warns of are reported by SN below
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        loo = {
            name: az.loo(run.idata, pointwise=True, var_name="flux")
            for name, run in zip(names, runs)
        }
        table = az.compare(loo, ic="loo")
    elpd = np.stack([np.asarray(loo[n].loo_i) for n in names])
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
        said.insert(0, _MOSTLY_UNRELIABLE)
    hyper: dict[str, dict[str, tuple[float, float]]] = {}
    for name, run in zip(names, runs):
        for param in (*run.hyper_names, *run.derived_names):
            draws = np.asarray(run.posterior[param].values, float)
            if draws.ndim != 2:  # a vector hyperparameter (ΔW0): not one number
                continue
            hyper.setdefault(param, {})[name] = (float(draws.mean()), float(draws.std(ddof=1)))
    const = runs[0].idata.constant_data
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
    )
