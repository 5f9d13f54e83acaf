"""Value + gradient of the flux log-likelihood: sndust vs bayesn, same data, same run.

The survey (100 SNe × 4 PS1 bands × 10 epochs = 40 observations each, T21) is simulated
by bayesn itself in a subprocess (``_bayesn_gradient.py``), which also times
``value_and_grad`` of bayesn's ``dust_model`` potential (2804 unconstrained dimensions).
sndust then times ``value_and_grad`` of its Gaussian FLUXCAL log-likelihood with respect
to every per-SN latent (θ, A_V, R_V, e, μ: 2800 dimensions) on the same light curves.
Both in float64 on the CPU; sndust also in float32.

    python benchmarks/gradient.py [--n-sn 100] [--repeats 50] [--json]
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

import numpy as np


def time_calls(fn, args_list):
    import jax

    jax.block_until_ready(fn(*args_list[0]))
    out = []
    for args in args_list:
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        out.append(time.perf_counter() - t0)
    return out


def sndust_timings(data_path, dtype_name, repeats):
    import equinox as eqx
    import jax
    import jax.flatten_util
    import jax.numpy as jnp

    import sndust as sd

    d = np.load(data_path)
    n_sn = d["z"].size
    survey = sd.Survey.from_arrays(
        snid=[f"sim{k}" for k in range(n_sn)],
        mjd=[60000.0 + d["t"] * (1 + d["z"][k]) for k in range(n_sn)],
        band=[d["band"]] * n_sn,
        fluxcal=list(d["flux"]),
        fluxcal_err=list(d["err"]),
        z_hel=d["z"],
        peak_mjd=np.full(n_sn, 60000.0),
        mwebv=d["ebv"],
    )
    t0 = time.perf_counter()
    sed = sd.BayeSNModel.load("T21")
    prepared = sd.prepare(survey, sed, dtype=dtype_name)
    prepare_s = time.perf_counter() - t0
    dtype = jnp.dtype(dtype_name)
    params = dict(
        theta=jnp.zeros(n_sn, dtype),
        A_V=jnp.full(n_sn, 0.2, dtype),
        R_V=jnp.full(n_sn, 2.6, dtype),
        e=jnp.zeros((n_sn, prepared.n_eps), dtype),
        distmod=jnp.asarray(d["mu"], dtype),
    )
    flat, unravel = jax.flatten_util.ravel_pytree(params)

    @eqx.filter_jit
    def value_and_grad(prep, v):
        return jax.value_and_grad(lambda u: prep.log_likelihood(**unravel(u)))(v)

    t0 = time.perf_counter()
    jax.block_until_ready(value_and_grad(prepared, flat))
    compile_s = time.perf_counter() - t0
    calls = time_calls(value_and_grad, [(prepared, flat + 1e-6 * k) for k in range(repeats)])

    @eqx.filter_jit
    def loop(prep, v):
        def body(_, carry):
            val, g = jax.value_and_grad(lambda u: prep.log_likelihood(**unravel(u)))(carry)
            return carry + 1e-9 * g + 0 * val

        return jax.lax.fori_loop(0, 20, body, v)

    loop_t = [t / 20 for t in time_calls(loop, [(prepared, flat + 1e-6 * k) for k in range(5)])]
    return {
        "ms": 1e3 * float(np.median(calls)),
        "min_ms": 1e3 * float(np.min(calls)),
        "loop_ms": 1e3 * float(np.median(loop_t)),
        "compile_s": compile_s,
        "prepare_s": prepare_s,
        "dims": int(flat.size),
        "chunk_size": prepared.info.chunk_size,
        "window": prepared.info.window,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sn", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print a JSON object last")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        data_path = str(Path(tmp) / "survey.npz")
        proc = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("_bayesn_gradient.py")),
                data_path,
                str(args.n_sn),
                str(args.repeats),
                str(args.seed),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        if proc.returncode != 0:
            sys.exit(f"bayesn side failed:\n{proc.stderr[-3000:]}")
        bayesn = json.loads(proc.stdout.strip().splitlines()[-1])

        import jax

        jax.config.update("jax_enable_x64", True)
        f64 = sndust_timings(data_path, "float64", args.repeats)
        f32 = sndust_timings(data_path, "float32", args.repeats)

    result = {
        "sndust_ms": f64["ms"],
        "bayesn_ms": bayesn["bayesn_ms"],
        "speedup_vs_bayesn": bayesn["bayesn_ms"] / f64["ms"],
        "sndust_loop_ms": f64["loop_ms"],
        "bayesn_loop_ms": bayesn["bayesn_loop_ms"],
        "speedup_in_loop": bayesn["bayesn_loop_ms"] / f64["loop_ms"],
        "sndust_f32_ms": f32["ms"],
        "sndust_f32_loop_ms": f32["loop_ms"],
        "sndust_compile_s": f64["compile_s"],
        "bayesn_compile_s": bayesn["bayesn_compile_s"],
        "sndust_prepare_s": f64["prepare_s"],
        "sndust_dims": f64["dims"],
        "bayesn_dims": bayesn["bayesn_dims"],
        "n_sn": args.n_sn,
        "chunk_size": f64["chunk_size"],
        "window": f64["window"],
        "jax": jax.__version__,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
    }
    print(f"value+grad, {args.n_sn} SNe x 40 obs, T21 PS1 griz, CPU ({os.cpu_count()} cores)")
    print(f"{'':24s}{'separate call':>16s}{'in a compiled loop':>22s}")
    print(
        f"{'bayesn dust_model f64':24s}{bayesn['bayesn_ms']:13.2f} ms"
        f"{bayesn['bayesn_loop_ms']:19.2f} ms"
    )
    print(f"{'sndust f64':24s}{f64['ms']:13.2f} ms{f64['loop_ms']:19.2f} ms")
    print(f"{'sndust f32':24s}{f32['ms']:13.2f} ms{f32['loop_ms']:19.2f} ms")
    print(
        f"speed-up f64: {result['speedup_vs_bayesn']:.1f}x (separate call), "
        f"{result['speedup_in_loop']:.1f}x (in loop)"
    )
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
