"""Informed coordinates against the prior's coordinates: gradients per effective draw.

The 30-SN recovery survey (``recovery.py``'s: ``SinglePopulation``, T21, PS1 griz, truth
μ_R 2.7, σ_R 0.5, τ_A 0.3, σ0 0.1). For each run key, the default start
(``population_start``) is computed twice from the same key: with ``informed=True`` (the
default: each SN's R_V sampled in the quantiles of the population prior times its own
light curves' Gaussian summary, ``sndust/_model/_reparam.py``) and with
``informed=False`` (R_V non-centred for every SN, as before 2026-12-07); each sampler then
runs from each at its defaults. Figure of merit: gradients of the sampling phase per
effective draw of the slowest hyperparameter (minimum bulk ESS over μ_R, σ_R, τ_A, σ0);
NUTS takes one gradient per leapfrog step, AdjustedMCLMC two per integration step.

    python benchmarks/informed.py --keys 0,1 --samplers NUTS,AdjustedMCLMC --json
"""

from __future__ import annotations

import argparse
import json
import platform
import time

from recovery import HYPER, recovery_model

NAMES = tuple(HYPER)
GRADIENTS_PER_STEP = {"NUTS": 1, "AdjustedMCLMC": 2}


def one_run(sampler, model, start, key, chains):
    import jax
    import numpy as np

    t0 = time.perf_counter()
    post = sampler.run(model, jax.random.key(key), chains=chains, init=start, progress=False)
    wall = time.perf_counter() - t0
    summary = post.summary(var_names=list(NAMES))
    ess = {n: float(summary.loc[n, "ess_bulk"]) for n in NAMES}
    rhat = {n: float(summary.loc[n, "r_hat"]) for n in NAMES}
    steps = np.asarray(post.sample_stats["n_steps"])
    gradients = float(steps.sum()) * GRADIENTS_PER_STEP[sampler.name]
    slowest = min(ess, key=ess.get)
    return {
        "wall_s": round(wall, 1),
        "steps_per_draw": round(float(steps.mean()), 2),
        "step_size": round(float(np.asarray(post.sample_stats["step_size"]).mean()), 4),
        "divergences": int(post.divergences),
        "ess_bulk": {n: round(v) for n, v in ess.items()},
        "rhat": rhat,
        "mean": {n: round(float(summary.loc[n, "mean"]), 3) for n in NAMES},
        "sd": {n: round(float(summary.loc[n, "sd"]), 3) for n in NAMES},
        "slowest": slowest,
        "grad_per_ess": round(gradients / ess[slowest], 1),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", default="0", help="run keys, comma-separated")
    parser.add_argument("--samplers", default="NUTS,AdjustedMCLMC")
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--warmup", type=int, help="warm-up steps (default: each sampler's)")
    parser.add_argument("--samples", type=int, help="draws per chain (default: each sampler's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)
    import sndust as sd
    from sndust._sampling._population_start import population_start

    sed = sd.BayeSNModel.load("T21")
    model = recovery_model(sed)
    options = {
        k: v
        for k, v in (("num_warmup", args.warmup), ("num_samples", args.samples))
        if v is not None
    }
    runs = []
    for key in (int(k) for k in args.keys.split(",")):
        for informed in (True, False):
            start = population_start(
                model, jax.random.key(key), chains=args.chains, informed=informed
            )
            for name in args.samplers.split(","):
                sampler = getattr(sd, name)(**options)
                row = {"key": key, "sampler": name, "informed": informed}
                row |= one_run(sampler, model, start, key, args.chains)
                runs.append(row)
                if not args.json:
                    print(
                        f"key {key} {name:14s} {'informed' if informed else 'prior   '} "
                        f"{row['grad_per_ess']:8.1f} gradients / effective draw "
                        f"(slowest {row['slowest']}; ESS {row['ess_bulk']}), "
                        f"{row['steps_per_draw']} steps / draw, step {row['step_size']}, "
                        f"{row['wall_s']} s",
                        flush=True,
                    )
    ratios = {}
    for name in args.samplers.split(","):
        mine = [r for r in runs if r["sampler"] == name]
        informed = sum(r["grad_per_ess"] for r in mine if r["informed"])
        prior = sum(r["grad_per_ess"] for r in mine if not r["informed"])
        ratios[name] = round(prior / informed, 2)
    out = {
        "runs": runs,
        "prior_over_informed_grad_per_ess": ratios,
        "chains": args.chains,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "versions": {"jax": jax.__version__, "sndust": sd.__version__},
        "date": time.strftime("%Y-%m-%d"),
    }
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print("prior / informed gradients per effective draw:", ratios)


if __name__ == "__main__":
    main()
