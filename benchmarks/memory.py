"""Peak memory per observation of a MAP fit of one supernova with a long light curve.

One SN (T21, PS1 griz, z = 0.03) is observed ``N`` times, spread evenly over the model's
phase range in the four bands; its fluxes and 3% errors are simulated by
:func:`sndust.simulate_survey` (in a process of its own, so the simulation is not
measured). Each fit then runs in a fresh child process the way ``sndust fit`` runs
``sampler.method: MAP`` (float64): build the :class:`sndust.HierarchicalModel`, run
``sd.MAP(steps=..., starts=...)`` and, unless ``--no-laplace``, the Laplace
approximation at the mode. Two fits:

* ``hierarchical``: ``SinglePopulation`` (hyperparameters free), so MAP is the joint
  L-BFGS with the starts vmapped, and Laplace is the dense Hessian;
* ``per_sn``: ``FixedPopulation`` (BayeSN's fit mode, free time of maximum), so MAP is the
  per-SN BFGS started from the exact Hessian block, and Laplace the block Hessian.

Memory is the child's peak resident set size (``ru_maxrss``), minus that of the same
child fitting a 40-observation light curve (imports, JAX runtime, compiled programs),
divided by ``N``: the bytes each observation costs. "Marginal" is the same difference
taken from the previous size in the list instead, which leaves out what does not grow
with ``N`` (mostly XLA's compilation, which differs by tens of MB between the programs
of a tiny and a long light curve). The child also reports the bytes of the prepared
model's arrays and the temporaries XLA plans for one value + gradient of the log
density (``memory_analysis()``). Steps do not change the memory (the programs are the
same), so the default is short. Each child runs under an address-space cap
(``RLIMIT_AS``, ``--cap-gb``); a fit that needs more fails and is reported as such.

    python benchmarks/memory.py [--sizes 1000 10000 100000] [--fits hierarchical per_sn]
                                [--steps 20] [--starts 4] [--cap-gb 8] [--json]

Another version of sndust (e.g. a checkout of an older commit) is measured by putting
its ``src`` first on ``PYTHONPATH``; the children inherit it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BASELINE_N = 40
Z = 0.03
BANDS = ("g_PS1", "r_PS1", "i_PS1", "z_PS1")


def simulate(n_obs: int, path: str) -> None:
    """Write one SN with ``n_obs`` observations (about ``n_obs / 4`` per band) to ``path``."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import sndust as sd

    sed = sd.BayeSNModel.load("T21")
    lo, hi = sed.phase_range
    span = (hi - lo) * (1 + Z)  # observer-frame days inside the phase window
    design = sd.SurveyDesign(
        bands=BANDS, z_range=(Z, Z + 1e-6), phases=None, cadence=span / (n_obs / len(BANDS))
    )
    survey, _ = sd.simulate_survey(
        jax.random.key(n_obs), sed, sd.SinglePopulation(), n_sn=1, design=design
    )
    m = survey.mask[0]
    np.savez(
        path,
        mjd=survey.mjd[0][m],
        band=np.asarray(survey.band_names)[survey.band[0][m]],
        fluxcal=survey.fluxcal[0][m],
        fluxcal_err=survey.fluxcal_err[0][m],
        z=np.asarray(survey.z_hel),
        peak=np.asarray(survey.peak_mjd),
        mwebv=np.asarray(survey.mwebv),
        log_mass=np.asarray(survey.log_mass),
    )


def fit(path: str, which: str, steps: int, starts: int, laplace: bool) -> dict:
    """Build the model and fit it as ``sndust fit`` does; return sizes and timings."""
    import equinox as eqx
    import jax

    jax.config.update("jax_enable_x64", True)
    import sndust as sd

    d = np.load(path)
    survey = sd.Survey.from_arrays(
        ["long"], [d["mjd"]], [d["band"]], [d["fluxcal"]], [d["fluxcal_err"]],
        z_hel=d["z"], peak_mjd=d["peak"], mwebv=d["mwebv"], log_mass=d["log_mass"],
    )  # fmt: skip
    population = sd.SinglePopulation() if which == "hierarchical" else sd.FixedPopulation()
    sed = sd.BayeSNModel.load("T21")
    t0 = time.perf_counter()
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=population)
    build_s = time.perf_counter() - t0
    arrays = [x for x in jax.tree_util.tree_leaves(model) if eqx.is_array(x)]
    prepared_bytes = sum(
        x.nbytes for x in jax.tree_util.tree_leaves(model.prepared) if eqx.is_array(x)
    )

    a, static = eqx.partition(model, eqx.is_array)
    x0 = model.init_position(jax.random.key(0), radius=0.5)
    program = jax.jit(lambda a, v: jax.value_and_grad(eqx.combine(a, static).logdensity)(v))
    analysis = program.lower(a, x0).compile().memory_analysis()
    temp_bytes = None if analysis is None else int(analysis.temp_size_in_bytes)

    t0 = time.perf_counter()
    result = sd.MAP(steps=steps, starts=starts).run(model, jax.random.key(1))
    jax.block_until_ready(result.position)
    map_s = time.perf_counter() - t0
    laplace_s, laplace_note = None, None
    if laplace:
        t0 = time.perf_counter()
        try:
            jax.block_until_ready(sd.laplace(model, result.position).sd)
        except sd.ModelError as err:  # a short MAP need not reach a maximum; the Hessian ran
            laplace_note = str(err)[:200]
        laplace_s = time.perf_counter() - t0
    return {
        "n_obs": int(np.asarray(model.prepared.mask).sum()),
        "dim": int(model.dim),
        "model_bytes": int(sum(x.nbytes for x in arrays)),
        "prepared_bytes": int(prepared_bytes),
        "grad_temp_bytes": temp_bytes,
        "chunk_size": model.prepared.info.chunk_size,
        "window": model.prepared.info.window,
        "build_s": build_s,
        "map_s": map_s,
        "laplace_s": laplace_s,
        "laplace_note": laplace_note,
        "log_density": float(result.log_density),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "versions": {
            "sndust": f"{sd.__version__} ({Path(sd.__file__).parent})",
            "jax": jax.__version__,
            "equinox": eqx.__version__,
            "numpy": np.__version__,
        },
    }


def _child(args: list[str], cap_bytes: int) -> dict:
    """Run this script's ``--child`` mode in a fresh process under an address-space cap."""

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    proc = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout)[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--fits", nargs="+", default=["hierarchical", "per_sn"])
    parser.add_argument("--steps", type=int, default=20, help="MAP steps (memory: any)")
    parser.add_argument("--starts", type=int, default=4, help="MAP starts (sndust fit: 4)")
    parser.add_argument("--no-laplace", action="store_true", help="MAP only")
    parser.add_argument(
        "--cap-gb", type=float, default=8.0, help="address-space cap of each child, GB"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object last")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:  # internal: one simulation or one fit, result as JSON on stdout
        mode, *rest = args.child
        if mode == "simulate":
            simulate(int(rest[0]), rest[1])
            print(json.dumps({}))
        else:
            path, which, steps, starts, laplace = rest
            print(json.dumps(fit(path, which, int(steps), int(starts), laplace == "1")))
        return

    import jax

    cap = int(args.cap_gb * 1e9)
    laplace = "0" if args.no_laplace else "1"
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in [BASELINE_N, *args.sizes]:
            path = str(Path(tmp) / f"lc{n}.npz")
            out = _child(["--child", "simulate", str(n), path], cap)
            if "error" in out:
                sys.exit(f"simulating {n} observations failed:\n{out['error']}")
        print(
            f"MAP fit of one SN (T21, PS1 griz), {args.starts} starts, {args.steps} steps"
            f"{'' if args.no_laplace else ' + Laplace'}; float64, CPU ({os.cpu_count()} cores, "
            f"{platform.processor() or platform.machine()}); peak RSS above a "
            f"{BASELINE_N}-observation fit"
        )
        print(
            f"{'fit':>13s} {'N':>7s} {'peak MB':>8s} {'above base MB':>14s} {'KB/obs':>7s} "
            f"{'marginal KB/obs':>16s} {'prepared KB/obs':>16s} {'grad temp KB/obs':>17s} "
            f"{'MAP s':>6s}"
        )
        for which in args.fits:
            base = previous = None
            for n in [BASELINE_N, *args.sizes]:
                path = str(Path(tmp) / f"lc{n}.npz")
                r = _child(
                    ["--child", "fit", path, which, str(args.steps), str(args.starts), laplace],
                    cap,
                )
                rows[f"{which}/{n}"] = r
                if "error" in r:
                    last = r["error"].strip().splitlines()[-1][:100]
                    print(f"{which:>13s} {n:7d}  failed under the {args.cap_gb:g} GB cap: {last}")
                    continue
                base = base or r
                above = r["peak_rss_bytes"] - base["peak_rss_bytes"]
                r["above_baseline_bytes"] = above
                r["bytes_per_obs"] = r["marginal_bytes_per_obs"] = None
                cells = ["", ""]
                if n != BASELINE_N:
                    r["bytes_per_obs"] = above / r["n_obs"]
                    r["marginal_bytes_per_obs"] = (
                        r["peak_rss_bytes"] - previous["peak_rss_bytes"]
                    ) / (r["n_obs"] - previous["n_obs"])
                    cells = [
                        f"{r['bytes_per_obs'] / 1e3:7.2f}",
                        f"{r['marginal_bytes_per_obs'] / 1e3:16.2f}",
                    ]
                previous = r
                print(
                    f"{which:>13s} {r['n_obs']:7d} {r['peak_rss_bytes'] / 1e6:8.1f} "
                    f"{above / 1e6:14.1f} {cells[0]:>7s} {cells[1]:>16s} "
                    f"{r['prepared_bytes'] / r['n_obs'] / 1e3:16.2f} "
                    f"{(r['grad_temp_bytes'] or 0) / r['n_obs'] / 1e3:17.2f} {r['map_s']:6.1f}"
                )
        versions = next((r["versions"] for r in rows.values() if "versions" in r), {})
        print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    summary = {
        "rows": rows,
        "versions": versions,
        "steps": args.steps,
        "starts": args.starts,
        "laplace": not args.no_laplace,
        "jax": jax.__version__,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "date": time.strftime("%Y-%m-%d"),
    }
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
