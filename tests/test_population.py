"""Dust populations: the user extension point, built-ins' structure, and bad input."""

from __future__ import annotations

import dataclasses

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pytest
from scipy import stats

import sndust as sd


# --- the documented custom population (README "Writing a population") ------------------
class MassLinearRV(sd.DustPopulation):
    """Mean R_V moves linearly with host mass."""

    def hyperpriors(self):
        return {
            "mu_R": dist.Uniform(1.2, 6.0),
            "slope": dist.Normal(0.0, 1.0),
            "sigma_R": dist.HalfNormal(2.0),
            "tau_A": dist.HalfCauchy(1.0),
        }

    def dust_priors(self, h, host):
        mu = h["mu_R"] + h["slope"] * (host.log_mass - 10.0)
        return sd.DustPriors(
            A_V=dist.Exponential(1.0 / h["tau_A"]),
            R_V=sd.TruncatedNormal(mu, h["sigma_R"], low=1.2),
        )


# --- the documented per-survey population (README "Several surveys") ---------------------
class SurveyTauA(sd.DustPopulation):
    """Each survey its own τ_A (selection shapes each survey's A_V distribution)."""

    surveys: tuple[str, ...] = ("FOUND", "DES")

    def hyperpriors(self):
        taus = {f"tau_A_{name}": dist.HalfCauchy(1.0) for name in self.surveys}
        return {"mu_R": dist.Uniform(1.2, 6.0), "sigma_R": dist.HalfNormal(2.0)} | taus

    def dust_priors(self, h, host):
        tau_A = host.by_survey({name: h[f"tau_A_{name}"] for name in self.surveys})
        return sd.DustPriors(
            A_V=dist.Exponential(1.0 / tau_A),
            R_V=sd.TruncatedNormal(h["mu_R"], h["sigma_R"], low=1.2),
        )


def test_a_population_sees_each_sns_survey(sed):
    """``host.survey``/``in_survey``/``by_survey`` give each SN of a combined survey its
    survey's value: the per-survey τ_A population's A_V prior density is, SN by SN,
    the exponential of its own survey's τ_A; naming a survey that is not there, or
    leaving one out, is a ConfigError naming the surveys."""
    parts = [
        sd.simulate_survey(jax.random.key(50 + k), sed, sd.SinglePopulation(), n_sn=n,
                           snid_prefix=name)[0]
        for k, (name, n) in enumerate((("F", 3), ("D", 2)))
    ]  # fmt: skip
    survey = sd.Survey.concat(*parts, names=("FOUND", "DES"))
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=SurveyTauA())
    host = model.host
    assert host.surveys == ("FOUND", "DES")
    np.testing.assert_array_equal(host.in_survey("DES"), [False] * 3 + [True] * 2)
    h = {"mu_R": 3.0, "sigma_R": 0.5, "tau_A_FOUND": 0.2, "tau_A_DES": 0.7}
    priors = model.population.dust_priors(h, host)
    A_V = np.array([0.1, 0.3, 0.05, 0.4, 0.9])
    expected = stats.expon(scale=[0.2] * 3 + [0.7] * 2).logpdf(A_V)
    np.testing.assert_allclose(priors.A_V.log_prob(A_V), expected, rtol=1e-12)
    with pytest.raises(sd.ConfigError, match="no survey 'PS1'; the SNe's surveys: 'FOUND', 'DES'"):
        host.in_survey("PS1")
    with pytest.raises(sd.ConfigError, match="no value for the SNe of survey\\(s\\) 'DES'"):
        host.by_survey({"FOUND": 1.0})


@pytest.fixture(scope="module")
def survey(sed):
    return sd.simulate_survey(jax.random.key(31), sed, sd.SinglePopulation(), n_sn=8)[0]


def test_custom_population_runs_through_map_and_nuts(sed):
    truth_h = dict(mu_R=3.0, slope=0.5, sigma_R=0.4, tau_A=0.4, sigma0=0.1)
    survey, truth = sd.simulate_survey(
        jax.random.key(32), sed, MassLinearRV(), n_sn=6, hyper=truth_h
    )
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=MassLinearRV())
    assert model.hyper_names == ("mu_R", "slope", "sigma_R", "tau_A", "sigma0")
    assert model.layout.dust_kinds == (("A_V", "generic"), ("R_V", "icdf"))
    fit = sd.MAP(steps=300).run(model, jax.random.key(0))
    assert np.isfinite(float(fit.log_density))
    warm = blackjax.window_adaptation(blackjax.nuts, model.logdensity, max_num_doublings=5)
    (state, params), _ = warm.run(jax.random.key(1), fit.position, num_steps=100)
    step = jax.jit(blackjax.nuts(model.logdensity, **params).step)
    slopes = []
    for k in range(20):
        state, info = step(jax.random.key(100 + k), state)
        slopes.append(float(model.constrain(state.position)["slope"]))
    assert np.all(np.isfinite(slopes)) and len(set(slopes)) > 10


def test_custom_population_prior_draws_follow_its_definition(sed, survey):
    """Prior draws made through the framework's reparameterisation reproduce the
    population as written: R_V ~ TN(μ_R + slope (M − 10), σ_R) on (1.2, ∞) per SN."""
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=MassLinearRV())
    h = dict(mu_R=2.5, slope=0.8, sigma_R=0.7, tau_A=0.3, sigma0=0.1)
    base = model.unravel(model.unconstrain(h))
    x = jax.random.normal(jax.random.key(0), (20000, model.n_sn))
    u = jax.scipy.special.logit(jax.scipy.stats.norm.cdf(x))  # logistic(u) ~ U(0, 1)
    R_V = jax.vmap(lambda r: model.constrain(model.ravel(base | {"R_V": r}))["R_V"])(u)
    mass = np.asarray(model.host.log_mass)
    for s in range(model.n_sn):
        mu = h["mu_R"] + h["slope"] * (mass[s] - 10.0)
        a = (1.2 - mu) / h["sigma_R"]
        ks = stats.kstest(np.asarray(R_V[:, s]), stats.truncnorm(a, np.inf, mu, h["sigma_R"]).cdf)
        assert ks.pvalue > 1e-3


@pytest.mark.parametrize(
    "population, n_dust",
    [
        (sd.SinglePopulation(), 2),
        (sd.MassSplit(), 2),
        (sd.FixedPopulation(), 1),
        (sd.FixedPopulation(R_V="population", mu_R=2.6, sigma_R=0.5), 2),
    ],
)
def test_each_sn_gets_only_the_parameters_it_uses(sed, survey, population, n_dust):
    """bayesn samples both mass bins' A_V and R_V for every SN; here one of each."""
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=population)
    per_sn = 1 + n_dust + model.prepared.n_eps + 1 + int(population.free_tmax)
    assert model.dim == len(model.hyper_names) + model.n_sn * per_sn - sum(
        int(np.prod(s)) - 1 for _, s in model.layout.hyper
    )


@pytest.mark.parametrize(
    "population",
    [sd.MassSplitSED(), sd.FixedPopulation(), MassLinearRV()],
    ids=lambda p: type(p).__name__,
)
def test_layout_indices_partition_the_flat_vector_by_name(sed, survey, population):
    """``per_sn_index`` holds each SN's parameters in ``layout.sampled`` order and
    ``hyper_index`` the rest, as ``unravel`` places them."""
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=population)
    layout = model.layout
    where = model.unravel(jnp.arange(model.dim, dtype=jnp.float64))
    index, hyper = layout.per_sn_index(), layout.hyper_index()
    assert index.shape == (model.n_sn, layout.per_sn_dim)
    np.testing.assert_array_equal(
        np.sort(np.concatenate([index.ravel(), hyper])), np.arange(model.dim)
    )
    expected = np.concatenate(
        [np.asarray(where[name]).reshape(model.n_sn, -1) for name in layout.sampled], axis=1
    )
    np.testing.assert_array_equal(index, expected)
    in_hyper = [np.ravel(where["hyper"][name]) for name in sorted(where["hyper"])]
    np.testing.assert_array_equal(hyper, np.concatenate(in_hyper or [np.zeros(0)]).astype(int))


def test_sample_prior_keeps_fixed_values_and_draws_the_rest(sed, survey):
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=MassLinearRV())
    draws = [model.sample_prior(jax.random.key(k), fixed={"slope": 0.25}) for k in range(3)]
    values = [model.constrain(x) for x in draws]
    assert all(float(v["slope"]) == pytest.approx(0.25) for v in values)
    assert len({float(v["mu_R"]) for v in values}) == 3  # drawn, one per key
    again = model.sample_prior(jax.random.key(0), fixed={"slope": 0.25})
    np.testing.assert_array_equal(np.asarray(again), np.asarray(draws[0]))
    assert all(np.all(np.asarray(v["R_V"]) > 1.2) for v in values)
    with pytest.raises(sd.ConfigError, match="unknown hyperparameters") as info:
        model.sample_prior(jax.random.key(0), fixed={"slop": 0.25})
    assert info.value.field == "slop"
    with pytest.raises(sd.ConfigError, match="outside its prior's support"):
        model.sample_prior(jax.random.key(0), fixed={"sigma_R": -1.0})


def test_mass_split_uses_each_sns_bin(sed, survey):
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.MassSplit(split=10.0))
    h = {n: 0.0 for n in model.hyper_names} | dict(
        mu_R_HM=2.0,
        mu_R_LM=4.0,
        sigma_R_HM=0.5,
        sigma_R_LM=0.5,
        tau_A_HM=0.2,
        tau_A_LM=0.6,
        sigma0_HM=0.05,
        sigma0_LM=0.15,
        M_step_HM=-0.1,
        M_step_LM=0.1,
    )
    values = model.constrain(model.unconstrain(h))
    high = np.asarray(model.host.log_mass) > 10.0
    assert 0 < high.sum() < model.n_sn
    np.testing.assert_allclose(values["sigma0_sn"], np.where(high, 0.05, 0.15))
    np.testing.assert_allclose(values["delta_M"], np.where(high, -0.1, 0.1))
    # R_V at the median of each SN's prior: its bin's truncated-normal median
    for s in range(model.n_sn):
        mu = 2.0 if high[s] else 4.0
        med = stats.truncnorm((1.2 - mu) / 0.5, np.inf, mu, 0.5).median()
        np.testing.assert_allclose(values["R_V"][s], med, rtol=1e-10)


def test_mass_split_sed_offsets_shift_w0(sed, survey):
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.MassSplitSED())
    assert dict(model.layout.hyper)["delta_W0_HM"] == sed.W0.shape


def test_redshift_linear_truncates_at_1p2_at_every_redshift(sed, survey):
    """Mean R_V(z) just above 1.2 and falling with z; the lowest-quantile R_V stays above
    1.2 (paper), while bayesn's rule truncates at 1.2 + z·g_R < 1.2."""
    h = dict(mu_R=1.25, sigma_R=0.5, mu_R_grad=-0.04, tau_A=0.3, tau_A_grad=0.0, sigma0=0.1)
    low = {}
    for rule in ("paper", "bayesn"):
        model = sd.HierarchicalModel(
            sed=sed, survey=survey, population=sd.RedshiftLinear(truncation=rule)
        )
        base = model.unravel(model.unconstrain(h))
        low[rule] = np.asarray(
            model.constrain(model.ravel(base | {"R_V": jnp.full(model.n_sn, -12.0)}))["R_V"]
        )
    z = np.asarray(model.host.z)
    assert np.all(low["paper"] >= 1.2) and np.all(low["paper"] < 1.2 + 1e-3)
    np.testing.assert_allclose(low["bayesn"], 1.2 - 0.04 * z, atol=1e-3)
    assert np.all(low["bayesn"] < 1.2)


def test_truncated_normal_matches_scipy():
    d = sd.TruncatedNormal(2.5, 0.8, low=1.2)
    ref = stats.truncnorm((1.2 - 2.5) / 0.8, np.inf, 2.5, 0.8)
    x = np.linspace(1.2, 6, 7)
    np.testing.assert_allclose(d.log_prob(x), ref.logpdf(x), rtol=1e-12)
    u = np.linspace(0.01, 0.99, 9)
    np.testing.assert_allclose(d.icdf(u), ref.ppf(u), rtol=1e-10)
    np.testing.assert_allclose(d.cdf(x), ref.cdf(x), atol=1e-14)
    np.testing.assert_allclose(d.mean, ref.mean(), rtol=1e-12)
    # far upper tail (α > 0): computed in the mirrored tail, still accurate
    tail = sd.TruncatedNormal(0.0, 1.0, low=8.0)
    ref = stats.truncnorm(8.0, np.inf)
    np.testing.assert_allclose(tail.icdf(u), ref.ppf(u), rtol=1e-8)
    np.testing.assert_allclose(tail.log_prob(9.0), ref.logpdf(9.0), rtol=1e-8)
    assert float(d.log_prob(1.0)) == -np.inf
    # beyond float64's Φ (α > 36.6): exponential tail limit, finite and close
    for low in (40.0, 120.0):
        far, ref = sd.TruncatedNormal(0.0, 1.0, low=low), stats.truncnorm(low, np.inf)
        np.testing.assert_allclose(far.icdf(u), ref.ppf(u), rtol=1e-5)
        np.testing.assert_allclose(far.cdf(ref.ppf(u)), u, atol=1e-3)
        np.testing.assert_allclose(far.mean, ref.mean(), rtol=1e-6)
    grads = jax.grad(lambda m, s: sd.TruncatedNormal(m, s, low=1.2).log_prob(2.0), (0, 1))
    assert all(np.isfinite(g) for g in grads(2.5, 0.8))


def test_truncated_normal_moments_match_scipy():
    """E[R_V] and √Var[R_V] (Grayling+24 App. C): ``TruncatedNormal.mean`` and
    ``.variance`` equal scipy.stats.truncnorm's to 1e-10, from mostly untruncated to far
    in the tail, one- and two-sided."""
    for mu, sigma, low, high in [
        (2.5, 0.8, 1.2, np.inf), (3.0, 0.1, 1.2, np.inf), (1.3, 0.5, 1.2, np.inf),
        (0.5, 0.3, 1.2, np.inf), (2.0, 2.0, 1.2, 6.0), (0.0, 1.0, -np.inf, 0.5),
        (0.0, 1.0, 8.0, np.inf), (5.0, 0.02, 1.2, np.inf),
    ]:  # fmt: skip
        ref = stats.truncnorm((low - mu) / sigma, (high - mu) / sigma, mu, sigma)
        d = sd.TruncatedNormal(mu, sigma, low=low, high=high)
        np.testing.assert_allclose(d.mean, ref.mean(), rtol=1e-10, err_msg=str((mu, sigma)))
        np.testing.assert_allclose(d.variance, ref.var(), rtol=1e-10, err_msg=str((mu, sigma)))


def test_each_population_declares_its_derived_quantities(sed, survey):
    """Derived quantities (E[R_V], √Var[R_V] per bin, ΔM0, bin differences) are in the
    posterior for every draw, equal to their definitions, shown by ``summary()`` after
    the hyperparameters, and kept out of the convergence check."""
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.MassSplit(split=10.0))
    draws = np.stack([model.init_position(jax.random.key(k)) for k in range(6)])[None]
    post = sd.Posterior.from_draws(model, draws, method="test", key=jax.random.key(0))
    assert post.derived_names == (
        "RV_mean_HM", "RV_sd_HM", "RV_mean_LM", "RV_sd_LM",
        "Delta_mu_R", "Delta_tau_A", "Delta_sigma0", "Delta_M0",
    )  # fmt: skip
    p = {k: post.posterior[k].values[0] for k in post.posterior.data_vars}
    for b in ("HM", "LM"):
        ref = stats.truncnorm((1.2 - p[f"mu_R_{b}"]) / p[f"sigma_R_{b}"], np.inf,
                              p[f"mu_R_{b}"], p[f"sigma_R_{b}"])  # fmt: skip
        np.testing.assert_allclose(p[f"RV_mean_{b}"], ref.mean(), rtol=1e-10)
        np.testing.assert_allclose(p[f"RV_sd_{b}"], ref.std(), rtol=1e-10)
    np.testing.assert_array_equal(p["Delta_M0"], p["M_step_HM"] - p["M_step_LM"])
    np.testing.assert_array_equal(p["Delta_mu_R"], p["mu_R_HM"] - p["mu_R_LM"])
    table = post.summary()
    assert list(table.index) == [*model.hyper_names, *post.derived_names]
    assert set(post.convergence()["parameters"]) == set(model.hyper_names)
    single = sd.SinglePopulation().derived({"mu_R": 2.0, "sigma_R": 1.0})
    ref = stats.truncnorm(-0.8, np.inf, 2.0, 1.0)
    np.testing.assert_allclose([single["RV_mean"], single["RV_sd"]], [ref.mean(), ref.std()])
    z = sd.RedshiftLinear().derived({"mu_R": 2.0, "sigma_R": 1.0, "mu_R_grad": 0.5,
                                     "tau_A": 0.3, "tau_A_grad": -0.1})  # fmt: skip
    assert (float(z["eta_R"]), float(z["eta_tau"])) == (0.5, -0.1)


# --- bad input --------------------------------------------------------------------------
def test_mass_split_without_host_masses_names_the_sne(sed):
    survey, _ = sd.simulate_survey(jax.random.key(33), sed, sd.SinglePopulation(), n_sn=4)
    masses = np.array(survey.log_mass)
    masses[[1, 3]] = np.nan
    broken = dataclasses.replace(survey, log_mass=masses)
    with pytest.raises(sd.DataError, match=r"log_mass.*sim00001, sim00003"):
        sd.HierarchicalModel(sed=sed, survey=broken, population=sd.MassSplit())
    # single population does not need masses
    sd.HierarchicalModel(sed=sed, survey=broken, population=sd.SinglePopulation())


def test_starting_value_outside_support_names_parameter_and_sn(sed, survey):
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    h = dict(mu_R=2.5, sigma_R=0.5, tau_A=0.3, sigma0=0.1)
    A_V = np.full(model.n_sn, 0.2)
    A_V[2] = -0.1
    with pytest.raises(sd.ConfigError, match=r"'A_V'.*sim00002"):
        model.unconstrain(h | {"A_V": A_V})
    with pytest.raises(sd.ConfigError, match="'sigma_R'"):
        model.unconstrain(h | {"sigma_R": -1.0})
    with pytest.raises(sd.ConfigError, match="missing hyperparameter 'tau_A'"):
        model.unconstrain({"mu_R": 2.5, "sigma_R": 0.5})
    fits = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.FixedPopulation())
    with pytest.raises(sd.ConfigError, match=r"'t_max'.*sim00000"):
        fits.unconstrain({"t_max": np.full(fits.n_sn, 12.0)})
    R_V = np.full(model.n_sn, 2.5)
    R_V[1] = 1.2  # the truncation point itself: no finite sampler coordinate
    with pytest.raises(sd.ConfigError, match=r"edge.*'R_V'|'R_V'.*edge"):
        model.unconstrain(h | {"R_V": R_V})


class HostColumnRV(sd.DustPopulation):
    """R_V mean from a host column that some SNe lack (NaN)."""

    def hyperpriors(self):
        return {"tau_A": dist.HalfCauchy(1.0)}

    def dust_priors(self, h, host):
        mu = 2.5 + 0.0 * host["HOSTGAL_SFR"]
        return sd.DustPriors(
            A_V=dist.Exponential(1.0 / h["tau_A"]), R_V=sd.TruncatedNormal(mu, 0.5, low=1.2)
        )


def test_nan_prior_density_names_block_and_sne(sed, survey):
    meta_sfr = [1.0] * survey.n_sn
    meta_sfr[4] = float("nan")
    survey = dataclasses.replace(
        survey, meta=tuple(dict(m, HOSTGAL_SFR=v) for m, v in zip(survey.meta, meta_sfr))
    )
    with pytest.raises(sd.ModelError, match=r"NaN.*sim00004"):
        sd.HierarchicalModel(sed=sed, survey=survey, population=HostColumnRV())


def test_check_names_the_block_with_nan(sed, survey):
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    x = model.init_position(jax.random.key(0))
    totals = model.check(x)
    assert set(totals) >= {"hyperprior", "dust_prior", "likelihood"}
    np.testing.assert_allclose(sum(totals.values()), float(model.logdensity(x)), rtol=1e-12)
    bad = model.unravel(x)
    bad["e"] = bad["e"].at[3, 0].set(jnp.nan)
    with pytest.raises(sd.ModelError, match=r"intrinsic_prior.*sim00003"):
        model.check(model.ravel(bad))
    # MAP from such a start reports the block instead of returning NaN
    with pytest.raises(sd.ModelError, match=r"intrinsic_prior.*sim00003"):
        sd.MAP("adam", steps=5).run(model, None, init=model.ravel(bad))


def test_bad_population_arguments(sed, survey):
    with pytest.raises(sd.ConfigError, match="R_V"):
        sd.FixedPopulation(R_V="per-sn")
    with pytest.raises(sd.ConfigError, match="tau_A"):
        sd.FixedPopulation(tau_A=0.0)
    fits = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.FixedPopulation())
    with pytest.raises(sd.ConfigError, match="blocks"):
        sd.laplace(fits, fits.init_position(jax.random.key(0)), method="cg")
    with pytest.raises(sd.ConfigError, match="mu_R"):
        sd.HierarchicalModel(
            sed=sed, survey=survey, population=sd.FixedPopulation(R_V="population")
        )
    with pytest.raises(sd.ConfigError, match="truncation"):
        sd.RedshiftLinear(truncation="both")
    with pytest.raises(sd.ConfigError, match="population"):
        sd.HierarchicalModel(sed=sed, survey=survey, population="single")
    with pytest.raises(sd.ConfigError, match="optimizer"):
        sd.MAP("newton-raphson")
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    with pytest.raises(sd.ConfigError, match="length"):
        sd.MAP().run(model, jax.random.key(0), init=jnp.zeros(3))


def test_compare_runs_with_psis_loo_against_arviz(sed, survey, tmp_path, capsys):
    """`sndust compare --pointwise` (and ``sd.compare``) of two runs on the same SNe: elpd
    differences with their SEs and per-SN Pareto k̂ are ArviZ's own (arviz-stats'
    ``compare`` and ``loo`` on the stored per-SN log-likelihood), the hyperparameters and derived
    quantities side by side, the figure and JSON written; runs on different SNe are
    refused naming them."""
    import json

    import arviz as az

    from sndust._app._cli import main

    runs = {}
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.MassSplit())
    for name, (seed, spread) in (("near", (7, 0.01)), ("far", (9, 0.05))):
        x0 = model.init_position(jax.random.key(seed), radius=0.5)
        draws = x0 + spread * jax.random.normal(jax.random.key(8), (2, 30, model.dim))
        post = sd.Posterior.from_draws(model, np.asarray(draws), method="t", key=jax.random.key(0))
        post.to_netcdf(tmp_path / f"{name}.nc")
        runs[name] = post
    result = sd.compare(list(runs.values()), names=list(runs))
    with np.errstate(divide="ignore", invalid="ignore"):  # (as sd.compare: stacking's logs)
        ref = az.compare({n: p.idata for n, p in runs.items()}, round_to="none")
    for name in runs:
        for key in ("elpd", "se", "p", "elpd_diff", "dse"):
            np.testing.assert_allclose(result.table.loc[name, key], ref.loc[name, key], rtol=1e-12)
        loo = az.loo(runs[name].idata, pointwise=True)
        np.testing.assert_allclose(result.k_hat[result.names.index(name)], loo.pareto_k.values)
    assert result.hyper["RV_mean_HM"]["near"][0] > 1.2 and "Delta_M0" in result.hyper
    out = tmp_path / "cmp.json"
    png = tmp_path / "cmp.png"
    files = [str(tmp_path / "near.nc"), str(tmp_path / "far.nc")]
    assert main(["compare", *files]) == 2  # integrated by default: it needs the runs' configs
    assert "near.nc: no config.yaml beside it" in capsys.readouterr().err
    code = main(["compare", *files, "--pointwise", "--json", str(out), "--figure", str(png)])
    assert code == 0
    text = capsys.readouterr().out
    assert "PSIS-LOO over 8 SNe" in text and "Hyperparameters" in text and "RV_mean_LM" in text
    assert "pointwise" in text
    data = json.loads(out.read_text())
    assert data["best"] == result.best
    assert data["runs"]["far"]["dse"] == pytest.approx(float(ref.loc["far", "dse"]))
    # the JSON keeps its keys (ArviZ 0.x's names) over arviz-stats' renamed columns
    assert data["runs"]["far"]["elpd_loo"] == pytest.approx(float(ref.loc["far", "elpd"]))
    assert data["runs"]["far"]["p_loo"] == pytest.approx(float(ref.loc["far", "p"]))
    assert png.read_bytes()[:4] == b"\x89PNG"
    other = sd.Posterior(runs["near"].idata.isel(sn=slice(0, 3)))
    with pytest.raises(sd.ConfigError, match="not on the same SNe"):
        sd.compare([runs["near"], other])
