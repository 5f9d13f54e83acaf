"""Informed coordinates (``sndust/_model/_reparam.py``): each SN's normal or
truncated-normal dust parameter sampled in the quantiles of the population prior times
a fixed Gaussian summary of the SN's own light curves. An exact change of variables
(checked here against finite differences of the map), measured by the per-SN start from
the broad fits, carried through checkpoints; its effect on mixing is measured in
benchmarks/informed.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest

import sndust as sd
from sndust._sampling._population_start import population_start

HYPER = dict(mu_R=2.7, sigma_R=0.5, tau_A=0.3, sigma0=0.1)
NAMES = ("theta", "A_V", "R_V", "e", "D")


class NormalRV(sd.DustPopulation):
    """R_V normal, not truncated: the other prior type with informed coordinates."""

    def hyperpriors(self):
        return {
            "mu_R": dist.Uniform(1.2, 6.0),
            "sigma_R": dist.HalfNormal(2.0),
            "tau_A": dist.HalfCauchy(1.0),
        }

    def dust_priors(self, h, host):
        return sd.DustPriors(
            A_V=dist.Exponential(1.0 / h["tau_A"]), R_V=dist.Normal(h["mu_R"], h["sigma_R"])
        )


@pytest.fixture(scope="module")
def survey(sed):
    return sd.simulate_survey(jax.random.key(3), sed, sd.SinglePopulation(), n_sn=4, hyper=HYPER)


ANCHORS = {"R_V": (np.array([2.0, 3.0, 4.0, 2.5]), np.array([0.0, 4.0, 25.0, 1.0]))}


def _point(model, key):
    """A point with the R_V coordinates inside the bulk of their distribution."""
    x = model.sample_prior(key)
    rv = model.layout.positions()["R_V"]
    return x.at[rv].set(jnp.array([-1.3, 0.4, 1.5, -0.2], x.dtype)), rv


@pytest.mark.parametrize(
    "population", [sd.SinglePopulation(), NormalRV()], ids=lambda p: type(p).__name__
)
def test_informed_coordinates_are_an_exact_change_of_variables(sed, survey, population):
    """The same values, in the model's own and in informed coordinates: the log
    densities differ by exactly log |det ∂x/∂x'| of the coordinate change (central
    differences of the map, R_V slot by slot; every other coordinate is unchanged),
    so the posterior of the values is the same; and the map inverts."""
    plain = sd.HierarchicalModel(sed=sed, survey=survey[0], population=population)
    informed = plain.with_anchors(ANCHORS)
    x, rv = _point(informed, jax.random.key(1))
    values = informed.constrain(x)
    given = {k: values[k] for k in (*plain.hyper_names, *NAMES)}

    def to_plain(xi):
        v = informed.constrain(xi)
        return np.asarray(plain.unconstrain({k: v[k] for k in given}))

    x_plain = jnp.asarray(to_plain(x))
    np.testing.assert_allclose(plain.constrain(x_plain)["R_V"], values["R_V"], rtol=1e-12)
    log_det, h = 0.0, 1e-5
    for i in rv:
        step = np.zeros(plain.dim)
        step[i] = h
        column = (to_plain(x + jnp.asarray(step)) - to_plain(x - jnp.asarray(step))) / (2 * h)
        np.testing.assert_allclose(np.delete(column, i), 0.0, atol=1e-7)
        log_det += np.log(abs(column[i]))
        assert abs(column[i] - 1.0) > 1e-3 or ANCHORS["R_V"][1][list(rv).index(i)] == 0
    difference = float(informed.logdensity(x) - plain.logdensity(x_plain))
    assert difference == pytest.approx(log_det, abs=1e-6)
    # what a run adds to its lp statistic to report the model's density
    assert float(informed.anchor_log_jacobian(x)) == pytest.approx(-log_det, abs=1e-6)
    assert float(plain.anchor_log_jacobian(x_plain)) == 0.0
    np.testing.assert_allclose(informed.unconstrain(given), x, atol=1e-12)


def test_an_sn_without_information_keeps_the_prior_coordinate(sed, survey):
    """prec = 0 is the prior's own coordinate: same values, same log density."""
    plain = sd.HierarchicalModel(sed=sed, survey=survey[0], population=sd.SinglePopulation())
    zero = plain.with_anchors({"R_V": (np.full(4, 9.0), np.zeros(4))})
    x, _ = _point(plain, jax.random.key(2))
    np.testing.assert_allclose(zero.constrain(x)["R_V"], plain.constrain(x)["R_V"], rtol=1e-13)
    assert float(zero.logdensity(x)) == pytest.approx(float(plain.logdensity(x)), abs=1e-9)


@pytest.mark.parametrize(
    "anchors, match",
    [
        ({"A_V": (np.ones(4), np.ones(4))}, "'A_V' is not a per-SN dust parameter"),
        ({"R_V": (np.ones(3), np.ones(3))}, r"shape \(4,\)"),
        ({"R_V": (np.ones(4), -np.ones(4))}, "prec finite and ≥ 0"),
    ],
)
def test_bad_anchors_are_refused_naming_what_is_wrong(sed, survey, anchors, match):
    plain = sd.HierarchicalModel(sed=sed, survey=survey[0], population=sd.SinglePopulation())
    with pytest.raises(sd.ConfigError, match=match):
        plain.with_anchors(anchors)


def test_the_per_sn_start_measures_more_information_where_the_dust_is_thicker(sed):
    """The anchors come from the broad per-SN fits: an SN's light curves say more about
    its R_V the more dust it has (the colour excess is A_V/R_V-shaped). On a survey
    whose SNe have A_V from 0.02 to 1.2 mag, the precision rises with the true A_V
    (rank correlation), is 0 or small for the least reddened, and the anchors' centres
    of the thickly reddened SNe lie near their true R_V (within 3 summary sd)."""
    survey, truth = sd.simulate_survey(
        jax.random.key(7), sed, sd.SinglePopulation(), n_sn=12, hyper=HYPER | {"tau_A": 0.5}
    )
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    start = population_start(model, jax.random.key(0), chains=2, map_starts=2, informed=True)
    loc, prec = start.anchors["R_V"]
    A_V, R_V = np.asarray(truth["A_V"]), np.asarray(truth["R_V"])
    rank = lambda a: np.argsort(np.argsort(a))  # noqa: E731
    assert np.corrcoef(rank(A_V), rank(prec))[0, 1] > 0.6, (A_V, prec)
    thin = A_V < np.quantile(A_V, 0.25)
    assert np.all(prec[thin] < 1.0 / 0.5**2), prec[thin]
    thick = A_V > 0.5
    assert thick.sum() >= 2, A_V
    assert np.all(np.abs(loc[thick] - R_V[thick]) < 3 / np.sqrt(prec[thick])), (loc, R_V, prec)
    # the starts are in the informed coordinates: the model the sampler runs gives the
    # start's hyperparameters and finite densities there
    informed = model.with_anchors(start.anchors)
    for x in start.chains:
        assert np.isfinite(float(informed.logdensity(x)))
