"""Digests of simulated surveys and of every sampler's draws, to compare two commits.

A restructuring that must not change results (same keys, same arithmetic) is checked by
running this script on both commits, on the same machine, and comparing the digests:

    git worktree add /tmp/before <commit>
    (cd /tmp/before && python ../path/to/benchmarks/draws_digest.py --json) > before.json
    python benchmarks/draws_digest.py --json > after.json

Cases: the 4-SN test problem (tests/helpers.py's ``small_model``) for every sampler with
the tests' short settings, from ``init="map"`` (the default) and from ``init="prior"``,
preconditioned by the Laplace metric (the default) and whitened (``precondition=True``),
and NUTS with its per-SN block metric; and the 30-SN recovery survey (tests/helpers.py's
``recovery_model``) for every sampler, shortened (its full runs take minutes). Each
digest is the SHA-256 of the draws' bytes (every posterior variable and ``lp``), so one
differing bit changes it. Bit for bit equality holds on one machine and one set of
library versions, not across them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import sndust as sd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HYPER = dict(mu_R=2.7, sigma_R=0.5, tau_A=0.3, sigma0=0.1)


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _survey_digest(survey, truth) -> str:
    return _digest(survey.fluxcal, survey.fluxcal_err, *(truth[k] for k in sorted(truth)))


def _posterior_digest(post) -> str:
    names = sorted(post.posterior.data_vars)
    return _digest(*(post.posterior[n].values for n in names), post.sample_stats["lp"].values)


def _samplers(short: bool):
    if short:
        return {
            "NUTS": sd.NUTS(num_warmup=60, num_samples=40, max_tree_depth=6),
            "MCLMC": sd.MCLMC(num_warmup=200, num_samples=100),
            "AdjustedMCLMC": sd.AdjustedMCLMC(num_warmup=150, num_samples=60),
        }
    return {
        "NUTS": sd.NUTS(num_warmup=100, num_samples=50),
        "MCLMC": sd.MCLMC(num_warmup=300, num_samples=100),
        "AdjustedMCLMC": sd.AdjustedMCLMC(num_warmup=200, num_samples=60),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line")
    parser.add_argument("--skip-recovery", action="store_true", help="the 4-SN cases only")
    args = parser.parse_args(argv)
    sed = sd.BayeSNModel.load("T21")
    out = {}
    t0 = time.perf_counter()

    survey, truth = sd.simulate_survey(
        jax.random.key(5), sed, sd.SinglePopulation(), n_sn=4, hyper=HYPER
    )
    out["simulate_4sn"] = _survey_digest(survey, truth)
    small = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    # a survey drawn with every hyperparameter from the prior, and a mass-split one
    s2, t2 = sd.simulate_survey(jax.random.key(11), sed, sd.MassSplit(), n_sn=6)
    out["simulate_mass_split_prior"] = _survey_digest(s2, t2)
    s3, t3 = sd.simulate_survey(
        jax.random.key(12), sed, sd.FixedPopulation(), n_sn=3, design="foundation"
    )
    out["simulate_fixed_foundation"] = _survey_digest(s3, t3)

    for name, sampler in _samplers(True).items():
        for init, precondition in (("map", "metric"), ("prior", "metric"), ("map", True)):
            post = sampler.run(
                small,
                jax.random.key(7),
                chains=2,
                init=init,
                precondition=precondition,
                batch=25,
                progress=False,
            )
            out[f"small_{name}_{init}_{precondition}"] = _posterior_digest(post)

    block = sd.NUTS(num_warmup=60, num_samples=40, max_tree_depth=6, mass="block")
    post = block.run(small, jax.random.key(7), chains=2, batch=25, progress=False)
    out["small_NUTS_block_metric"] = _posterior_digest(post)

    if not args.skip_recovery:
        survey, _ = sd.simulate_survey(
            jax.random.key(30), sed, sd.SinglePopulation(), n_sn=30, hyper=HYPER
        )
        out["simulate_recovery"] = _survey_digest(survey, {})
        model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
        for name, sampler in _samplers(False).items():
            post = sampler.run(model, jax.random.key(0), chains=2, progress=False)
            out[f"recovery_{name}"] = _posterior_digest(post)

    for k, v in out.items():
        print(f"{k:42s} {v}")
    print(f"wall {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.json:
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
