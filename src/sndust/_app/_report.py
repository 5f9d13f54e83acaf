"""What a run reports beyond the posterior itself: truth against posterior for simulated
surveys (hyperparameters and per-SN coverage) and the standard figures in the output
folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import plots

__all__ = ["per_sn_coverage", "print_recovery", "recovery_table", "write_figures"]


def recovery_table(post, truth: dict) -> list[dict]:
    """Truth against posterior for each (scalar) hyperparameter that ``truth`` holds."""
    table = post.summary(hdi_prob=0.95)
    rows = []
    for name in post.hyper_names:
        if name not in truth or np.ndim(truth[name]):
            continue
        r = table.loc[name]
        rows.append(
            {
                "name": name,
                "truth": float(truth[name]),
                "mean": float(r["mean"]),
                "sd": float(r["sd"]),
                "low": float(r["hdi_2.5%"]),
                "high": float(r["hdi_97.5%"]),
                "inside": bool(r["hdi_2.5%"] <= truth[name] <= r["hdi_97.5%"]),
                "r_hat": float(r["r_hat"]),
                "ess_bulk": float(r["ess_bulk"]),
            }
        )
    return rows


def print_recovery(rows: list[dict], say=print) -> None:
    """The rows of :func:`recovery_table` as a text table."""
    say(f"{'':8s}{'truth':>7s}{'posterior':>17s}{'95% HDI':>18s}{'R-hat':>7s}{'ESS':>7s}")
    for r in rows:
        say(
            f"{r['name']:8s}{r['truth']:7.3f}{r['mean']:9.3f} ± {r['sd']:5.3f}"
            f"   [{r['low']:6.3f}, {r['high']:6.3f}]{r['r_hat']:7.3f}{r['ess_bulk']:7.0f}"
            f"  {'ok' if r['inside'] else 'OUTSIDE'}"
        )


def per_sn_coverage(post, truth: dict, names=("A_V", "theta", "D")) -> dict:
    """Fraction of SNe whose true value lies inside its central 95% posterior interval."""
    out = {}
    for name in names:
        draws = post.posterior[name].values.reshape(-1, post.posterior.sizes["sn"])
        low, high = np.percentile(draws, [2.5, 97.5], axis=0)
        true = np.asarray(truth[name])
        out[name] = float(np.mean((low <= true) & (true <= high)))
    return out


#: the figures :func:`write_figures` may write
FIGURES = ("corner.png", "hubble_residuals.png", "dust_vs_mass.png", "light_curves.png")


def write_figures(
    post, out, *, truth=None, survey=None, sed=None, dust=None, milky_way=(None, None), n_lc=6
):
    """The standard figures of a run (corner, Hubble residuals, dust against mass, the
    first ``n_lc`` light curves when ``survey`` and ``sed`` are given) as PNGs in the
    folder ``out``; returns their paths."""
    out = Path(out)
    names = {
        "corner.png": lambda p: plots.corner(post, truth=truth, path=p),
        "hubble_residuals.png": lambda p: plots.hubble_residuals(post, path=p),
        "dust_vs_mass.png": lambda p: plots.dust_vs_mass(post, path=p),
    }
    if not any(post.posterior[n].ndim == 2 for n in post.hyper_names):  # per-SN fits
        del names["corner.png"]
    if survey is not None and n_lc > 0:
        snids = list(post.posterior.sn.values[:n_lc])
        names["light_curves.png"] = lambda p: plots.light_curves(
            post, survey, sed, dust=dust, milky_way=milky_way[0], milky_way_R_V=milky_way[1],
            snids=snids, path=p,
        )  # fmt: skip
    paths = []
    for name, draw in names.items():
        figure = draw(out / name)
        import matplotlib.pyplot as plt  # (after the first figure chose the backend)

        plt.close(figure)
        paths.append(out / name)
    return paths
