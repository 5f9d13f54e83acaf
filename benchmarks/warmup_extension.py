"""Does extending the warm-up of chains that disagree at its end help them?

``run(extend_warmup=N)`` extends a warm-up whose chains disagree at its end (split R-hat
of their log densities or hyperparameters over the second half of the last warm-up
stretch above 1.1) by half its length, up to N times. This runs the same survey with
``--seeds`` sampler keys, each with ``extend_warmup=0`` and ``=2``, and records per run
the extensions taken, the end-of-warm-up R-hat, the sampled chains' largest R-hat and
smallest bulk ESS over the hyperparameters, and the warm-up's wall time.

    python benchmarks/warmup_extension.py [--n-sn 4] [--seeds 12] [--warmup 200]
                                          [--samples 150] [--depth 6] [--json]

The survey is the tests' small one (``tests/helpers.small_model``, SinglePopulation,
μ_R 2.7, σ_R 0.5, τ_A 0.3, σ0 0.1); NUTS from the default start, 2 chains. With
``--json`` the last line is a JSON object: ``runs`` (one entry per run) and, over the
runs that extended, the mean change in largest R-hat and smallest ESS.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sn", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--samples", type=int, default=150)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import arviz as az
    import jax

    jax.config.update("jax_enable_x64", True)
    from helpers import small_model

    import sndust as sd

    model, _ = small_model(args.n_sn)
    names = list(model.hyper_names)
    sampler = sd.NUTS(args.warmup, args.samples, max_tree_depth=args.depth)
    runs = []
    for seed in range(args.seeds):
        for extend in (0, 2):
            post = sampler.run(
                model, jax.random.key(100 + seed), chains=2, progress=False, extend_warmup=extend
            )
            rhat = az.rhat(post.idata, var_names=names)
            ess = az.ess(post.idata, var_names=names)
            attrs = post.posterior.attrs
            run = {
                "seed": seed,
                "extend_warmup": extend,
                "extensions": int(attrs["warmup_extensions"]),
                "warmup_rhat": round(float(attrs["warmup_rhat"]), 3),
                "max_rhat": round(max(float(rhat[n]) for n in names), 3),
                "min_ess": round(min(float(ess[n]) for n in names), 1),
                "warmup_s": round(float(attrs["warmup_seconds"]), 2),
            }
            runs.append(run)
            print(json.dumps(run), flush=True)
    pairs = [(a, b) for a, b in zip(runs[::2], runs[1::2]) if b["extensions"]]
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.system()}",
        "jax": jax.__version__,
        "settings": vars(args),
        "runs": runs,
        "n_extended": len(pairs),
        "mean_max_rhat_change": float(np.mean([b["max_rhat"] - a["max_rhat"] for a, b in pairs]))
        if pairs
        else None,
        "mean_min_ess_change": float(np.mean([b["min_ess"] - a["min_ess"] for a, b in pairs]))
        if pairs
        else None,
    }
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
