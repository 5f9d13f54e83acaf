"""Each SN's likelihood with its own parameters integrated out (``sd.sn_marginal_likelihoods``)
and the integrated leave-one-SN-out comparison built on it. Against brute-force refits
without each SN: benchmarks/loo_refits.py (benchmarks/README.md, "Leave-one-SN-out")."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import SMALL

import sndust as sd
from sndust import _marginal as marginal

H = {k: jnp.asarray(v) for k, v in SMALL.items()}


class FreeTmax(sd.SinglePopulation):
    free_tmax = True


@pytest.fixture(scope="module")
def survey(sed):
    return sd.simulate_survey(jax.random.key(31), sed, sd.SinglePopulation(), n_sn=8)[0]


@pytest.fixture(scope="module")
def split_model(sed, survey):
    return sd.HierarchicalModel(sed=sed, survey=survey, population=sd.MassSplit())


def _prior_values(model, h, n, key):
    """``n`` draws of every SN's values from the population at ``h`` (the model's own
    prior sampler), each a dict of ``(n, n_sn, ...)`` arrays."""
    fixed = {k: jnp.asarray(v) for k, v in h.items()}
    flats = jax.vmap(lambda k: model._sample_prior(k, fixed))(jax.random.split(key, n))
    values = jax.vmap(model._constrain)(flats)
    return {k: values[k] for k in ("theta", "e", "D", "A_V", "R_V", "t_max") if k in values}


def test_the_light_curves_are_exact_at_any_magnitude_offset(split_model):
    """The three per-SN sums that stand in for the light curves under a magnitude
    offset give the direct Gaussian flux log-likelihood at any δM (to 1e-9 relative)."""
    model = split_model
    h = {f"{k}_{b}M": v for k, v in SMALL.items() for b in "HL"}
    h = {k: jnp.asarray(h.get(k, 0.05)) for k in model.hyper_names}  # M_step_HM/LM: 0.05
    values = _prior_values(model, h, 3, jax.random.key(2))
    L, R, S = marginal._light_curve_moments(model, values, h, 2)
    priors = model.population.dust_priors(h, model.host)
    for k in range(3):
        v = {name: a[k] for name, a in values.items()}
        for dm in (0.0, 0.07, -0.3):
            direct = model._log_likelihood_per_sn(v, priors.__class__(
                A_V=priors.A_V, R_V=priors.R_V, delta_M=dm, delta_W0=priors.delta_W0
            ))  # fmt: skip
            a1 = np.expm1(-0.4 * np.log(10.0) * dm)
            np.testing.assert_allclose(L[k] + a1 * R[k] - 0.5 * a1**2 * S[k], direct, rtol=1e-9)


@pytest.mark.parametrize("population", ["SinglePopulation", "FreeTmax"])
def test_the_importance_sampler_integrates_the_population_prior_to_one(sed, survey, population):
    """With the light curves left out the integral is ∫ p(x | h) dx = 1: the proposal's
    coordinates, their Jacobians (log A_V, the truncated normal's R_V, the apparent
    distance, t_max's logistic map) and the Student-t density are all exact."""
    pop = FreeTmax() if population == "FreeTmax" else sd.SinglePopulation()
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=pop)
    values = _prior_values(model, H, 2000, jax.random.key(3))
    coords = marginal._Coordinates(model, H)
    mean, chol = marginal._moments(np.asarray(jax.jit(coords.to_z)(values), np.float64))

    @jax.jit
    def log_weights(mean, chol):
        z, log_q = marginal._student_t(jax.random.key(4), mean, chol, 4000)
        x, log_jac = jax.vmap(coords.from_z)(z)
        return marginal._priors(model, x, H) + log_jac - log_q

    log_w = np.asarray(log_weights(jnp.asarray(mean), jnp.asarray(chol)))
    estimate = np.logaddexp.reduce(log_w, axis=0) - np.log(len(log_w))
    _, _, mc_se = marginal._diagnostics(log_w)
    assert np.all(np.abs(estimate) < 4 * mc_se + 1e-3), (estimate, mc_se)
    assert np.all(mc_se < 0.1)  # a proposal from prior draws fits the prior well


def test_the_integrated_likelihood_agrees_with_importance_sampling_in_the_samplers_coordinates(
    sed, survey
):
    """``log p(data_i | h)`` at a fixed ``h`` two independent ways: this module's
    (Student-t proposals in its own coordinates, Jacobians its own) and plain importance
    sampling of the model's per-SN log density in the sampler's coordinates (the
    model's own transforms and Jacobians) from each SN's Laplace approximation. They
    agree within their Monte Carlo errors."""
    from sndust._inference import MAP
    from sndust._inference._bfgs import inverse_hessian_blocks

    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    x0 = model.unconstrain(dict(SMALL))
    mode = MAP(optimizer="per_sn", steps=200).run(model, jax.random.key(0), x0).position
    index = jnp.asarray(model.layout.per_sn_index())
    cov = 1.2**2 * inverse_hessian_blocks(model, mode, index, mode[index])
    chol = jnp.linalg.cholesky(0.5 * (cov + jnp.swapaxes(cov, 1, 2)))
    n = 4000
    r = jax.random.normal(jax.random.key(1), (n, *mode[index].shape))
    u = mode[index] + jnp.einsum("nij,knj->kni", chol, r)
    flats = jax.vmap(lambda ui: mode.at[index].set(ui))(u)
    log_q = -0.5 * jnp.sum(r**2, -1) - jnp.sum(
        jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1
    ) - 0.5 * u.shape[-1] * np.log(2 * np.pi)  # fmt: skip
    log_w = np.asarray(jax.lax.map(model.logdensity_per_sn, flats, batch_size=100) - log_q)
    laplace = np.logaddexp.reduce(log_w, axis=0) - np.log(n)
    _, _, laplace_se = marginal._diagnostics(log_w)

    # a "run" at this h: Laplace draws, the hyperparameters fixed
    post = sd.Posterior.from_draws(
        model, np.asarray(flats[:600])[None], method="Laplace at h", key=jax.random.key(2)
    )
    ours = sd.sn_marginal_likelihoods(model, post, jax.random.key(3), draws=4000)
    assert ours.log_lik.shape == (1, 600, 8)
    assert np.ptp(ours.log_lik, axis=1).max() < 1e-9  # one h: the same at every draw
    tol = 4 * np.hypot(ours.mc_se, laplace_se) + 0.02
    assert np.all(np.abs(ours.log_lik[0, 0] - laplace) < tol), (ours.log_lik[0, 0] - laplace, tol)
    assert np.all(ours.k_hat < 0.7)


def test_a_model_not_of_the_run_is_refused(sed, survey):
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    x = model.init_position(jax.random.key(0), radius=0.5)
    post = sd.Posterior.from_draws(
        model, np.asarray(x)[None, None], method="t", key=jax.random.key(0)
    )
    fewer = sd.HierarchicalModel(
        sed=sed, survey=survey.cut(exclude=[survey.snid[0]]), population=sd.SinglePopulation()
    )
    with pytest.raises(sd.ConfigError, match=survey.snid[0]):
        sd.sn_marginal_likelihoods(fewer, post, jax.random.key(0))
    other = sd.simulate_survey(jax.random.key(32), sed, sd.SinglePopulation(), n_sn=8)[0]
    renamed = sd.HierarchicalModel(sed=sed, survey=other, population=sd.SinglePopulation())
    assert renamed.snid == model.snid  # the same names, other photometry
    with pytest.raises(sd.ConfigError, match="photometry is not this model's"):
        sd.sn_marginal_likelihoods(renamed, post, jax.random.key(0))
    ccm = sd.HierarchicalModel(
        sed=sed, survey=survey, population=sd.SinglePopulation(), dust=sd.CCM89()
    )
    with pytest.raises(sd.ConfigError, match="another SED model, dust law or data"):
        sd.sn_marginal_likelihoods(ccm, post, jax.random.key(0))
    split = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.MassSplit())
    with pytest.raises(sd.ConfigError, match="no draws of mu_R_HM"):
        sd.sn_marginal_likelihoods(split, post, jax.random.key(0))


def test_a_magnitude_step_costs_no_light_curves_per_draw_and_gives_the_same(
    split_model, monkeypatch
):
    """MassSplit's step reaches the light curves only as a magnitude offset, so they are
    evaluated once per proposal draw (:func:`_light_curve_moments`); evaluating them at
    every hyperparameter draw instead (the path of ΔW0) gives the same numbers."""
    model = split_model
    x = model.init_position(jax.random.key(5), radius=0.5)
    draws = x + 0.05 * jax.random.normal(jax.random.key(6), (2, 40, model.dim))
    post = sd.Posterior.from_draws(model, np.asarray(draws), method="t", key=jax.random.key(0))
    fast = sd.sn_marginal_likelihoods(model, post, jax.random.key(1), draws=64, hyper_draws=6)
    assert not fast.light_curves_per_draw and fast.log_lik.shape == (2, 3, 8)
    monkeypatch.setattr(marginal, "_likelihood_depends_on_hyper", lambda model: "other")
    slow = sd.sn_marginal_likelihoods(model, post, jax.random.key(1), draws=64, hyper_draws=6)
    assert slow.light_curves_per_draw
    np.testing.assert_allclose(fast.log_lik, slow.log_lik, rtol=1e-9)
    np.testing.assert_allclose(fast.k_hat, slow.k_hat, rtol=1e-6)
