"""bayesn side of the sampling-speed benchmark (subprocess: bayesn flips x64 at import).

Runs bayesn 0.4.0's own hierarchical ``dust_model`` (one dust population: μ_R, σ_R, τ_A,
σ0) on the light curves of an npz written by :func:`write_input`, with the NUTS kernel
bayesn's ``run()`` builds in ``mode: dust`` (target acceptance 0.8, initial step size 0.1,
no heuristic step-size search, diagonal mass matrix without regularisation, tree depth ≤ 10,
``init_to_median``, ``PRNGKey(seed)``). Chains run in parallel over virtual host devices
(as bayesn's CLI does) when there are enough devices, else sequentially; no progress bar
unless ``--progress``.

Measures: wall time of the whole run, time of ``MCMC.run`` (warm-up + sampling, including
compilation; the compile part is summed from JAX's compile-duration events), and
convergence of the four hyperparameters as bayesn records them physically (``mu_R``,
``sigma_R`` and the deterministic ``tauA`` = tan s, ``sigma0`` = 0.1 tan s): bulk ESS and
R-hat (ArviZ), min ESS per MCMC second, divergences, leapfrog steps and tree depth.

Usage: python _bayesn_sample.py INPUT.npz OUTPUT.json [--chains 4] [--warmup 500]
[--samples 500] [--seed 0] [--chain-method auto] [--progress]. Writes the JSON and prints it as the
last stdout line. The input format is that of ``tests/reference/bayesn_log_density.py``,
whose ``build`` sets bayesn's internal arrays.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import time
from pathlib import Path

import numpy as np

BUILD_SCRIPT = (
    Path(__file__).resolve().parent.parent / "tests" / "reference" / "bayesn_log_density.py"
)
# bayesn's name for each sndust hyperparameter (tauA and sigma0 are deterministic sites)
HYPER = {"mu_R": "mu_R", "sigma_R": "sigma_R", "tau_A": "tauA", "sigma0": "sigma0"}
PER_SN = ("theta", "AV", "Rv", "Ds")
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


def write_input(survey, path, model: str = "T21") -> None:
    """Write the light curves of a sndust ``Survey`` in the npz format bayesn's ``build``
    reads (rest-frame phase from ``peak_mjd`` and ``z_hel``; distances from ``z_cmb``).

    Imports neither jax nor bayesn, so sndust processes can call it.
    """
    names = np.asarray(survey.band_names)
    mask = np.asarray(survey.mask, dtype=bool)
    z_hel = np.asarray(survey.z_hel, dtype=float)
    t = (np.asarray(survey.mjd) - np.asarray(survey.peak_mjd)[:, None]) / (1 + z_hel[:, None])
    np.savez(
        path,
        model=model,
        bands=names,
        t=np.where(mask, t, 0.0),
        band=names[np.asarray(survey.band)],
        mask=mask,
        flux=np.asarray(survey.fluxcal, dtype=float),
        err=np.asarray(survey.fluxcal_err, dtype=float),
        z=np.asarray(survey.z_cmb, dtype=float),
        z_err=np.asarray(survey.z_err, dtype=float),
        ebv=np.asarray(survey.mwebv, dtype=float),
        mass=np.asarray(survey.log_mass, dtype=float),
    )


def _load_build():
    spec = importlib.util.spec_from_file_location("_bayesn_log_density", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build


def _force_host_devices(n: int) -> None:
    """Ask XLA for ``n`` CPU devices; must run before jax is imported."""
    flags = [
        f
        for f in os.environ.get("XLA_FLAGS", "").split()
        if not f.startswith("--xla_force_host_platform_device_count")
    ]
    os.environ["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={n}"])


def main(inp, out, chains, warmup, samples, seed, chain_method, progress=False):
    t_start = time.perf_counter()
    import arviz as az
    import jax
    from bayesn import SEDmodel
    from numpyro.infer import MCMC, NUTS, init_to_median

    build = _load_build()
    data = dict(np.load(inp, allow_pickle=False))
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        model = SEDmodel(num_devices=chains, load_model=f"{str(data['model'])}_model")
    init_s = time.perf_counter() - t0
    obs, weights, _ = build(model, data)
    n_sn = int(obs.shape[-1])

    if chain_method == "auto":
        parallel = chains > 1 and jax.local_device_count() >= chains
        chain_method = "parallel" if parallel else "sequential"
    kernel = NUTS(
        model.dust_model,
        adapt_step_size=True,
        target_accept_prob=0.8,
        init_strategy=init_to_median(),
        dense_mass=False,
        find_heuristic_step_size=False,
        regularize_mass_matrix=False,
        step_size=0.1,
    )
    mcmc = MCMC(
        kernel,
        num_warmup=warmup,
        num_samples=samples,
        num_chains=chains,
        chain_method=chain_method,
        progress_bar=progress,
    )

    compile_s = dict.fromkeys(COMPILE_EVENTS, 0.0)

    def on_event(event, duration, **_):
        if event in compile_s:
            compile_s[event] += duration

    jax.monitoring.register_event_duration_secs_listener(on_event)
    t0 = time.perf_counter()
    mcmc.run(
        jax.random.PRNGKey(seed),
        obs,
        weights,
        extra_fields=("potential_energy", "num_steps", "adapt_state.step_size", "mean_accept_prob"),
    )
    draws = jax.block_until_ready(mcmc.get_samples(group_by_chain=True))
    extra = jax.block_until_ready(mcmc.get_extra_fields(group_by_chain=True))
    mcmc_s = time.perf_counter() - t0
    jax.monitoring.unregister_event_duration_listener(on_event)

    post = {name: np.asarray(draws[site]) for name, site in HYPER.items()}
    ess = az.ess(az.convert_to_dataset(post), method="bulk")
    rhat = az.rhat(az.convert_to_dataset(post))
    per_sn = az.ess(az.convert_to_dataset({k: np.asarray(draws[k]) for k in PER_SN}), method="bulk")
    num_steps = np.asarray(extra["num_steps"])
    depth = np.ceil(np.log2(num_steps + 1.0))  # a depth-d tree takes ≤ 2^d − 1 leapfrog steps
    ess_hyper = {k: float(ess[k]) for k in HYPER}
    min_ess = min(ess_hyper.values())
    result = {
        "n_sn": n_sn,
        "chains": chains,
        "warmup": warmup,
        "samples": samples,
        "seed": seed,
        "chain_method": mcmc.chain_method,
        "devices": jax.local_device_count(),
        "backend": jax.default_backend(),
        "bayesn_model_init_s": init_s,
        "bayesn_mcmc_s": mcmc_s,
        "bayesn_compile_s": sum(compile_s.values()),
        "bayesn_compile_breakdown_s": {k.rsplit("/", 1)[1]: v for k, v in compile_s.items()},
        "bayesn_wall_s": time.perf_counter() - t_start,
        "ess_bulk": ess_hyper,
        "rhat": {k: float(rhat[k]) for k in HYPER},
        "posterior_mean": {k: float(v.mean()) for k, v in post.items()},
        "min_ess": min_ess,
        "bayesn_min_ess_per_s": min_ess / mcmc_s,
        "per_sn_min_ess_bulk": {k: float(per_sn[k].min()) for k in PER_SN},
        "divergences": int(np.asarray(extra["diverging"]).sum()),
        "mean_num_steps": float(num_steps.mean()),
        "mean_tree_depth": float(depth.mean()),
        "max_tree_depth_hits": int((depth >= 10).sum()),
        "step_size": [float(s[-1]) for s in np.asarray(extra["adapt_state.step_size"])],
        "mean_accept_prob": float(np.asarray(extra["mean_accept_prob"]).mean()),
        "n_dims": sum(np.size(v) for v in jax.tree.leaves(mcmc.last_state.z)) // chains,
    }
    Path(out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--chain-method", default="auto", choices=("auto", "parallel", "sequential", "vectorized")
    )
    parser.add_argument("--progress", action="store_true", help="numpyro progress bar (stderr)")
    args = parser.parse_args()
    _force_host_devices(args.chains)
    main(
        args.input,
        args.output,
        args.chains,
        args.warmup,
        args.samples,
        args.seed,
        args.chain_method,
        args.progress,
    )
