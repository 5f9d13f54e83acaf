"""bayesn side of benchmarks/map_fit.py (subprocess: bayesn flips x64 at import).

Times bayesn's own per-SN fit (``SEDmodel.fit_from_file``: NUTS, 4 chains × 250 warm-up
+ 250 samples, T21, free time of maximum) on Foundation DR1 light curves. Prints one JSON
line.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time


def main(paths):
    from bayesn import SEDmodel

    with contextlib.redirect_stdout(io.StringIO()):
        model = SEDmodel(load_model="T21_model")
    bands = {"g": "g_PS1", "r": "r_PS1", "i": "i_PS1", "z": "z_PS1"}
    times = []
    for path in paths:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            samples, _ = model.fit_from_file(path, filt_map=bands, print_summary=False)
        import jax

        jax.block_until_ready(samples["theta"])
        times.append(time.perf_counter() - t0)
    print(json.dumps({"bayesn_fit_s": times}))


if __name__ == "__main__":
    main(sys.argv[1:])
