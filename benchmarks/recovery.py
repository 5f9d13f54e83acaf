"""Recovery of the simulated 30-SN population with long chains (the strict recovery check).

The full version of tests/test_recovery.py's check, which runs 2 × (300 + 600) NUTS draws
in CI.

The survey is the recovery tests' (``SinglePopulation``, T21, PS1 griz, 30 SNe from key
30; truth μ_R 2.7, σ_R 0.5, τ_A 0.3, σ0 0.1). For each run key the sampler runs at its
defaults (per-SN-fits start, Laplace starting metric) and every hyperparameter, and the
derived E[R_V] and √Var[R_V] of the population, must meet the strict bar: the truth inside
the 95% HDI, rank-normalised split R-hat ≤ 1.01 and bulk and tail ESS ≥ 400. The exit
status is 1 when any run misses it.

    python benchmarks/recovery.py --keys 0,1 --samples 2000 --json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

RHAT_MAX = 1.01
ESS_MIN = 400


HYPER = dict(mu_R=2.7, sigma_R=0.5, tau_A=0.3, sigma0=0.1)


def recovery_model(sed):
    """The 30-SN survey of the recovery tests (sampling.py's ``simulate(30, 30)``)."""
    import jax

    import sndust as sd

    survey, _ = sd.simulate_survey(
        jax.random.key(30), sed, sd.SinglePopulation(), n_sn=30, hyper=HYPER
    )
    return sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())


def truth() -> dict:
    """The hyperparameters and the population's E[R_V] and √Var[R_V] (``RV_mean``,
    ``RV_sd``) they give."""
    from sndust._population._builtin import rv_moments

    return HYPER | {k: float(v) for k, v in rv_moments(HYPER).items()}


def table(post, truth):
    """Per parameter of ``truth``: posterior mean, sd, 95% HDI, whether it holds the
    truth, unrounded R-hat, bulk and tail ESS."""
    import arviz as az

    names = list(truth)
    summary = post.summary(var_names=names, hdi_prob=0.95)
    rhat = az.rhat(post.posterior, var_names=names)  # (the summary rounds it)
    rows = {}
    for name in names:
        row = summary.loc[name]
        hdi = [float(row["hdi_2.5%"]), float(row["hdi_97.5%"])]
        rows[name] = {
            "truth": truth[name],
            "mean": float(row["mean"]),
            "sd": float(row["sd"]),
            "hdi_95": hdi,
            "inside": bool(hdi[0] < truth[name] < hdi[1]),
            "rhat": float(rhat[name]),
            "ess_bulk": float(row["ess_bulk"]),
            "ess_tail": float(row["ess_tail"]),
        }
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sampler", default="NUTS", choices=["NUTS", "AdjustedMCLMC"])
    parser.add_argument("--keys", default="0", help="run keys, comma-separated")
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument(
        "--warmup", type=int, help="warm-up steps (default: NUTS 300, as in CI; others their own)"
    )
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--save", metavar="DIR", help="write each run's posterior here")
    args = parser.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)
    import numpy as np

    import sndust as sd

    sed = sd.BayeSNModel.load("T21")
    model = recovery_model(sed)
    warmup = 300 if args.warmup is None and args.sampler == "NUTS" else args.warmup
    options = {} if warmup is None else {"num_warmup": warmup}
    sampler = getattr(sd, args.sampler)(num_samples=args.samples, **options)
    runs = []
    for key in (int(k) for k in args.keys.split(",")):
        t0 = time.perf_counter()
        post = sampler.run(model, jax.random.key(key), chains=args.chains, progress=False)
        wall = time.perf_counter() - t0
        if args.save:
            post.to_netcdf(Path(args.save) / f"recovery_{args.sampler}_{key}.nc")
        params = table(post, truth())
        for p in params.values():
            ess = min(p["ess_bulk"], p["ess_tail"])
            p["ok"] = p["inside"] and p["rhat"] <= RHAT_MAX and ess >= ESS_MIN
        stats = post.sample_stats
        steps = stats["n_steps"] if "n_steps" in stats else None
        runs.append(
            {
                "key": key,
                "wall_s": round(wall, 1),
                "divergences": int(post.divergences),
                "mean_steps_per_draw": None if steps is None else float(np.mean(steps)),
                "ok": all(p["ok"] for p in params.values()),
                "params": params,
            }
        )
        if not args.json:
            print(f"key {key}: {wall:.0f} s, {post.divergences} divergences")
            for name, p in params.items():
                print(
                    f"  {name:8s} truth {p['truth']:.3f}  {p['mean']:.3f} ± {p['sd']:.3f}"
                    f"  95% [{p['hdi_95'][0]:.3f}, {p['hdi_95'][1]:.3f}]"
                    f"  R-hat {p['rhat']:.4f}  ESS bulk {p['ess_bulk']:.0f}"
                    f" tail {p['ess_tail']:.0f}  {'ok' if p['ok'] else 'MISSED'}"
                )
    out = {
        "sampler": args.sampler,
        "chains": args.chains,
        "warmup": sampler.num_warmup,
        "samples": args.samples,
        "rhat_max": RHAT_MAX,
        "ess_min": ESS_MIN,
        "ok": all(r["ok"] for r in runs),
        "runs": runs,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "versions": {"jax": jax.__version__, "sndust": sd.__version__},
        "date": time.strftime("%Y-%m-%d"),
    }
    if args.json:
        print(json.dumps(out, indent=1))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
