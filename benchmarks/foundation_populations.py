"""Foundation DR1 under each built-in BayeSN population, and which the data prefer.

Fits the real Foundation DR1 light curves (the example configurations' data and cuts:
T21, 0.015 < z_CMB < 0.08, phases −10…40 d, SALT2 peak dates, host masses from the
headers) under ``SinglePopulation``, ``MassSplit``, ``MassSplitSED`` and
``RedshiftLinear``, one after another through ``sndust fit`` (so each wall time is the
whole command's: reading, start, warm-up, sampling, outputs), then compares them with
PSIS-LOO (``sndust compare``) and prints a markdown table of each run's wall time,
convergence and hyperparameters with the derived quantities.

    python benchmarks/foundation_populations.py --data ../shared/data/foundation_dr1
        [--out foundation-populations] [--method AdjustedMCLMC] [--chains 2]
        [--warmup 500] [--samples 500] [--only-compare] [--json]

``--only-compare`` reads the runs already in ``--out`` (each ``<population>/run.nc``)
instead of fitting. With ``--json`` the last line is a JSON object: per run its wall
time, convergence verdict and summary.json rows; the LOO table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

#: run name -> (example configuration, extra overrides)
RUNS = {
    "SinglePopulation": ("foundation_dr1", []),
    "MassSplit": ("foundation_dr1_mass_split", []),
    "MassSplitSED": ("foundation_dr1_mass_split", ["model.population=MassSplitSED"]),
    "RedshiftLinear": ("foundation_dr1_redshift", []),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the Foundation DR1 folder")
    parser.add_argument("--out", default="foundation-populations")
    parser.add_argument("--method", default="AdjustedMCLMC")
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--only-compare", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    runs = {}
    for name, (config, extra) in RUNS.items():
        folder = out / name
        if not args.only_compare:
            sets = [
                f"survey.path={args.data}", f"sampler.method={args.method}",
                f"sampler.chains={args.chains}", f"sampler.warmup={args.warmup}",
                f"sampler.samples={args.samples}", f"output.dir={folder}", *extra,
            ]  # fmt: skip
            command = [sys.executable, "-m", "sndust", "fit", config, "--quiet", "--overwrite"]
            command += [part for s in sets for part in ("--set", s)]
            t0 = time.perf_counter()
            proc = subprocess.run(command, capture_output=True, text=True)
            if proc.returncode not in (0, 3):
                sys.exit(f"{name}: sndust fit failed:\n{proc.stderr[-3000:]}")
            print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        runs[name] = json.loads((folder / "summary.json").read_text())

    import sndust as sd

    comparison = sd.compare([out / name / "run.nc" for name in RUNS], names=list(RUNS))
    print(comparison.report())
    print()
    print(table(runs))
    if args.json:
        loo = comparison.table[["elpd", "se", "elpd_diff", "dse", "p"]].rename(
            columns={"elpd": "elpd_loo", "p": "p_loo"}  # the record's keys as before
        )
        record = {
            "date": datetime.date.today().isoformat(),
            "machine": f"{platform.machine()}, {platform.processor() or platform.system()}",
            "versions": {"sndust": sd.__version__, "python": platform.python_version()},
            "settings": vars(args),
            "runs": runs,
            "loo": {str(k): {c: float(v) for c, v in row.items()} for k, row in loo.iterrows()},
            "k_hat_over_0.7": {
                name: [s for s, k in zip(comparison.snid, comparison.k_hat[i]) if k > 0.7]
                for i, name in enumerate(comparison.names)
            },
        }
        print(json.dumps(record))


def table(runs: dict) -> str:
    """A markdown table: one row per quantity, one column per run (mean ± sd, and the
    bulk ESS of each hyperparameter), then each run's wall time and verdict."""
    rows: dict[str, dict[str, str]] = {}
    for name, summary in runs.items():
        for section in ("hyper", "derived"):
            for param, row in summary.get(section, {}).items():
                ess = f" ({row['ess_bulk']:.0f})" if section == "hyper" else ""
                rows.setdefault(param, {})[name] = f"{row['mean']:.3g} ± {row['sd']:.2g}{ess}"
    names = list(runs)
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for param, cells in rows.items():
        lines.append(f"| {param} | " + " | ".join(cells.get(n, "") for n in names) + " |")
    lines.append("| wall time | " + " | ".join(f"{runs[n]['wall_s']:.0f} s" for n in names) + " |")
    verdict = {True: "yes", False: "no", None: "—"}
    lines.append("| converged | " + " | ".join(verdict[runs[n]["converged"]] for n in names) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
