"""Samplers: recovery of simulated truths, devices, checkpoints, posterior files."""

from __future__ import annotations

import dataclasses
import io
import warnings

import arviz as az
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from conftest import count_compiles
from helpers import TINY

import sndust as sd
from sndust._sampling import _driver
from sndust._sampling._adaptation import (
    BlockWelford,
    dual_averaging,
    dual_averaging_start,
    robbins_monro_log_step,
)
from sndust._sampling._metric import block_metric
from sndust._sampling._precondition import whiten


@pytest.fixture(scope="module")
def tiny_runs(small):
    model, _ = small
    return {
        name: s.run(model, jax.random.key(2), chains=2, progress=False) for name, s in TINY.items()
    }


# ---------------------------------------------------------------------------- interface
@pytest.mark.parametrize("name", list(TINY))
def test_every_sampler_runs_without_warmup(small, name):
    """``num_warmup=0`` samples from the starting step size and metric (MCLMC: BlackJAX's
    starting L and step size) and records what it used."""
    model, _ = small
    sampler = dataclasses.replace(TINY[name], num_warmup=0, num_samples=5)
    post = sampler.run(model, jax.random.key(3), chains=2, progress=False)
    assert post.posterior.sizes["draw"] == 5
    assert np.all(np.isfinite(post.sample_stats["lp"].values))
    assert np.all(post.sample_stats["tuned_step_size"].values > 0)


@pytest.mark.parametrize("name", list(TINY))
def test_every_sampler_returns_named_inference_data(tiny_runs, small, name):
    model, _ = small
    post = tiny_runs[name]
    n = TINY[name].num_samples
    assert post.posterior.sizes["chain"] == 2 and post.posterior.sizes["draw"] == n
    assert post.posterior["A_V"].dims == ("chain", "draw", "sn")
    assert list(post.posterior["sn"].values) == list(model.snid)
    assert post.posterior["e"].dims == ("chain", "draw", "sn", "e_dim")
    for stat in ("lp", "diverging", "n_steps", "step_size"):
        assert stat in post.sample_stats, stat
    assert post.log_likelihood["flux"].dims == ("chain", "draw", "sn")
    assert post.observed_data["fluxcal"].size == int(np.asarray(model.prepared.mask).sum())
    assert set(post.hyper_names) == {"mu_R", "sigma_R", "tau_A", "sigma0"}
    assert np.all(post.posterior["A_V"].values > 0)
    assert np.all(post.posterior["R_V"].values > 1.2)
    table = post.summary()
    assert {"ess_bulk", "ess_tail", "r_hat", "mcse_mean"} <= set(table.columns)
    assert table.attrs["divergences"] == post.divergences


def test_adjusted_mclmc_trajectories_have_the_requested_mean_length(tiny_runs):
    """L / step size is ``integration_steps`` (BlackJAX's tuner default, 2, is MALA-like),
    and the drawn trajectory lengths average to it."""
    post = tiny_runs["AdjustedMCLMC"]
    stats = post.sample_stats
    ratio = stats["L"].values / stats["step_size"].values
    np.testing.assert_allclose(ratio, TINY["AdjustedMCLMC"].integration_steps, rtol=1e-6)
    mean_steps = float(stats["n_steps"].mean())
    assert 0.8 * ratio.mean() < mean_steps < 1.2 * ratio.mean(), mean_steps


class _Gaussian(eqx.Module):
    """A target with known variances (``scale**2``) for the warm-up alone."""

    scale: jax.Array

    def logdensity(self, x):
        return -0.5 * jnp.sum((x / self.scale) ** 2)

    def to_x(self, z):
        return z


class _DiagonalMetric(eqx.Module):
    var: jax.Array

    def diagonal(self):
        return self.var


def test_looped_mclachlan_step_is_blackjaxs(small):
    # sndust's McLachlan step (its two gradient stages as a loop) against BlackJAX's
    # unrolled one: same positions, momenta, gradients and kinetic-energy change over a
    # few steps of the real model, with a non-unit diagonal metric
    from blackjax.mcmc import integrators

    from sndust._sampling._integrators import isokinetic_mclachlan as _isokinetic_mclachlan

    model, _ = small
    x = model.init_position(jax.random.key(5), radius=0.5)
    u = jax.random.normal(jax.random.key(6), x.shape, x.dtype)
    imm = jnp.exp(0.3 * jax.random.normal(jax.random.key(7), x.shape, x.dtype))
    logdensity, grad = jax.value_and_grad(model.logdensity)(x)
    start = integrators.IntegratorState(x, u / jnp.linalg.norm(u), logdensity, grad)

    def run(integrator):
        step = integrator(model.logdensity, imm)

        def body(state, _):
            state, kinetic = step(state, 0.05)
            return state, kinetic

        return jax.jit(lambda s: jax.lax.scan(body, s, None, length=4))(start)

    ours, theirs = run(_isokinetic_mclachlan), run(integrators.isokinetic_mclachlan)
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)
    assert float(jnp.max(jnp.abs(ours[0].position - start.position))) > 1e-3  # it moved


def test_adjusted_mclmc_warmup_pools_every_chains_variances():
    """AdjustedMCLMC's staged warm-up learns a Gaussian's variances (condition number
    10⁴ from a unit start), gives every chain the same pooled metric, and sizes the step
    so that sampling accepts at ``target_accept`` (0.899 for 0.9; dual averaging's
    averaged step, used to the end before 2026-12-07, accepted 0.946 here); it runs
    exactly ``num_warmup`` kernel steps in stages of 10/20/40/30%."""
    scale = jnp.tile(jnp.array([0.03, 0.3, 1.0, 3.0]), 6)
    sampler = sd.AdjustedMCLMC(num_warmup=600, num_samples=200, integration_steps=8.0)
    assert sampler._plan()["steps"].tolist() == [60, 120, 240, 180]
    target, how, chains = _Gaussian(scale), ("sequential", None), 4
    keys = jax.random.split(jax.random.key(5), chains)
    starts = jax.random.normal(jax.random.key(6), (chains, scale.size)) * scale
    unit = _DiagonalMetric(jnp.ones(scale.size))
    start = _driver._init(sampler, target, starts, keys, unit, how)
    stages, _ = _driver._plan(sampler)
    batches = list(_driver._warmup(sampler, target, start, keys, how, 100, stages))
    done = [(n, stats.acceptance_rate.shape[1]) for _, _, stats, n in batches]
    carry = batches[-1][0]
    # batches of at most 100 steps that never cross a stage
    assert done == [
        (60, 60),
        (160, 100),
        (180, 20),
        (280, 100),
        (380, 100),
        (420, 40),
        (520, 100),
        (600, 80),
    ]
    params = _driver._tuned(sampler, carry)
    imm = np.asarray(params["inverse_mass_matrix"])
    np.testing.assert_array_equal(imm, np.broadcast_to(imm[0], imm.shape))
    ratio = imm[0] / np.asarray(scale) ** 2
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    np.testing.assert_allclose(params["L"] / params["step_size"], 8.0, rtol=1e-12)
    control, pooled = _driver._control(sampler, carry, sampler.stages()[-1], reset=False)
    _, (draws, stats) = _driver._advance(
        sampler, target, carry, keys, _driver._int(0), _driver._int(200), control, pooled, 200, how
    )
    accept = float(np.mean(stats.acceptance_rate))
    assert abs(accept - sampler.target_accept) < 0.03, accept  # dual averaging's step: 0.946
    sd_ratio = np.std(np.asarray(draws).reshape(-1, scale.size), axis=0) / np.asarray(scale)
    assert np.all((sd_ratio > 0.8) & (sd_ratio < 1.2)), sd_ratio


def test_robbins_monro_settles_the_step_where_dual_averagings_average_overshoots():
    """On a known acceptance curve (steep above the step 1, as MCMC's is: logistic in the
    log step) with noisy per-step acceptances (Beta with that mean), 350 steps of dual
    averaging from a step 5× too small, then 150 of Robbins–Monro from its result, over
    400 seeds: dual averaging's averaged step accepts well above the target (its
    iterates, not their average, hold the target), Robbins–Monro's last iterate accepts
    at the target."""
    target = 0.9

    def curve(log_step):
        return 1.0 / (1.0 + jnp.exp(4.0 * log_step))

    def noisy(key, log_step):
        a = jnp.clip(curve(log_step), 1e-6, 1 - 1e-6)
        return jax.random.beta(key, 2.0 * a, 2.0 * (1 - a))

    def one(key):
        _, update, final = dual_averaging(target)
        explore, settle = jax.random.split(key)

        def da_step(da, k):
            return update(da, noisy(k, da.log_step_size)), None

        da, _ = jax.lax.scan(
            da_step, dual_averaging_start(0.2, target), jax.random.split(explore, 350)
        )
        averaged = jnp.log(final(da))

        def rm_step(log_step, kt):
            k, t = kt
            return robbins_monro_log_step(log_step, noisy(k, log_step), target, t), None

        keys = (jax.random.split(settle, 150), jnp.arange(150))
        settled, _ = jax.lax.scan(rm_step, averaged, keys)
        return curve(averaged), curve(settled)

    averaged, settled = map(np.asarray, jax.vmap(one)(jax.random.split(jax.random.key(0), 400)))
    assert np.mean(averaged) > target + 0.015, np.mean(averaged)  # measured 0.930
    assert abs(np.mean(settled) - target) < 0.01, np.mean(settled)  # measured 0.901
    low, high = np.percentile(settled, [5, 95])  # measured 0.875, 0.925
    assert target - 0.04 < low and high < target + 0.04, (low, high)


def test_posterior_values_are_the_models_at_each_draw(tiny_runs, small):
    """lp, per-SN log-likelihood and physical values equal the model's at the draws."""
    model, _ = small
    post = tiny_runs["NUTS"]
    hyper = {n: jnp.asarray(post.posterior[n].values[1, 3]) for n in post.hyper_names}
    per_sn = {
        k: jnp.asarray(post.posterior[k].values[1, 3]) for k in ("theta", "A_V", "R_V", "e", "D")
    }
    x = model.unconstrain(hyper | per_sn)
    np.testing.assert_allclose(float(model.logdensity(x)), post.sample_stats["lp"].values[1, 3])
    np.testing.assert_allclose(
        np.asarray(model.log_likelihood_per_sn(x)), post.log_likelihood["flux"].values[1, 3]
    )


def test_whitening_is_an_exact_affine_map_with_unit_laplace_at_the_mode(small):
    model, _ = small
    mode = sd.MAP(steps=3000).run(model, jax.random.key(1))
    assert bool(mode.converged)
    w = whiten(model, mode.position)
    z = jax.random.normal(jax.random.key(2), (model.dim,))
    np.testing.assert_allclose(np.asarray(w.to_z(w.to_x(z))), np.asarray(z), atol=1e-10)
    A = jax.jacfwd(w.to_x)(z)
    H = -jax.hessian(model.logdensity)(mode.position)
    np.testing.assert_allclose(np.asarray(A.T @ H @ A), np.eye(model.dim), atol=1e-6)
    # the sampled density is the model's, shifted by the constant log|det A|
    d1 = w.logdensity(z) - model.logdensity(w.to_x(z))
    z2 = z + 0.3
    d2 = w.logdensity(z2) - model.logdensity(w.to_x(z2))
    assert abs(float(d1)) < 1e-12 and abs(float(d2)) < 1e-12


def _random_block_metric(key, n_sn=3, d=4, n_hyper=2):
    k1, k2 = jax.random.split(key)
    A = jax.random.normal(k1, (n_sn, d, d))
    cov = jnp.einsum("sij,skj->sik", A, A) + 0.5 * jnp.eye(d)
    perm = np.asarray(jax.random.permutation(k2, n_sn * d + n_hyper))
    index, hyper_index = perm[: n_sn * d].reshape(n_sn, d), perm[n_sn * d :]
    metric = block_metric(cov, jnp.array([0.3, 2.0]), jnp.asarray(index), jnp.asarray(hyper_index))
    dense = np.zeros((perm.size, perm.size))
    for s in range(n_sn):
        dense[np.ix_(index[s], index[s])] = cov[s]
    dense[hyper_index, hyper_index] = [0.3, 2.0]
    return metric, dense


def test_block_metric_is_blackjax_dense_metric_with_those_blocks():
    from blackjax.mcmc.metrics import gaussian_euclidean

    metric, dense = _random_block_metric(jax.random.key(0))
    mine, ref = metric.as_blackjax(), gaussian_euclidean(jnp.asarray(dense))
    p, q, r = jax.random.normal(jax.random.key(1), (3, dense.shape[0]))
    np.testing.assert_allclose(mine.kinetic_energy(p), ref.kinetic_energy(p), rtol=1e-12)
    np.testing.assert_allclose(metric.velocity(p), dense @ p, rtol=1e-12)
    np.testing.assert_allclose(metric.diagonal(), np.diag(dense), rtol=1e-12)
    for left, right, total in [(p, q, r), (p, q, p + q), (p, -p, r), (q, r, -q)]:
        assert bool(mine.check_turning(left, right, total)) == bool(
            ref.check_turning(left, right, total)
        )
    # momenta are N(0, Σ⁻¹): Σ^{1/2}-scaled they are the standard normal noise drawn
    key = jax.random.key(2)
    momentum = mine.sample_momentum(key, p)
    xi = jax.random.normal(key, p.shape)
    np.testing.assert_allclose(mine.scale(p, momentum, inv=True, trans=True), xi, atol=1e-12)
    np.testing.assert_allclose(
        mine.scale(p, mine.scale(p, q, inv=True, trans=False), inv=False, trans=True),
        q,
        atol=1e-12,
    )


def test_block_welford_estimates_the_blocks_of_the_sample_covariance():
    metric, dense = _random_block_metric(jax.random.key(3))
    draws = np.random.default_rng(0).multivariate_normal(np.zeros(len(dense)), dense, 400)
    acc = BlockWelford.empty(metric)
    for x in draws:
        acc = acc.update(metric, jnp.asarray(x))
    estimate = acc.metric(metric)
    n = len(draws)
    sample = np.cov(draws.T)
    blocks = np.einsum("sij,skj->sik", estimate.chol, estimate.chol)
    index = np.asarray(metric.index)
    for s in range(index.shape[0]):
        expected = n / (n + 5) * sample[np.ix_(index[s], index[s])] + 5e-3 / (n + 5) * np.eye(4)
        np.testing.assert_allclose(blocks[s], expected, rtol=1e-10)
    hyper = np.asarray(metric.hyper_index)
    np.testing.assert_allclose(
        estimate.hyper_var, n / (n + 5) * np.diag(sample)[hyper] + 5e-3 / (n + 5), rtol=1e-10
    )


def test_per_sn_fit_posterior_has_distances_and_peak_dates(sed, tmp_path):
    survey, truth = sd.simulate_survey(jax.random.key(6), sed, sd.FixedPopulation(), n_sn=3)
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.FixedPopulation())
    post = sd.NUTS(num_warmup=60, num_samples=40, max_tree_depth=6).run(
        model, jax.random.key(0), chains=2, progress=False
    )
    assert {"mu", "delta_M", "peak_mjd"} <= set(post.posterior.data_vars)
    table = post.distance_table()
    assert list(table["CID"]) == list(model.snid)
    assert np.all(np.abs(table["MU"] - truth["D"]) < 5 * table["MUERR"] + 0.05)
    path = tmp_path / "fit.FITRES"
    post.to_fitres(path)
    back = sd.read_fitres(path)
    assert list(back["CID"]) == list(model.snid)
    np.testing.assert_allclose(back["MU"], table["MU"], rtol=1e-9)
    np.testing.assert_allclose(back["PKMJD"], table["PKMJD"], rtol=1e-12)


def test_float32_model_samples_with_nuts_and_mclmc_is_refused(sed):
    """A float32 model runs NUTS end to end in float32 (MAP start, warm-up, draws), with
    jax_enable_x64 on; BlackJAX's MCLMC tuning cannot, and says so."""
    hyper = dict(mu_R=2.7, sigma_R=0.5, tau_A=0.3, sigma0=0.1)
    survey, _ = sd.simulate_survey(
        jax.random.key(4), sed, sd.SinglePopulation(), n_sn=3, hyper=hyper
    )
    model = sd.HierarchicalModel(
        sed=sed, survey=survey, population=sd.SinglePopulation(), dtype=jnp.float32
    )
    post = sd.NUTS(num_warmup=100, num_samples=30, max_tree_depth=6).run(
        model, jax.random.key(0), chains=2, progress=False
    )
    assert post.posterior["A_V"].dtype == np.float32
    assert np.all(np.isfinite(post.sample_stats["lp"].values))
    assert float(post.sample_stats.acceptance_rate.mean()) > 0.3
    with pytest.raises(sd.ConfigError, match="float64 model"):
        sd.MCLMC(num_warmup=10, num_samples=10).run(model, jax.random.key(0), progress=False)


def test_read_fitres_reads_the_foundation_table(foundation_dir):
    table = sd.read_fitres(foundation_dir / "Foundation_DR1.FITRES.TEXT")
    assert len(table) > 100
    assert "HOST_LOGMASS" in table.colnames
    assert table["CID"][0] == "2016afk"
    assert table["zCMB"][0] == pytest.approx(0.04672)


def test_netcdf_round_trip(tiny_runs, tmp_path):
    post = tiny_runs["NUTS"]
    path = tmp_path / "run.nc"
    post.to_netcdf(path)
    back = sd.Posterior.from_netcdf(path)
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data"):
        assert group in back.groups()
        xr.testing.assert_identical(getattr(back, group), getattr(post, group))
    np.testing.assert_array_equal(back.posterior["tau_A"].values, post.posterior["tau_A"].values)
    assert back.hyper_names == post.hyper_names
    assert back.summary().shape == post.summary().shape
    with open(path, "rb") as fh:
        assert b"pickle" not in fh.read(4096)


def test_progress_bar_reports_rate_step_size_and_divergences(small):
    model, _ = small
    stream = io.StringIO()
    from sndust._sampling import _progress

    original = _progress.Progress.__init__

    def to_stream(self, enabled, label, stream_=None, interval=10.0):
        original(self, enabled, label, stream, 0.0)

    _progress.Progress.__init__ = to_stream
    try:
        TINY["NUTS"].run(model, jax.random.key(0), chains=2, init=np.zeros(model.dim))
    finally:
        _progress.Progress.__init__ = original
    text = stream.getvalue()
    assert "warmup" in text and "sampling" in text
    assert "it/s" in text and "step" in text and "divergences" in text
    assert "60/60" in text and "40/40" in text


@pytest.mark.parametrize("name", ["NUTS", "MCLMC"])
def test_each_batch_program_is_compiled_once(small, name):
    """Warm-up batches of 2, 2 and 1 steps and sampling batches of 2, 2 and 1 draws run
    one program, the same for both phases: a short last batch skips its unused
    slots instead of compiling a program of its own, and the carry handed from batch to
    batch keeps its types (a weakly typed leaf from warm-up initialisation used to
    compile the warm-up program twice)."""
    model, _ = small
    sampler = {"NUTS": sd.NUTS(num_warmup=5, num_samples=5), "MCLMC": sd.MCLMC(num_samples=5)}
    with count_compiles("_advance", "_sample_batch") as compiles:
        post = sampler[name].run(model, jax.random.key(0), chains=2, batch=2, progress=False)
    assert post.posterior.sizes["draw"] == 5
    # warm-up and sampling: one program for both (MCLMC's used to be two: its tuner, then
    # a sampling program, _sample_batch, which no longer exists)
    assert compiles == {"_advance": 1, "_sample_batch": 0}


def test_a_sampler_written_outside_the_package_runs_end_to_end(small, tmp_path):
    """Random-walk Metropolis in tests/toy_sampler.py (one class on the sampler
    protocol) runs through ``run``: warm-up adapts its proposal towards 30% acceptance,
    the draws land in a Posterior, and a resumed checkpoint gives the same draws."""
    from toy_sampler import RandomWalkMetropolis

    model, _ = small
    sampler = RandomWalkMetropolis(num_warmup=300, num_samples=200)
    path = tmp_path / "rwm.h5"
    post = sampler.run(
        model, jax.random.key(1), chains=2, checkpoint=path, batch=50, progress=False
    )
    assert post.posterior.sizes["chain"] == 2 and post.posterior.sizes["draw"] == 200
    assert post.posterior.attrs["sampler"] == "RandomWalkMetropolis"
    accept = float(post.sample_stats["acceptance_rate"].mean())
    assert 0.15 < accept < 0.5, accept
    lp = post.sample_stats["lp"].values
    assert np.all(np.isfinite(lp)) and len(np.unique(lp)) > 50  # it moves
    again = sampler.run(model, jax.random.key(1), chains=2, resume=path, progress=False)
    np.testing.assert_array_equal(again.posterior["tau_A"].values, post.posterior["tau_A"].values)


def test_a_sampler_whose_stats_lack_what_the_driver_reads_is_named(small):
    from toy_sampler import RandomWalkMetropolis

    class Broken(RandomWalkMetropolis):
        def step(self, logdensity, carry, key, index, control):
            carry, stats = super().step(logdensity, carry, key, index, control)
            return carry, {"lp": stats.lp}

    model, _ = small
    with pytest.raises(sd.ConfigError, match="Broken.step must return its Stats") as info:
        Broken(num_warmup=0, num_samples=2).run(
            model, jax.random.key(0), chains=1, init=np.zeros(model.dim), progress=False
        )
    assert "missing lp, diverging, n_steps, step_size" in str(info.value)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: sd.NUTS(mass="full"), "mass"),
        (lambda: sd.NUTS(num_samples=0), "num_samples"),
        (lambda: sd.NUTS(target_accept=1.5), "target_accept"),
        (lambda: sd.AdjustedMCLMC(target_accept=0.0), "target_accept"),
        (lambda: sd.AdjustedMCLMC(integration_steps=1.0), "integration_steps"),
        (lambda: sd.MCLMC(thin=0), "thin"),
    ],
)
def test_bad_sampler_settings_name_the_field(make, field):
    with pytest.raises(sd.ConfigError) as err:
        make()
    assert err.value.field == field


@pytest.mark.parametrize(
    "options, field",
    [
        (dict(chains=0), "chains"),
        (dict(batch=0), "batch"),
        (dict(map_starts=0), "map_starts"),
        (dict(init="median"), "init"),
        (dict(init=np.zeros(3)), "init"),
        (dict(devices="gpus"), "devices"),
        (dict(chain_method="parallel"), "chain_method"),
        (dict(resume=True), "resume"),
        (dict(precondition="dense"), "precondition"),
    ],
)
def test_bad_run_options_name_the_field(small, options, field):
    model, _ = small
    with pytest.raises(sd.ConfigError) as err:
        TINY["NUTS"].run(model, jax.random.key(0), progress=False, **options)
    assert err.value.field == field


def test_the_sn_axis_is_declared_field_by_field(small):
    """``devices="sn"`` splits exactly the arrays whose fields declare an SN (or chunk)
    leading axis — the survey's per-chunk and per-SN data, the model's μ̂ and host data —
    and never an SED array whose length merely matches."""
    from sndust._sampling._devices import _sn_axes

    model, _ = small
    arrays, _ = eqx.partition(model, eqx.is_array)
    leaves = jax.tree_util.tree_flatten_with_path(arrays)[0]
    split = {
        jax.tree_util.keystr(path): leaf.shape
        for (path, leaf), s in zip(leaves, _sn_axes(model, model.prepared, 1))
        if s
    }
    n_chunk = model.prepared.chunk_sn.shape[0]
    assert all(shape[0] in (model.n_sn, n_chunk) for shape in split.values()), split
    for name in (".prepared.obs_fluxcal", ".prepared.chunk_sn", ".prepared.z_cmb", ".muhat"):
        assert name in split
    assert any(name.startswith(".host.") for name in split)
    for name in (".prepared.W0", ".prepared.W1", ".prepared.L_sigma", ".prepared.tau_knots"):
        assert name not in split


# ---------------------------------------------------------------------------- convergence
def test_convergence_names_what_misses_rhat_and_ess_against_arviz(small):
    """``Posterior.convergence``: ArviZ's R-hat and ESS of every hyperparameter against
    Vehtari et al.'s thresholds; one chain moved away fails R-hat and is named, well-mixed
    independent chains pass, and Laplace draws (no Markov chain) are not judged."""
    model, _ = small
    rng = np.random.default_rng(0)
    center = np.asarray(model.sample_prior(jax.random.key(2)))
    draws = center + 0.01 * rng.normal(size=(4, 600, model.dim))
    stats = {"diverging": np.zeros((4, 600), bool)}
    kw = dict(method="test", stats=stats, key=jax.random.key(0))
    good = sd.Posterior.from_draws(model, draws, **kw).convergence()
    assert good["converged"] is True and good["failing"] == []
    assert good["verdict"].startswith("converged")
    tau = model.layout.positions()["hyper"]["tau_A"]
    draws[0, :, tau] += 0.05  # five within-chain sds away
    post = sd.Posterior.from_draws(model, draws, **kw)
    check = post.convergence()
    rhat = az.rhat(post.idata, var_names=["tau_A"])["tau_A"].item()
    ess = az.ess(post.idata, var_names=["tau_A"])["tau_A"].item()
    assert check["parameters"]["tau_A"]["rhat"] == pytest.approx(rhat)
    assert check["parameters"]["tau_A"]["ess_bulk"] == pytest.approx(ess)
    assert rhat > 1.01 and check["converged"] is False
    assert [f.split(":")[0] for f in check["failing"]] == ["tau_A"]
    assert "NOT CONVERGED" in check["verdict"] and "tau_A: R-hat" in check["verdict"]
    assert "NOT CONVERGED" in post.report() and "NOT CONVERGED" not in post.report(verdict=False)
    laplace = sd.Posterior.from_draws(model, draws[:1], method="MAP+Laplace", key=kw["key"])
    assert laplace.convergence()["converged"] is None
    # chains that never moved (every proposal rejected): named, and no NumPy warning from
    # arviz-stats' 0/0 (the CLI prints no Python warning: test_arviz.py)
    stuck = np.broadcast_to(center, (2, 10, model.dim))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stats = {"diverging": np.zeros((2, 10), bool)}
        check = sd.Posterior.from_draws(model, stuck, **kw | {"stats": stats}).convergence()
    assert check["converged"] is False
    assert all("every draw the same" in f for f in check["failing"])


def test_warmup_disagreement_is_measured_and_reported(small):
    """The chains' largest R-hat over the second half of warm-up, of the log density and
    of each hyperparameter: near 1 for chains drawn alike, large for one chain sitting
    elsewhere, also where only a hyperparameter shows it (the log density of a survey,
    dominated by the per-SN terms, can hide a chain apart in σ0); recorded by a run and
    added to the verdict when above ``WARMUP_RHAT_MAX``."""
    from sndust._sampling._posterior import WARMUP_RHAT_MAX, warmup_rhat

    rng = np.random.default_rng(1)
    alike = rng.normal(size=(4, 200))
    hyper = rng.normal(size=(4, 200, 3))
    assert warmup_rhat(alike) < 1.02 and warmup_rhat(alike, hyper) < 1.03
    apart = alike.copy()
    apart[1] += 5.0
    assert warmup_rhat(apart) > WARMUP_RHAT_MAX + 0.3
    hyper[1, :, 2] += 5.0
    assert warmup_rhat(alike, hyper) > WARMUP_RHAT_MAX + 0.3
    assert warmup_rhat(alike[:1]) is None and warmup_rhat(alike[:, :10]) is None
    model, _ = small
    sampler = sd.NUTS(num_warmup=40, num_samples=10, max_tree_depth=4)
    post = sampler.run(model, jax.random.key(3), chains=2, progress=False, extend_warmup=0)
    recorded = post.posterior.attrs["warmup_rhat"]
    check = post.convergence()
    assert np.isfinite(recorded) and check["warmup_rhat"] == recorded
    assert check["warmup_extensions"] == post.posterior.attrs["warmup_extensions"] == 0
    post.posterior.attrs["warmup_rhat"] = WARMUP_RHAT_MAX + 1.0
    assert "still disagreed at the end of warm-up" in post.convergence()["verdict"]
    post.posterior.attrs["warmup_extensions"] = 2
    assert "after 2 extensions of warm-up" in post.convergence()["verdict"]
    del post.posterior.attrs["warmup_rhat"]  # a file written before: the log density's
    post.posterior.attrs["warmup_lp_rhat"] = 1.5
    assert post.convergence()["warmup_rhat"] == 1.5


@pytest.mark.parametrize("name", ["NUTS", "AdjustedMCLMC", "MCLMC"])
def test_an_extended_warmup_leaves_a_tuned_sampler(small, monkeypatch, name):
    """Each extension (forced here: every R-hat counts as disagreeing) re-adapts without
    spoiling the tuning: after two, the step size is within a factor of 2 of the same
    run's without extensions, the acceptance is neither low nor near 1, and the chains
    still agree. (Extensions of 20 steps once froze the chains: R-hat 3–4; while
    AdjustedMCLMC's step was dual averaging's average to the end, it accepted 0.98–0.997
    here with or without extensions.) MCLMC, whose warm-up is BlackJAX's tuner in one
    step, is never extended."""
    import sndust._sampling._posterior as posterior

    monkeypatch.setattr(posterior, "WARMUP_RHAT_MAX", 0.0)
    model, _ = small
    sampler = {
        "NUTS": sd.NUTS(num_warmup=200, num_samples=150, max_tree_depth=6),
        "AdjustedMCLMC": sd.AdjustedMCLMC(num_warmup=200, num_samples=150),
        "MCLMC": sd.MCLMC(num_warmup=200, num_samples=50),
    }[name]
    post = sampler.run(model, jax.random.key(4), chains=2, progress=False, extend_warmup=2)
    extended = post.posterior.attrs["warmup_extensions"]
    if name == "MCLMC":
        assert extended == 0
        return
    assert extended == 2
    accept = float(post.sample_stats["acceptance_rate"].mean())
    assert 0.75 < accept < 0.99, accept
    plain = sampler.run(model, jax.random.key(4), chains=2, progress=False, extend_warmup=0)
    assert plain.posterior.attrs["warmup_extensions"] == 0
    steps = [np.exp(np.log(p.sample_stats["step_size"].values[:, 0]).mean()) for p in (post, plain)]
    assert 0.5 < steps[0] / steps[1] < 2.0, steps
    rhat = az.rhat(post.idata, var_names=list(model.hyper_names))
    assert max(float(rhat[n].max()) for n in model.hyper_names) < 1.1
