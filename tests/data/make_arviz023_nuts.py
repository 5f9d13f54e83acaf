"""Writes arviz023_nuts.nc, the fixture of tests/test_arviz.py: a posterior file as sndust
wrote it before the move to ArviZ 1.x (``Posterior.to_netcdf`` through ArviZ 0.23's
``InferenceData.to_netcdf``). Made on 2026-12-07 with arviz 0.23.4, xarray 2026.9.0,
h5netcdf 1.8.3, jax 0.10.2, Python 3.11.7 and sndust at commit 33daf75 (the last on
ArviZ 0.x), in float64:

    PYTHONPATH=<checkout of 33daf75>/src python tests/data/make_arviz023_nuts.py OUT.nc

A 3-SN simulated survey (SinglePopulation, T21), NUTS 2 chains × 10 draws after 30
warm-up steps, tree depth ≤ 4 (182 KB). Not converged, on purpose small; the tests check
that its groups, attributes and values load unchanged."""

import sys

import jax

jax.config.update("jax_enable_x64", True)

import sndust as sd  # noqa: E402

sed = sd.BayeSNModel.load("T21")
hyper = dict(mu_R=2.7, sigma_R=0.5, tau_A=0.3, sigma0=0.1)
survey, _ = sd.simulate_survey(jax.random.key(5), sed, sd.SinglePopulation(), n_sn=3, hyper=hyper)
model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
sampler = sd.NUTS(num_warmup=30, num_samples=10, max_tree_depth=4)
post = sampler.run(model, jax.random.key(7), chains=2, progress=False)
post.to_netcdf(sys.argv[1])
