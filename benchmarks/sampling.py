"""Hyperparameter sampling efficiency: sndust's samplers vs bayesn's NUTS, same survey.

A survey of ``--n-sn`` SNe is simulated under ``SinglePopulation`` (T21, PS1 griz) with
known μ_R, σ_R, τ_A, σ0. Each sndust sampler (NUTS, MCLMC, AdjustedMCLMC; 4 chains, CPU,
float64) and bayesn's own ``dust_model`` NUTS (subprocess, ``_bayesn_sample.py``) sample
its posterior. The figure of merit is the minimum bulk ESS over (μ_R, σ_R, τ_A, σ0)
divided by the wall time of the whole run (start-up, MAP, warm-up and sampling, including
compilation, since that is what a user waits for); the sampling-only rate is also given.

    python benchmarks/sampling.py [--n-sn 5] [--bayesn-warmup 500] [--bayesn-samples 500]
                                  [--samplers nuts,mclmc,adjusted_mclmc] [--chains 4]
                                  [--warmup W --samples S] [--precondition metric]
                                  [--mass diag|block|dense] [--dtype float64|float32]
                                  [--distance-coordinate apparent|distance]
                                  [--design simple|mix] [--cpu-devices N] [--progress]
                                  [--skip-bayesn] [--json]

On CPU, sndust's chains are spread over ``--cpu-devices`` virtual devices (default: one
per core, as bayesn's chains are spread over 4), so both use every core.

``--warmup``/``--samples`` replace every chosen sampler's defaults (NUTS 500/500, MCLMC
2000/4000, AdjustedMCLMC 500/1000).

With ``--json`` the last line is a JSON object with ``bayesn_min_ess_per_s``,
``<sampler>_min_ess_per_s`` for each sampler and ``best_speedup_vs_bayesn``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HYPER = dict(mu_R=2.7, sigma_R=0.5, tau_A=0.3, sigma0=0.1)
NAMES = ("mu_R", "sigma_R", "tau_A", "sigma0")


def simulate(n_sn, seed, design="simple"):
    """The benchmark survey: ``simple`` (the simulator's default PS1 griz design) or
    ``mix`` (40% Foundation-like, 60% DES-like SNe, one population)."""
    import dataclasses

    import jax

    jax.config.update("jax_enable_x64", True)
    import sndust as sd

    sed = sd.BayeSNModel.load("T21")
    key = jax.random.key(seed)
    if design == "simple":
        return sed, sd.simulate_survey(key, sed, sd.SinglePopulation(), n_sn=n_sn, hyper=HYPER)[0]
    n_low = (2 * n_sn) // 5
    curves = []
    for k, (preset, n) in enumerate((("foundation", n_low), ("des", n_sn - n_low))):
        part, _ = sd.simulate_survey(
            jax.random.fold_in(key, k),
            sed,
            sd.SinglePopulation(),
            n_sn=n,
            hyper=HYPER,
            design=preset,
        )
        curves += [
            dataclasses.replace(part.light_curve(i), snid=f"{preset}-{part.snid[i]}")
            for i in range(part.n_sn)
        ]
    return sed, sd.Survey.from_light_curves(curves)


DEFAULTS = {"nuts": (500, 500), "mclmc": (2000, 4000), "adjusted_mclmc": (500, 1000)}


def run_sndust(
    sed,
    survey,
    which,
    chains=4,
    warmup=None,
    samples=None,
    precondition="metric",
    progress=False,
    mass="diag",
    dtype="float64",
    distance_coordinate="apparent",
):
    import jax
    import jax.numpy as jnp

    import sndust as sd

    cls = {"nuts": sd.NUTS, "mclmc": sd.MCLMC, "adjusted_mclmc": sd.AdjustedMCLMC}[which]
    w, n = DEFAULTS[which]
    options = {"mass": mass} if which == "nuts" else {}
    sampler = cls(num_warmup=warmup or w, num_samples=samples or n, **options)
    precondition = {"True": True, "False": False}.get(precondition, precondition)
    # every sampler pays its own compilation, as in a fresh session (and as bayesn does in
    # its subprocess): without this, the samplers after the first reused the MAP,
    # Laplace and posterior programs compiled for the first (≈12 s of a 5-SN run)
    jax.clear_caches()
    t0 = time.perf_counter()
    model = sd.HierarchicalModel(
        sed=sed,
        survey=survey,
        population=sd.SinglePopulation(),
        dtype=jnp.dtype(dtype),
        distance_coordinate=distance_coordinate,
    )
    post = sampler.run(
        model, jax.random.key(1), chains=chains, progress=progress, precondition=precondition
    )
    wall = time.perf_counter() - t0
    ess = {n: post.min_ess([n]) for n in NAMES}
    rhat = post.summary()["r_hat"].to_dict()
    sampling = post.posterior.attrs["sampling_seconds"]
    return {
        "wall_s": wall,
        "sampling_s": sampling,
        "warmup_s": post.posterior.attrs.get("warmup_seconds"),
        "draws": int(post.posterior.sizes["chain"] * post.posterior.sizes["draw"]),
        "mean_n_steps": float(post.sample_stats["n_steps"].mean()),
        "device": str(jax.devices()[0]),
        "ess_bulk": ess,
        "rhat": rhat,
        "min_ess": min(ess.values()),
        "min_ess_per_s": min(ess.values()) / wall,
        "min_ess_per_sampling_s": min(ess.values()) / sampling,
        "divergences": post.divergences,
    }


def run_bayesn(survey, warmup, samples):
    sys.path.insert(0, str(HERE))
    from _bayesn_sample import write_input

    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.npz", Path(tmp) / "out.json"
        write_input(survey, inp)
        cmd = [sys.executable, str(HERE / "_bayesn_sample.py"), str(inp), str(out)]
        cmd += ["--chains", "4", "--warmup", str(warmup), "--samples", str(samples)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"bayesn failed:\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sn", type=int, default=5)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--bayesn-warmup", type=int, default=500)
    parser.add_argument("--bayesn-samples", type=int, default=500)
    parser.add_argument("--samplers", default="nuts,mclmc,adjusted_mclmc")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--samples", type=int)
    parser.add_argument("--precondition", default="metric", choices=["True", "metric", "False"])
    parser.add_argument("--mass", default="diag", choices=["diag", "block", "dense"])
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument(
        "--distance-coordinate", default="apparent", choices=["apparent", "distance"]
    )
    parser.add_argument("--design", default="simple", choices=["simple", "mix"])
    parser.add_argument(
        "--cpu-devices",
        type=int,
        default=os.cpu_count(),
        help="virtual CPU devices for sndust's chains (default: one per core)",
    )
    parser.add_argument("--progress", action="store_true", help="progress bars on stderr")
    parser.add_argument("--skip-bayesn", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    flags = os.environ.get("XLA_FLAGS", "")
    if "device_count" not in flags:  # before JAX starts (it ignores accelerators)
        os.environ["XLA_FLAGS"] = (
            f"{flags} --xla_force_host_platform_device_count={args.cpu_devices}"
        )
    import jax

    sed, survey = simulate(args.n_sn, args.seed, args.design)
    result = {
        "n_sn": args.n_sn,
        "design": args.design,
        "dtype": args.dtype,
        "chains": args.chains,
        "distance_coordinate": args.distance_coordinate,
        "cpu_devices": args.cpu_devices,
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}",
        "jax": jax.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }
    for which in args.samplers.split(","):
        r = run_sndust(
            sed,
            survey,
            which,
            args.chains,
            args.warmup,
            args.samples,
            args.precondition,
            args.progress,
            args.mass,
            args.dtype,
            args.distance_coordinate,
        )
        result[which] = r
        result[f"{which}_min_ess_per_s"] = r["min_ess_per_s"]
        print(f"{which}: min ESS {r['min_ess']:.0f} in {r['wall_s']:.1f} s", file=sys.stderr)
    if not args.skip_bayesn:
        b = run_bayesn(survey, args.bayesn_warmup, args.bayesn_samples)
        result["bayesn"] = b
        result["bayesn_min_ess_per_s"] = b["min_ess"] / b["bayesn_wall_s"]
        best = max(result[f"{w}_min_ess_per_s"] for w in args.samplers.split(","))
        result["best_speedup_vs_bayesn"] = best / result["bayesn_min_ess_per_s"]
    if args.json:
        print(json.dumps(result, default=float))
    else:
        print(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
