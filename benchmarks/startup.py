"""Start-up cost: load a BayeSN model and the whole filter set (every zero point).

Measured after Python, NumPy and JAX are imported, in a fresh process. bayesn's
``SEDmodel(...)`` spends 12–18 s here (one XLA compile per filter interpolation).

    python benchmarks/startup.py [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import time, json
import jax, numpy
t0 = time.perf_counter()
import sndust as sd
t1 = time.perf_counter()
sed = sd.BayeSNModel.load("{model}")
t2 = time.perf_counter()
bank = sd.FilterBank.builtin()
zps = [bank.zero_point(n) for n in bank.names]
t3 = time.perf_counter()
print(json.dumps(dict(import_s=t1 - t0, model_s=t2 - t1, filters_s=t3 - t2, total_s=t3 - t0,
                      n_filters=len(zps))))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = {}
    for model in ("T21", "W22"):
        out = subprocess.run(
            [sys.executable, "-c", CHILD.format(model=model)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{model}: import sndust {r['import_s']:.2f} s, load model {r['model_s']:.2f} s, "
            f"{r['n_filters']} filters + zero points {r['filters_s']:.2f} s, "
            f"total {r['total_s']:.2f} s"
        )
        result[f"{model}_total_s"] = r["total_s"]
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
