"""Simulation-based calibration (Talts et al. 2018, arXiv:1804.06788) of hierarchical
inference: is the posterior sndust samples the model's posterior?

For each of ``--n-surveys`` surveys: hyperparameters are drawn from the population's
priors, a survey of ``--n-sn`` SNe from the population given them (T21, PS1 griz, the
simulator's default design), and the survey is fitted exactly as a user fits one
(``--sampler``, default start, ``--chains`` chains). The rank of each truth among
``--ranks`` posterior draws (evenly thinned from every chain) is recorded for every
hyperparameter and for the first SN's A_V, R_V, θ and distance D. If the sampler draws
from the posterior, every rank is uniform on 0…ranks; a sampler that is biased, too
narrow or too wide bends the rank histogram. Per parameter: the χ² test of the histogram
in 10 bins against uniform (its p-value) and the coverage of the central 50% and 90%
posterior intervals.

Each survey's result is appended to ``--out`` (JSON lines) as soon as it is fitted; a
killed run continues from there with the same command. A fit that raises sndust's own
error (a start that cannot be made, say) is recorded as such and counted in
``n_failed``: leaving the hard surveys out would bias the ranks. Surveys of one design
share their compiled programs, so only the first pays compilation (about 45 s).

    python benchmarks/sbc.py [--population single|mass_split] [--n-surveys 200]
                             [--n-sn 5] [--sampler nuts] [--warmup 200] [--samples 400]
                             [--chains 2] [--ranks 99] [--seed 0] [--out sbc.jsonl]
                             [--figure sbc.png] [--json]

With ``--json`` the last line is a JSON object with ``n_surveys`` (fitted),
``n_failed``, ``min_p_value``, ``p_values`` (per parameter), ``coverage_50`` /
``coverage_90`` and the run's settings.

The populations are BayeSN's ``SinglePopulation`` and ``MassSplit`` with narrower
hyperpriors (below): a draw of τ_A ~ HalfCauchy(1) of tens of magnitudes makes surveys
of invisible SNe, which says nothing about the sampler. Any prior is a valid SBC prior as
long as the fit uses the same one, and these are populations a user could write.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

PER_SN = ("A_V", "R_V", "theta", "D")
BINS = 10


def populations():
    """The SBC populations by name (built on import of sndust)."""
    import numpyro.distributions as dist

    import sndust as sd

    def dust(suffix=""):
        return {
            f"mu_R{suffix}": dist.Uniform(1.5, 4.5),
            f"sigma_R{suffix}": dist.HalfNormal(0.75),
            f"tau_A{suffix}": dist.HalfNormal(0.4),
        }

    class Single(sd.SinglePopulation):
        """SinglePopulation with σ_R ~ HalfNormal(0.75), τ_A ~ HalfNormal(0.4), σ0 ~
        HalfNormal(0.15), μ_R ~ U(1.5, 4.5)."""

        def hyperpriors(self):
            return dust() | {"sigma0": dist.HalfNormal(0.15)}

    class MassSplit(sd.MassSplit):
        """MassSplit with the same narrower priors per bin and M_step ~ U(−0.2, 0.2)."""

        def hyperpriors(self):
            bins = {}
            for b in ("_HM", "_LM"):
                bins |= dust(b) | {f"sigma0{b}": dist.HalfNormal(0.15)}
            steps = {"M_step_HM": dist.Uniform(-0.2, 0.2), "M_step_LM": dist.Uniform(-0.2, 0.2)}
            return bins | steps

    return {"single": Single(), "mass_split": MassSplit()}


def fit_one(index, *, population, n_sn, sampler, chains, ranks, seed, sed):
    """Simulate survey ``index`` from the prior, fit it, and return the truths' ranks and
    interval memberships by parameter."""
    import jax

    import sndust as sd

    key = jax.random.fold_in(jax.random.key(seed), index)
    k_sim, k_fit = jax.random.split(key)
    survey, truth = sd.simulate_survey(k_sim, sed, population, n_sn=n_sn)
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=population)
    t0 = time.perf_counter()
    post = sampler.run(model, k_fit, chains=chains, progress=False)
    wall = time.perf_counter() - t0
    names = [*model.hyper_names, *PER_SN]
    row = {"index": index, "wall_s": wall, "divergences": int(post.divergences), "params": {}}
    row["min_ess"] = post.min_ess()
    for name in names:
        draws = np.asarray(post.posterior[name])
        true = np.asarray(truth[name])
        if name in PER_SN:
            draws, true = draws[..., 0], true[0]
        flat = thin(draws, ranks)
        lo50, hi50, lo90, hi90 = np.quantile(draws.ravel(), [0.25, 0.75, 0.05, 0.95])
        row["params"][name] = {
            "truth": float(true),
            "rank": int(np.sum(flat < true)),
            "in_50": bool(lo50 < true < hi50),
            "in_90": bool(lo90 < true < hi90),
        }
    return row


def thin(draws, n):
    """``n`` draws evenly spaced within each chain of ``draws`` ``(chains, draws)``."""
    chains, length = draws.shape
    per = -(-n // chains)
    picks = np.linspace(0, length - 1, per).round().astype(int)
    return draws[:, picks].ravel()[:n]


def summarise(rows, ranks):
    """Per parameter: the χ² p-value of the rank histogram (``BINS`` equal bins of
    0…ranks) and the 50% / 90% coverage."""
    from scipy import stats

    names = list(rows[0]["params"])
    p_values, cover50, cover90 = {}, {}, {}
    for name in names:
        r = np.array([row["params"][name]["rank"] for row in rows])
        counts = np.histogram(r, bins=BINS, range=(0, ranks + 1))[0]
        p_values[name] = float(stats.chisquare(counts).pvalue)
        cover50[name] = float(np.mean([row["params"][name]["in_50"] for row in rows]))
        cover90[name] = float(np.mean([row["params"][name]["in_90"] for row in rows]))
    return p_values, cover50, cover90


def coverage_bounds(n, level, alpha=1e-3):
    """Two-sided ``alpha`` binomial bounds on the fraction of ``n`` intervals of
    nominal ``level`` that contain their truth."""
    from scipy import stats

    low, high = stats.binom.ppf([alpha / 2, 1 - alpha / 2], n, level)
    return low / n, high / n


def figure(rows, ranks, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    names = list(rows[0]["params"])
    n = len(rows)
    cols = 4
    fig, axes = plt.subplots(
        -(-len(names) // cols), cols, figsize=(3 * cols, 2.4 * -(-len(names) // cols))
    )
    low, high = stats.binom.ppf([0.005, 0.995], n, 1 / BINS)
    for ax, name in zip(np.ravel(axes), names):
        r = [row["params"][name]["rank"] for row in rows]
        ax.hist(r, bins=BINS, range=(0, ranks + 1), color="0.4")
        ax.axhspan(low, high, color="C0", alpha=0.2, lw=0, zorder=0)
        ax.set_title(name, fontsize=9)
        ax.set_yticks([])
    for ax in np.ravel(axes)[len(names) :]:
        ax.axis("off")
    fig.suptitle(f"SBC rank histograms, {n} surveys (band: 99% for uniform ranks)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def build_sampler(name, warmup, samples):
    import sndust as sd

    if name == "nuts":
        return sd.NUTS(num_warmup=warmup, num_samples=samples)
    if name == "adjusted_mclmc":
        return sd.AdjustedMCLMC(num_warmup=warmup, num_samples=samples)
    raise SystemExit(f"unknown sampler {name!r}: nuts or adjusted_mclmc")


def run(args):
    import jax

    jax.config.update("jax_enable_x64", True)
    import sndust as sd

    population = populations()[args.population]
    sed = sd.BayeSNModel.load("T21")
    sampler = build_sampler(args.sampler, args.warmup, args.samples)
    settings = {
        k: getattr(args, k)
        for k in ("population", "n_sn", "sampler", "warmup", "samples", "chains", "ranks", "seed")
    }
    out = Path(args.out)
    rows = []
    if out.exists():
        for line in out.read_text().splitlines():
            record = json.loads(line)
            if record.get("settings") not in (None, settings):
                raise SystemExit(f"{out} holds a run with other settings: {record['settings']}")
            if "index" in record:
                rows.append(record)
    else:
        out.write_text(json.dumps({"settings": settings}) + "\n")
    t0 = time.perf_counter()
    for index in range(len(rows), args.n_surveys):
        try:
            row = fit_one(
                index, population=population, n_sn=args.n_sn, sampler=sampler,
                chains=args.chains, ranks=args.ranks, seed=args.seed, sed=sed,
            )  # fmt: skip
        except sd.SndustError as error:  # recorded, counted and reported: never dropped
            row = {"index": index, "error": f"{type(error).__name__}: {error}"}
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        rows.append(row)
        if not args.quiet:
            what = f"{row['wall_s']:.1f} s" if "params" in row else row["error"]
            print(f"survey {index + 1}/{args.n_surveys}: {what}", file=sys.stderr)
    failed = [row for row in rows if "params" not in row]
    rows = [row for row in rows if "params" in row]
    p_values, cover50, cover90 = summarise(rows, args.ranks)
    summary = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.system()}",
        "jax": jax.__version__,
        "settings": settings,
        "n_surveys": len(rows),
        "n_failed": len(failed),
        "failed": failed,
        "wall_s": time.perf_counter() - t0,
        "divergences": int(sum(r["divergences"] for r in rows)),
        "min_p_value": min(p_values.values()),
        "p_values": p_values,
        "coverage_50": cover50,
        "coverage_90": cover90,
        "coverage_bounds_99.9": {
            "50": coverage_bounds(len(rows), 0.5),
            "90": coverage_bounds(len(rows), 0.9),
        },
    }
    if args.figure:
        figure(rows, args.ranks, args.figure)
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", default="single", choices=["single", "mass_split"])
    parser.add_argument("--n-surveys", type=int, default=200)
    parser.add_argument("--n-sn", type=int, default=5)
    parser.add_argument("--sampler", default="nuts")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--ranks", type=int, default=99)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="sbc.jsonl")
    parser.add_argument("--figure", default=None)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if (args.ranks + 1) % BINS:
        parser.error(f"--ranks + 1 must be a multiple of {BINS}")
    summary = run(args)
    if args.json:
        print(json.dumps(summary))
    else:
        for name, p in summary["p_values"].items():
            print(
                f"{name:>10}: p = {p:.3f}, 50% coverage {summary['coverage_50'][name]:.2f}, "
                f"90% coverage {summary['coverage_90'][name]:.2f}"
            )
    return summary


if __name__ == "__main__":
    main()
