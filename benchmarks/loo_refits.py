"""Leave-one-SN-out by brute force against the two PSIS-LOO estimates of ``sd.compare``.

Simulates a small ``SinglePopulation`` survey, samples it, then samples it again once
per SN with that SN left out. The exact leave-one-out predictive of SN ``i`` is

    elpd_i = log mean_s p(data_i | h_s),   h_s drawn from the run without SN i,

with ``p(data_i | h)`` (SN i's own parameters integrated out) from
``sd.sn_marginal_likelihoods`` using the same proposal draws as the estimate, so that
the comparison isolates the leave-out approximation. Against it: the integrated PSIS-LOO
(``sd.compare(..., models=...)``, the default of ``sndust compare``) and the pointwise
PSIS-LOO of the per-SN flux log-likelihood stored with the run.

    python benchmarks/loo_refits.py [--n-sn 10] [--warmup 300] [--samples 300]
        [--chains 2] [--seed 7] [--json]

Prints a per-SN table (brute force, each estimate, their k̂) and the totals.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sn", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--draws", type=int, default=2048, help="proposal draws per SN")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import os

    os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count={args.chains}")
    import arviz as az
    import jax

    jax.config.update("jax_enable_x64", True)
    import sndust as sd

    sed = sd.BayeSNModel.load("T21")
    hyper = dict(mu_R=2.7, sigma_R=0.5, tau_A=0.3, sigma0=0.1)
    population = sd.SinglePopulation()
    survey, _ = sd.simulate_survey(
        jax.random.key(args.seed), sed, population, n_sn=args.n_sn, hyper=hyper
    )
    sampler = sd.AdjustedMCLMC(num_warmup=args.warmup, num_samples=args.samples)

    def sample(s):
        model = sd.HierarchicalModel(sed=sed, survey=s, population=population)
        t0 = time.perf_counter()
        post = sampler.run(model, jax.random.key(1), chains=args.chains, progress=False)
        return model, post, time.perf_counter() - t0

    model, full, seconds = sample(survey)
    print(f"full run: {seconds:.0f} s")
    key = jax.random.key(11)
    marg = sd.sn_marginal_likelihoods(model, full, key, draws=args.draws)
    integrated = sd.compare([full, full], names=["a", "b"], models=[model, model], key=key)
    pointwise = az.loo(full.idata, pointwise=True, var_name="flux")
    rows = []
    for i, snid in enumerate(model.snid):
        _, loo_post, sec = sample(survey.cut(exclude=[snid]))
        at = {n: np.asarray(loo_post.posterior[n].values) for n in model.hyper_names}
        exact = sd.sn_marginal_likelihoods(model, full, key, draws=args.draws, at=at).log_lik
        brute = float(np.logaddexp.reduce(exact[..., i].ravel()) - np.log(exact[..., i].size))
        row = {
            "sn": snid,
            "brute": brute,
            "integrated": float(integrated.elpd_sn[0, i]),
            "integrated_k": float(integrated.k_hat[0, i]),
            "pointwise": float(pointwise.elpd_i.values[i]),
            "pointwise_k": float(pointwise.pareto_k.values[i]),
            "is_mc_se": float(marg.mc_se[i]),
            "refit_seconds": sec,
        }
        rows.append(row)
        print(
            f"{snid:>10s}  brute {brute:9.3f}  integrated {row['integrated']:9.3f} "
            f"(k̂ {row['integrated_k']:.2f})  pointwise {row['pointwise']:9.3f} "
            f"(k̂ {row['pointwise_k']:.2f})  [{sec:.0f} s]",
            flush=True,
        )
    b = np.array([r["brute"] for r in rows])
    out = {
        "date": datetime.date.today().isoformat(),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "jax": jax.__version__,
        "settings": vars(args),
        "rows": rows,
    }
    for what in ("integrated", "pointwise"):
        e = np.array([r[what] for r in rows])
        k = np.array([r[what + "_k"] for r in rows])
        out[what] = {
            "total_minus_brute": float(e.sum() - b.sum()),
            "max_abs_per_sn": float(np.abs(e - b).max()),
            "rms_per_sn": float(np.sqrt(np.mean((e - b) ** 2))),
            "k_hat_over_0.7": int((k > 0.7).sum()),
        }
        print(
            f"{what:>10s}: Σ elpd − brute {out[what]['total_minus_brute']:+.3f}, per SN rms "
            f"{out[what]['rms_per_sn']:.3f}, max {out[what]['max_abs_per_sn']:.3f}; "
            f"k̂ > 0.7 for {out[what]['k_hat_over_0.7']} of {len(rows)}"
        )
    print(f"brute force Σ elpd {b.sum():.3f}")
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
