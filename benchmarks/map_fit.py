"""Per-SN MAP fitting throughput on Foundation DR1: sndust vs bayesn's NUTS fits.

sndust fits every SN of the Foundation DR1 sample (T21, PS1 griz, ``FixedPopulation``:
BayeSN's fit mode with a free time of maximum) in one vectorised call — a BFGS per SN,
started from its exact Hessian block — and computes each SN's Laplace covariance. bayesn
fits SNe one at a time with NUTS (``fit_from_file``: 4 chains × 250 + 250), timed in a
subprocess on the first ``--bayesn-sne`` light curves.

    python benchmarks/map_fit.py [--starts 1] [--bayesn-sne 1] [--json]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOUNDATION = (
    Path(os.environ.get("SNDUST_SHARED", HERE.parents[1] / "shared")) / "data" / "foundation_dr1"
)
PS1 = {"g": "g_PS1", "r": "r_PS1", "i": "i_PS1", "z": "z_PS1"}


def sndust_fit(files, starts, repeats):
    import jax

    jax.config.update("jax_enable_x64", True)
    import sndust as sd

    survey = sd.Survey.from_snana(files, bands=PS1)
    sed = sd.BayeSNModel.load("T21")
    t0 = time.perf_counter()
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.FixedPopulation())
    build_s = time.perf_counter() - t0
    fitter = sd.MAP(starts=starts)
    t0 = time.perf_counter()
    fit = fitter.run(model, jax.random.key(0))
    jax.block_until_ready(fit.position)
    first_s = time.perf_counter() - t0
    times = []
    for k in range(repeats):
        t0 = time.perf_counter()
        fit = fitter.run(model, jax.random.key(k + 1))
        jax.block_until_ready(fit.position)
        times.append(time.perf_counter() - t0)
    sd.laplace(model, fit.position)  # compile
    t0 = time.perf_counter()
    lap = sd.laplace(model, fit.position)
    jax.block_until_ready(lap.sd)
    laplace_s = time.perf_counter() - t0
    return dict(
        n_sn=model.n_sn,
        dim=model.dim,
        build_s=build_s,
        first_call_s=first_s,
        fit_s=min(times),
        laplace_s=laplace_s,
        converged=int(fit.per_sn_converged.sum()),
        max_iterations=int(fit.per_sn_steps.max()),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bayesn-sne", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = sorted(glob.glob(str(FOUNDATION / "Foundation_DR1_*.txt")))
    if not files:
        sys.exit(f"Foundation DR1 not found at {FOUNDATION} (set SNDUST_SHARED)")
    ours = sndust_fit(files, args.starts, args.repeats)
    result = {f"sndust_{k}": v for k, v in ours.items()}
    result["sndust_sne_per_s"] = ours["n_sn"] / ours["fit_s"]
    if args.bayesn_sne > 0:
        proc = subprocess.run(
            [sys.executable, str(HERE / "_bayesn_fit.py"), *files[: args.bayesn_sne]],
            capture_output=True,
            text=True,
            check=True,
        )
        fits = json.loads(proc.stdout.strip().splitlines()[-1])["bayesn_fit_s"]
        result["bayesn_s_per_sn"] = min(fits)
        result["speedup_per_sn"] = min(fits) * result["sndust_sne_per_s"]
    import jax

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"jax {jax.__version__}, starts={args.starts}"
    )
    print(
        f"sndust: {ours['n_sn']} SNe ({ours['dim']} parameters) fitted in "
        f"{ours['fit_s']:.2f} s = {result['sndust_sne_per_s']:.1f} SNe/s "
        f"(first call incl. compile {ours['first_call_s']:.1f} s; {ours['converged']}/"
        f"{ours['n_sn']} converged; Laplace for all SNe {ours['laplace_s']:.2f} s)"
    )
    if "bayesn_s_per_sn" in result:
        print(
            f"bayesn: NUTS fit {result['bayesn_s_per_sn']:.1f} s per SN -> sndust MAP is "
            f"{result['speedup_per_sn']:.0f}x faster per SN"
        )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
