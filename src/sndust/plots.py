"""Figures of a posterior (matplotlib): light curves with posterior-predictive bands, a
corner plot of the population hyperparameters, A_V and R_V against host mass, and the
Hubble residuals.

Each function draws into a new figure and returns it (``path=`` also saves it), so they
work the same in a notebook and in a script::

    from sndust import plots
    plots.corner(post, truth={"mu_R": 2.7}, path="corner.png")
    plots.light_curves(post, survey, sed, snids=post.posterior.sn.values[:4])
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from ._errors import ConfigError

__all__ = ["corner", "dust_vs_mass", "hubble_residuals", "light_curves"]


def _pyplot():
    import matplotlib

    if os.environ.get("MPLBACKEND") is None and not _in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _scalar_hyper(post) -> list[str]:
    return [n for n in post.hyper_names if post.posterior[n].ndim == 2]


def _draws(post, name: str) -> np.ndarray:
    """Draws of ``name`` with chains and draws flattened into the first axis."""
    a = post.posterior[name].values
    return a.reshape((-1,) + a.shape[2:])


def corner(
    post, *, var_names: Sequence[str] | None = None, truth: Mapping | None = None, path=None
):
    """Pairwise scatter and marginal histograms of the hyperparameters (default: every
    scalar one), with 95% central intervals and (if given) the true values."""
    plt = _pyplot()
    names = list(var_names or _scalar_hyper(post))
    if not names:
        raise ConfigError("no scalar hyperparameters to draw", field="var_names")
    shaped = [n for n in names if post.posterior[n].ndim != 2]
    if shaped:
        raise ConfigError(f"corner draws scalars; {shaped} are arrays", field="var_names")
    draws = {n: _draws(post, n).reshape(-1) for n in names}
    k = len(names)
    fig, axes = plt.subplots(k, k, figsize=(2.2 * k + 0.6, 2.2 * k + 0.6), squeeze=False)
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(draws[xj], bins=40, color="0.55", density=True)
                lo, hi = np.percentile(draws[xj], [2.5, 97.5])
                ax.axvspan(lo, hi, color="C0", alpha=0.15)
                ax.set_yticks([])
                ax.set_title(
                    f"{xj} = {np.mean(draws[xj]):.3g} ± {np.std(draws[xj]):.2g}", fontsize=8
                )
            else:
                ax.plot(draws[xj], draws[yi], "o", ms=1.2, color="0.3", alpha=0.3)
                if truth and yi in truth:
                    ax.axhline(truth[yi], color="C3", lw=0.8)
            if truth and xj in truth:
                ax.axvline(truth[xj], color="C3", lw=0.8)
            if i == k - 1:
                ax.set_xlabel(xj)
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(yi)
            elif j > 0 and i != j:
                ax.set_yticklabels([])
    return _finish(fig, path)


def hubble_residuals(post, *, path=None):
    """Posterior distance minus μ̂(z) of each SN against redshift, with the population's
    grey scatter σ0 (posterior mean) as a band when the model has one."""
    plt = _pyplot()
    table = post.distance_table()
    z = np.asarray(post.idata.constant_data["z_cmb"].values)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    if "sigma0" in post.hyper_names:
        s0 = float(np.mean(_draws(post, "sigma0")))
        ax.axhspan(-s0, s0, color="C0", alpha=0.12, label=f"±σ0 = {s0:.3f}")
    ax.errorbar(z, table["MURES"], yerr=table["MUERR"], fmt="o", ms=3, color="0.3", lw=0.8)
    ax.axhline(0.0, color="C3", lw=1)
    ax.set_xlabel("z (CMB)")
    ax.set_ylabel("μ − μ̂(z) [mag]")
    rms = float(np.sqrt(np.mean(np.asarray(table["MURES"]) ** 2)))
    ax.set_title(f"Hubble residuals ({len(z)} SNe, RMS {rms:.3f} mag)")
    if "sigma0" in post.hyper_names:
        ax.legend(fontsize=8)
    return _finish(fig, path)


def dust_vs_mass(post, *, split: float | None = 10.0, path=None):
    """Per-SN A_V and R_V (posterior mean ± sd) against log10 host mass; SNe without a
    host mass are left out. ``split`` draws a vertical line (e.g. the mass step)."""
    plt = _pyplot()
    mass = np.asarray(post.idata.constant_data["log_mass"].values)
    known = np.isfinite(mass)
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 3.4))
    for ax, name in zip(axes, ("A_V", "R_V")):
        d = _draws(post, name)
        ax.errorbar(
            mass[known], d.mean(0)[known], yerr=d.std(0)[known], fmt="o", ms=3, color="0.3", lw=0.8
        )
        if split is not None:
            ax.axvline(split, color="C3", lw=0.8, ls="--")
        ax.set_xlabel("log10 host mass [M☉]")
        ax.set_ylabel(name)
    axes[0].set_title(f"{int(known.sum())} SNe with host masses", fontsize=9)
    return _finish(fig, path)


def light_curves(
    post,
    survey,
    sed,
    *,
    dust=None,
    filters=None,
    milky_way=None,
    milky_way_R_V: float | None = None,
    snids: Sequence[str] | None = None,
    n_draws: int = 100,
    seed: int = 0,
    path=None,
):
    """Observed FLUXCAL of a few SNe with the model's posterior-predictive median and
    68%/95% bands, one panel per SN, one colour per band.

    Args:
        post: the posterior.
        survey: the survey that was fitted (or any survey holding those SNe).
        sed, dust, filters: the SED model, dust law and filter bank of the fit.
        milky_way, milky_way_R_V: its Galactic extinction law and R_V (default F99, 3.1).
        snids: SNe to draw (default: the first six of the posterior).
        n_draws: posterior draws evaluated per SN.

    The curves use each draw's θ, A_V, R_V, ε, distance and magnitude offset δM (and
    t_max for per-SN fits); population-level SED offsets (``MassSplitSED``) are not drawn.
    """
    import jax
    import jax.numpy as jnp

    from ._forward import prepare
    from ._survey import Survey

    plt = _pyplot()
    names = list(post.posterior.sn.values)
    snids = list(snids) if snids is not None else names[:6]
    missing = [s for s in snids if s not in names]
    if missing:
        raise ConfigError(f"not in the posterior: {', '.join(map(str, missing))}", field="snids")
    chosen = survey.select(list(snids))
    lo, hi = sed.phase_range
    grid = np.linspace(lo + 0.5, hi - 0.5, 60)
    free_tmax = "t_max" in post.posterior
    mjd, bands = [], []
    for i in range(chosen.n_sn):
        used = sorted(set(chosen.band[i, chosen.mask[i]].tolist()))
        names_i = [chosen.band_names[b] for b in used]
        mjd.append(np.tile(chosen.peak_mjd[i] + grid * (1 + chosen.z_hel[i]), len(names_i)))
        bands.append(np.repeat(names_i, grid.size))
    ones = [np.ones(t.size) for t in mjd]
    dense = Survey.from_arrays(
        chosen.snid, mjd, bands, ones, ones, z_hel=chosen.z_hel, z_cmb=chosen.z_cmb,
        peak_mjd=chosen.peak_mjd, mwebv=chosen.mwebv, log_mass=chosen.log_mass,
    )  # fmt: skip
    prepared = prepare(
        dense, sed, dust, filters=filters, free_tmax=free_tmax,
        milky_way=milky_way, milky_way_R_V=milky_way_R_V,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    n_total = post.posterior.sizes["chain"] * post.posterior.sizes["draw"]
    pick = rng.choice(n_total, size=min(n_draws, n_total), replace=False)
    index = [names.index(s) for s in prepared.snid]

    def per_sn(name):
        return jnp.asarray(_draws(post, name)[pick][:, index])

    params = {
        "theta": per_sn("theta"),
        "A_V": per_sn("A_V"),
        "R_V": per_sn("R_V"),
        "e": per_sn("e"),
        "distmod": per_sn("D"),
    }
    if free_tmax:
        params["t_max"] = per_sn("t_max")
    if post.posterior.attrs.get("distance_prior") != "free" and "delta_M" in post.posterior:
        params["delta_M"] = per_sn("delta_M")  # e.g. MassSplit's magnitude step
    flux = np.asarray(jax.jit(jax.vmap(lambda p: prepared.fluxcal(**p)))(params))
    q = np.percentile(flux, [2.5, 16, 50, 84, 97.5], axis=0)  # (5, n_sn, n_obs)
    dense_ok = np.asarray(prepared.observed_mask())

    n = prepared.n_sn
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for k, snid in enumerate(prepared.snid):
        ax = axes.flat[k]
        i = dense.index(snid)
        j = chosen.index(snid)
        z = chosen.z_hel[j]
        for c, band in enumerate(dense.band_names):
            on = dense_ok[k] & (dense.band[i] == c)
            if not on.any():
                continue
            t = (dense.mjd[i, on] - dense.peak_mjd[i]) / (1 + z)
            color = f"C{c % 10}"
            ax.fill_between(t, q[0, k, on], q[4, k, on], color=color, alpha=0.12, lw=0)
            ax.fill_between(t, q[1, k, on], q[3, k, on], color=color, alpha=0.25, lw=0)
            ax.plot(t, q[2, k, on], color=color, lw=1, label=band)
            if band in chosen.band_names:
                b = chosen.band_names.index(band)
                obs = chosen.mask[j] & (chosen.band[j] == b)
                phase = (chosen.mjd[j, obs] - chosen.peak_mjd[j]) / (1 + z)
                ax.errorbar(
                    phase,
                    chosen.fluxcal[j, obs],
                    yerr=chosen.fluxcal_err[j, obs],
                    fmt="o",
                    ms=3,
                    color=color,
                    lw=0.8,
                )
        ax.set_title(f"{snid} (z = {z:.3f})", fontsize=9)
        ax.set_xlabel("rest-frame phase [d]")
        ax.set_ylabel("FLUXCAL")
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    return _finish(fig, path)
