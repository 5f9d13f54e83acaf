"""Many-chain adaptive HMC from BlackJAX (ChEES-HMC and MEADS) on the 30-SN recovery
survey: one of issue 24's candidates for the hierarchical sampler, measured by the
numbers benchmarks/README.md gives NUTS and AdjustedMCLMC on the same survey.

The chains start where sndust's samplers start by default (``init="per_sn"``: per-SN
fits, then the population fitted to them, one draw of the hyperparameters per chain) and
move in the Laplace-whitened coordinates of ``precondition=True``
(``sndust/_sampling/_precondition.py``), where the Laplace approximation at the start is
N(0, I). Both samplers adapt on the ensemble of chains:

- ``chees``: ``blackjax.chees_adaptation`` (step size by dual averaging, the jittered
  trajectory length by the ChEES criterion over the chains; Adam) then
  ``blackjax.dynamic_hmc``;
- ``meads``: ``blackjax.meads_adaptation`` (step size, momentum persistence and damping
  from the chains' spread, in folds) then ``blackjax.ghmc``, one gradient per step.

Reported for each hyperparameter (rank-normalised split R-hat and bulk ESS over all
chains, from arviz-stats) and the gradients of the sampling phase per effective draw (the
minimum ESS over the hyperparameters), the metric of benchmarks/README.md's sampler tables.
The survey and truths are ``recovery.py``'s. Float64.

    python benchmarks/ensemble_hmc.py --sampler chees --chains 16 --warmup 1000 --json
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np


def starts(model, chains):
    """sndust's default starts (``init="per_sn"``) and the whitening built at their
    centre, as ``run(precondition=True)`` builds it."""
    import jax
    import jax.numpy as jnp

    from sndust._sampling._population_start import population_start
    from sndust._sampling._precondition import whiten

    # the prior's coordinates for R_V, as when this was measured (informed=True gives the
    # starts in the coordinates of model.with_anchors(start.anchors))
    start = population_start(model, jax.random.key(0), chains=chains, informed=False)
    target = whiten(model, start.position)
    return target, jax.jit(jax.vmap(target.to_z))(jnp.asarray(start.chains))


def adapt(name, target, z0, warmup, key):
    """The adapted kernel and the chains' states after ``warmup`` steps; the warm-up's
    gradients per chain."""
    import blackjax
    import jax
    import optax

    chains = z0.shape[0]
    if name == "chees":
        warm = blackjax.chees_adaptation(
            target.logdensity, chains,
            adaptation_info_fn=lambda state, info, adaptation: info.num_integration_steps,
        )  # fmt: skip
        (states, params), info = warm.run(key, z0, 0.1, optax.adam(0.025), warmup)
        grads = float(np.asarray(info._wrapped_info).sum()) / chains
        return blackjax.dynamic_hmc(target.logdensity, **params), states, params, grads
    warm = blackjax.meads_adaptation(target.logdensity, chains)
    (states, params), _ = warm.run(key, z0, warmup)
    jax.block_until_ready(states)
    return blackjax.ghmc(target.logdensity, **params), states, params, float(warmup)


def run(name, chains, warmup, samples):
    import arviz_stats as azs
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    from recovery import recovery_model, truth

    import sndust as sd

    model = recovery_model(sd.BayeSNModel.load("T21"))
    t0 = time.perf_counter()
    target, z0 = starts(model, chains)
    t1 = time.perf_counter()
    kernel, states, params, warm_grads = adapt(name, target, z0, warmup, jax.random.key(1))
    jax.block_until_ready(states)
    t2 = time.perf_counter()

    def physical(x):
        values = model.constrain(x)
        return {name: values[name] for name in model.hyper_names}

    @jax.jit
    def sample(key, states):
        def one(state, k):
            new, info = jax.vmap(kernel.step)(jax.random.split(k, chains), state)
            steps = getattr(info, "num_integration_steps", jnp.ones(chains, jnp.int32))
            draw = jax.vmap(lambda z: physical(target.to_x(z)))(new.position)
            return new, (draw, steps, info.acceptance_rate, info.is_divergent)

        return jax.lax.scan(one, states, jax.random.split(key, samples))

    _, (draws, steps, accept, divergent) = sample(jax.random.key(2), states)
    jax.block_until_ready(draws)
    t3 = time.perf_counter()
    import xarray as xr

    values = {k: (("chain", "draw"), np.asarray(v).T) for k, v in draws.items()}
    posterior = xr.Dataset(values)
    ess = {k: float(v) for k, v in azs.ess(posterior).items()}
    rhat = {k: float(v) for k, v in azs.rhat(posterior).items()}
    gradients = float(np.asarray(steps).sum())
    truths = truth()
    return {
        "sampler": name,
        "chains": chains,
        "warmup": warmup,
        "samples": samples,
        "tuned": {
            k: np.asarray(v).ravel()[:1].tolist()
            for k, v in params.items()
            if k in ("step_size", "alpha", "delta")
        },
        "mean_steps_per_draw": float(np.asarray(steps).mean()),
        "warmup_gradients_per_chain": warm_grads,
        "acceptance": float(np.asarray(accept).mean()),
        "divergences": int(np.asarray(divergent).sum()),
        "ess_bulk": ess,
        "rhat": rhat,
        "mean": {k: float(posterior[k].mean()) for k in values},
        "truth": {k: truths[k] for k in values},
        "grad_per_ess": gradients / min(ess.values()),
        "start_s": t1 - t0,
        "warmup_s": t2 - t1,
        "sampling_s": t3 - t2,
        "jax": jax.__version__,
        "machine": platform.machine(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sampler", choices=("chees", "meads"), default="chees")
    parser.add_argument("--chains", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = run(args.sampler, args.chains, args.warmup, args.samples)
    if args.json:
        print(json.dumps(out))
        return
    print(f"{out['sampler']}: {out['chains']} chains × ({out['warmup']} + {out['samples']})")
    for k in out["ess_bulk"]:
        print(
            f"  {k:8s} mean {out['mean'][k]:.3f} (truth {out['truth'][k]})  "
            f"R-hat {out['rhat'][k]:.3f}  ESS {out['ess_bulk'][k]:.0f}"
        )
    print(
        f"  {out['mean_steps_per_draw']:.1f} gradients per draw, "
        f"{out['grad_per_ess']:.0f} per effective draw; {out['divergences']} divergences; "
        f"sampling {out['sampling_s']:.0f} s"
    )


if __name__ == "__main__":
    main()
