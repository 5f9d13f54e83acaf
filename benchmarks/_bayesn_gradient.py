"""bayesn side of benchmarks/gradient.py (run as a subprocess: bayesn flips x64 at import).

Simulates the benchmark survey with bayesn's own ``simulate_light_curve`` (T21, PS1 griz,
10 epochs per band, 3% flux errors), builds the arrays bayesn's ``process_dataset`` would,
times ``value_and_grad`` of the ``dust_model`` potential, and writes the survey to an npz
for the sndust side. Prints one JSON line.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time

import numpy as np


def main(out_path: str, n_sn: int, repeats: int, seed: int) -> None:
    import jax
    import jax.numpy as jnp
    from bayesn import SEDmodel
    from numpyro.infer.initialization import init_to_median
    from numpyro.infer.util import initialize_model

    rng = np.random.default_rng(seed)
    np.random.seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):
        model = SEDmodel(load_model="T21_model")
    bands = ["g_PS1", "r_PS1", "i_PS1", "z_PS1"]
    phases = np.linspace(-8.0, 35.0, 10)
    z = rng.uniform(0.015, 0.08, n_sn)
    ebv = rng.uniform(0.0, 0.1, n_sn)
    with contextlib.redirect_stdout(io.StringIO()):
        flux, err, params = model.simulate_light_curve(
            phases, n_sn, bands, yerr=0.03, err_type="mag", z=z, mu="z", ebv_mw=ebv, mag=False
        )
    flux, err = np.asarray(flux), np.asarray(err)  # (n_obs, n_sn)
    n_obs = flux.shape[0]
    t = np.repeat(phases[None, :], len(bands), axis=0).reshape(-1)
    band = np.repeat(np.array(bands), len(phases))

    # bayesn's dust-mode arrays (rows as in process_dataset's flux_data)
    used = [model.band_dict[b] for b in bands]
    with contextlib.redirect_stdout(io.StringIO()):
        model = SEDmodel(load_model="T21_model")
    model.used_band_inds = np.array(used)
    model.zps = model.zps[model.used_band_inds]
    model.offsets = model.offsets[model.used_band_inds]
    tt = np.repeat(t[:, None], n_sn, axis=1)
    data = np.zeros((10, n_obs, n_sn))
    data[0] = tt
    data[1] = flux
    data[2] = err
    data[3] = -9.0
    data[4] = np.repeat(np.array([bands.index(b) for b in band])[:, None], n_sn, axis=1)
    data[5] = z
    data[6] = 1e-4
    data[7] = np.asarray(params["mu"])
    data[8] = ebv
    data[9] = 1.0
    model.data = jnp.array(data)
    model.band_weights = model._calculate_band_weights(jnp.array(z), jnp.array(ebv))
    J_t = model.J_t_map(tt.flatten(order="F"), model.tau_knots, model.KD_t)
    model.J_t = J_t.reshape((n_obs, n_sn, 6), order="F").transpose(1, 2, 0)
    model.hsiao_interp = jnp.array([19 + np.floor(tt), 19 + np.ceil(tt), np.remainder(tt, 1)])

    info = initialize_model(
        jax.random.PRNGKey(0),
        model.dust_model,
        model_args=(model.data, model.band_weights),
        init_strategy=init_to_median(),
    )
    x0 = info.param_info.z
    flat, unravel = jax.flatten_util.ravel_pytree(x0)
    vg = jax.jit(jax.value_and_grad(lambda v: info.potential_fn(unravel(v))))
    t0 = time.perf_counter()
    jax.block_until_ready(vg(flat))
    compile_s = time.perf_counter() - t0
    times = []
    for k in range(repeats):
        v = flat + 1e-6 * k
        t0 = time.perf_counter()
        jax.block_until_ready(vg(v))
        times.append(time.perf_counter() - t0)

    def loop(v):
        def body(_, carry):
            val, g = jax.value_and_grad(lambda u: info.potential_fn(unravel(u)))(carry)
            return carry - 1e-9 * g + 0 * val

        return jax.lax.fori_loop(0, 20, body, v)

    loop_j = jax.jit(loop)
    jax.block_until_ready(loop_j(flat))
    loop_times = []
    for k in range(5):
        t0 = time.perf_counter()
        jax.block_until_ready(loop_j(flat + 1e-6 * k))
        loop_times.append((time.perf_counter() - t0) / 20)

    np.savez(
        out_path,
        t=t,
        band=band,
        flux=flux.T,
        err=err.T,
        z=z,
        ebv=ebv,
        mu=np.asarray(params["mu"]),
    )
    print(
        json.dumps(
            {
                "bayesn_ms": 1e3 * float(np.median(times)),
                "bayesn_min_ms": 1e3 * float(np.min(times)),
                "bayesn_loop_ms": 1e3 * float(np.median(loop_times)),
                "bayesn_compile_s": compile_s,
                "bayesn_dims": int(flat.size),
                "bayesn_version": __import__("bayesn").__version__
                if hasattr(__import__("bayesn"), "__version__")
                else "0.4.0",
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
