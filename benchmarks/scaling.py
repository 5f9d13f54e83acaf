"""Scaling of the hierarchical log density with survey size: value + gradient time,
compile time and memory for simulated surveys of N SNe.

Each survey is simulated from ``SinglePopulation`` (T21, PS1 griz, 10 epochs per band =
40 observations per SN). For each N and precision the script times ``value_and_grad`` of
``HierarchicalModel.logdensity`` — the function every sampler step evaluates — as one
jitted call (median of ``--repeats``) and per evaluation inside a compiled loop of 20
(as in a sampler), records the first call's compile time and the memory XLA plans for
it (arguments + temporaries from ``memory_analysis()``; on a GPU also the allocator's
peak), and fits the log–log slope of gradient time against N.

    python benchmarks/scaling.py [--sizes 100 300 1000 3000 10000]
                                 [--dtypes float64 float32] [--repeats 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def _block(x):
    import jax

    return jax.block_until_ready(x)


def _survey(n_sn, seed, sed):
    import jax

    import sndust as sd

    survey, _ = sd.simulate_survey(jax.random.key(seed), sed, sd.SinglePopulation(), n_sn=n_sn)
    return survey


def measure(survey, sed, dtype, repeats):
    """Timings of value + gradient for one survey and precision."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import sndust as sd

    t0 = time.perf_counter()
    model = sd.HierarchicalModel(
        sed=sed, survey=survey, population=sd.SinglePopulation(), dtype=dtype
    )
    build_s = time.perf_counter() - t0
    x = model.init_position(jax.random.key(0), radius=0.5)

    arrays, static = eqx.partition(model, eqx.is_array)

    @jax.jit
    def value_and_grad(a, v):
        return jax.value_and_grad(eqx.combine(a, static).logdensity)(v)

    t0 = time.perf_counter()
    compiled = value_and_grad.lower(arrays, x).compile()
    compile_s = time.perf_counter() - t0
    memory = compiled.memory_analysis()
    planned = None
    if memory is not None:
        planned = int(
            memory.argument_size_in_bytes + memory.temp_size_in_bytes + memory.output_size_in_bytes
        )
    _block(value_and_grad(arrays, x))
    calls = []
    for k in range(repeats):
        v = x + 1e-6 * k
        t0 = time.perf_counter()
        _block(value_and_grad(arrays, v))
        calls.append(time.perf_counter() - t0)

    @jax.jit
    def loop(a, v):
        logdensity = eqx.combine(a, static).logdensity

        def body(_, carry):
            val, g = jax.value_and_grad(logdensity)(carry)
            return (carry + 1e-9 * g + 0 * val).astype(carry.dtype)

        return jax.lax.fori_loop(0, 20, body, v)

    _block(loop(arrays, x))
    loops = []
    for k in range(max(3, repeats // 10)):
        t0 = time.perf_counter()
        _block(loop(arrays, x + 1e-6 * k))
        loops.append((time.perf_counter() - t0) / 20)
    peak = None
    stats = jax.devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        peak = int(stats["peak_bytes_in_use"])
    return {
        "dim": int(model.dim),
        "n_obs": int(np.asarray(model.prepared.mask).sum()),
        "build_s": build_s,
        "compile_s": compile_s,
        "call_ms": 1e3 * float(np.median(calls)),
        "loop_ms": 1e3 * float(np.median(loops)),
        "planned_bytes": planned,
        "device_peak_bytes": peak,
        "dtype": str(jnp.dtype(dtype)),
    }


def slope(sizes, times):
    """Least-squares slope of log(time) against log(N)."""
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000, 3000, 10000])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print a JSON object last")
    args = parser.parse_args(argv)

    import jax

    jax.config.update("jax_enable_x64", True)
    import sndust as sd

    sed = sd.BayeSNModel.load("T21")
    device = jax.devices()[0]
    results = {dtype: {} for dtype in args.dtypes}
    print(f"value+grad of HierarchicalModel.logdensity, T21 SinglePopulation, {device}")
    print(
        f"{'N':>6s} {'dtype':>8s} {'dim':>7s} {'call ms':>9s} {'loop ms':>9s} "
        f"{'µs/SN':>7s} {'compile s':>10s} {'MB planned':>11s} {'MB peak':>8s}"
    )
    for n in args.sizes:
        t0 = time.perf_counter()
        survey = _survey(n, args.seed, sed)
        simulate_s = time.perf_counter() - t0
        for dtype in args.dtypes:
            r = measure(survey, sed, dtype, args.repeats)
            r["simulate_s"] = simulate_s
            results[dtype][n] = r
            planned = r["planned_bytes"] / 1e6 if r["planned_bytes"] else float("nan")
            peak = r["device_peak_bytes"] / 1e6 if r["device_peak_bytes"] else float("nan")
            print(
                f"{n:6d} {dtype:>8s} {r['dim']:7d} {r['call_ms']:9.3f} {r['loop_ms']:9.3f} "
                f"{1e3 * r['loop_ms'] / n:7.2f} {r['compile_s']:10.2f} {planned:11.1f} {peak:8.1f}"
            )
    summary = {
        "sizes": args.sizes,
        "device": str(device),
        "platform": device.platform,
        "jax": jax.__version__,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
    }
    for dtype in args.dtypes:
        loop_ms = [results[dtype][n]["loop_ms"] for n in args.sizes]
        call_ms = [results[dtype][n]["call_ms"] for n in args.sizes]
        tag = "" if dtype == "float64" else "_" + dtype
        if len(args.sizes) > 1:
            summary["slope" + tag] = slope(args.sizes, loop_ms)
            summary["call_slope" + tag] = slope(args.sizes, call_ms)
        summary["per_n" + tag] = {str(n): results[dtype][n] for n in args.sizes}
        planned = [results[dtype][n]["planned_bytes"] for n in args.sizes]
        if all(planned) and len(args.sizes) > 1:
            summary["bytes_per_sn" + tag] = float(np.polyfit(args.sizes, planned, 1)[0])
        print(
            f"{dtype}: log-log slope of in-loop gradient time vs N = "
            f"{summary.get('slope' + tag, float('nan')):.3f} (separate calls "
            f"{summary.get('call_slope' + tag, float('nan')):.3f}); compile "
            f"{min(r['compile_s'] for r in results[dtype].values()):.1f}–"
            f"{max(r['compile_s'] for r in results[dtype].values()):.1f} s"
        )
    if "slope" not in summary and "slope_float32" in summary:
        summary["slope"] = summary["slope_float32"]
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
