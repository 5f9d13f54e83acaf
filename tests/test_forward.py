"""Forward model: precision, gradients, jit, layout and data rules."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sndust as sd

BANDS = ("g_PS1", "r_PS1", "i_PS1", "z_PS1")


def simulated_survey(n_sn=12, seed=0, phases=(-9.0, -4.0, 0.5, 6.0, 13.0, 22.0, 39.0), extra=True):
    """A small survey with uneven cadences (so chunks are partly padded)."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.01, 0.09, n_sn)
    mjd, band, flux, err = [], [], [], []
    for k in range(n_sn):
        n_rep = 1 + k % 3
        ph = np.concatenate([np.asarray(phases)] * n_rep) + rng.uniform(
            -0.4, 0.4, len(phases) * n_rep
        )
        if extra:
            ph = np.append(ph, [-15.0, 55.0])  # outside the phase window: dropped
        b = np.resize(np.array(BANDS), ph.size)
        mjd.append(60000.0 + ph * (1 + z[k]))
        band.append(b)
        f = rng.uniform(1e3, 3e4, ph.size)
        flux.append(f)
        err.append(0.03 * f)
    return sd.Survey.from_arrays(
        snid=[f"sn{k}" for k in range(n_sn)],
        mjd=mjd,
        band=band,
        fluxcal=flux,
        fluxcal_err=err,
        z_hel=z,
        peak_mjd=np.full(n_sn, 60000.0),
        mwebv=rng.uniform(0, 0.15, n_sn),
    )


def random_params(prepared, seed=1, dtype=jnp.float64):
    rng = np.random.default_rng(seed)
    n = prepared.n_sn
    out = dict(
        theta=rng.normal(size=n),
        A_V=rng.exponential(0.3, n),
        R_V=rng.uniform(1.5, 4.5, n),
        e=rng.normal(size=(n, prepared.n_eps)),
        distmod=rng.uniform(33, 37, n),
        delta_M=rng.normal(0, 0.1, n),
    )
    if prepared.free_tmax:
        out["t_max"] = rng.uniform(-2, 2, n)
    return {k: jnp.asarray(v, dtype) for k, v in out.items()}


@pytest.fixture(scope="module", params=[False, True], ids=["fixed_tmax", "free_tmax"])
def prepared(request, sed):
    return sd.prepare(simulated_survey(), sed, free_tmax=request.param)


def test_drops_reported_with_reasons(prepared):
    # the two points outside (-10, 40) d of every SN are dropped by the phase-window cut
    phase_drops = [d for d in prepared.info.survey.drops if "phase" in d.reason]
    assert len(phase_drops) == 2 * prepared.n_sn
    assert "outside (-10, 40)" in phase_drops[0].reason
    report = prepared.report()
    assert "sn0" in report and "phase -15.0 d" in report
    assert np.asarray(prepared.observed_mask()).sum() == sum(
        int(np.sum(prepared.info.survey.mask[s])) for s in range(prepared.n_sn)
    )


def test_float32_agrees_with_float64(sed, prepared):
    p32 = sd.prepare(simulated_survey(), sed, free_tmax=prepared.free_tmax, dtype="float32")
    params = random_params(prepared)
    f64 = np.asarray(prepared.fluxcal(**params))
    f32 = p32.fluxcal(**{k: v.astype(jnp.float32) for k, v in params.items()})
    assert f32.dtype == jnp.float32
    ok = np.asarray(prepared.observed_mask())
    rel = np.abs(np.asarray(f32, np.float64)[ok] / f64[ok] - 1)
    assert rel.max() < 1e-5


def test_jit_equals_eager(prepared):
    params = random_params(prepared)
    eager = prepared.log_likelihood_per_sn(**params)
    jitted = jax.jit(lambda p, kw: p.log_likelihood_per_sn(**kw))(prepared, params)
    np.testing.assert_allclose(jitted, eager, rtol=1e-12)


@pytest.mark.parametrize("block", ["theta", "A_V", "R_V", "e", "distmod", "delta_M", "t_max"])
def test_gradient_matches_finite_differences(sed, prepared, block):
    if block == "t_max" and not prepared.free_tmax:  # t_max is a parameter only when free
        prepared = sd.prepare(simulated_survey(), sed, free_tmax=True)
    params = random_params(prepared)
    weights = jnp.asarray(np.random.default_rng(3).normal(size=(prepared.n_sn, prepared.n_obs)))

    def f(x):
        return jnp.sum(weights * prepared.fluxcal(**{**params, block: x})) * 1e-4

    x0 = params[block]
    direction = jnp.asarray(np.random.default_rng(4).normal(size=x0.shape))
    grad = jax.grad(f)(x0)
    h = 1e-5
    fd = (f(x0 + h * direction) - f(x0 - h * direction)) / (2 * h)
    assert float(jnp.vdot(grad, direction)) == pytest.approx(float(fd), rel=1e-6)


def test_log_likelihood_matches_gaussian_formula(prepared):
    params = random_params(prepared)
    survey = prepared.info.survey
    model = np.asarray(prepared.fluxcal(**params))
    ok = np.asarray(prepared.observed_mask())
    data, err = np.asarray(survey.fluxcal), np.asarray(survey.fluxcal_err)
    point = -0.5 * ((data - model) / err) ** 2 - np.log(err) - 0.5 * np.log(2 * np.pi)
    expected = np.where(ok, point, 0.0).sum(axis=1)
    np.testing.assert_allclose(prepared.log_likelihood_per_sn(**params), expected, rtol=1e-10)


def test_fluxcal_and_magnitudes_consistent(prepared):
    params = random_params(prepared)
    flux = np.asarray(prepared.fluxcal(**params))
    mag = np.asarray(prepared.magnitudes(**params))
    ok = np.asarray(prepared.observed_mask())
    np.testing.assert_allclose(mag[ok], 27.5 - 2.5 * np.log10(flux[ok]), rtol=1e-12)
    assert np.all(np.isnan(mag[~ok])) and np.all(flux[~ok] == 0)
    # distance and grey offset enter as 10^{-0.4 (mu + dM)}
    shifted = np.asarray(prepared.fluxcal(**{**params, "distmod": params["distmod"] + 1.0}))
    np.testing.assert_allclose(shifted[ok], flux[ok] * 10**-0.4, rtol=1e-12)


def test_eps_surface_and_standard_normal_forms_agree(sed, prepared):
    params = random_params(prepared)
    eps = sed.eps_from_e(params["e"])
    assert eps.shape == (prepared.n_sn, 6, 6)
    assert np.all(np.asarray(eps)[:, [0, -1], :] == 0)
    via_e = prepared.fluxcal(**params)
    via_eps = prepared.fluxcal(**{**{k: v for k, v in params.items() if k != "e"}, "eps": eps})
    np.testing.assert_allclose(via_e, via_eps, rtol=1e-13)


def test_vmap_over_parameter_draws_equals_loop(prepared):
    draws = [random_params(prepared, seed=s) for s in range(3)]
    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *draws)
    batched = jax.vmap(lambda kw: prepared.log_likelihood_per_sn(**kw))(stacked)
    looped = jnp.stack([prepared.log_likelihood_per_sn(**d) for d in draws])
    np.testing.assert_allclose(batched, looped, rtol=1e-12)


def test_no_retrace_for_new_parameter_values(prepared):
    import equinox as eqx

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def ll(p, kw):
        return p.log_likelihood(**kw)

    for seed in range(3):
        ll(prepared, random_params(prepared, seed=seed))


def test_jax_spline_rows_match_numpy(sed):
    from sndust._forward._flux import _spline_rows
    from sndust._spline import second_derivative_matrix, spline_basis

    t = np.linspace(-25, 55, 333)
    ours = _spline_rows(
        jnp.asarray(t),
        jnp.asarray(sed.tau_knots),
        jnp.asarray(second_derivative_matrix(sed.tau_knots)),
    )
    np.testing.assert_allclose(ours, spline_basis(t, sed.tau_knots), atol=1e-12)


def test_band_outside_model_range_is_dropped(sed):
    survey = sd.Survey.from_arrays(
        snid=["lowz", "highz"],
        mjd=[60000.0 + np.arange(4.0)] * 2,
        band=[np.array(["u_CSP", "u_CSP", "r_PS1", "r_PS1"])] * 2,
        fluxcal=[np.full(4, 1e4)] * 2,
        fluxcal_err=[np.full(4, 1e2)] * 2,
        z_hel=np.array([0.02, 0.5]),
        peak_mjd=np.full(2, 60001.0),
    )
    prepared = sd.prepare(survey, sed)
    reasons = [(d.snid, d.band) for d in prepared.info.drops]
    # u's blue edge (~3000 Å) lies below T21's 3500 Å in the rest frame at any z >= 0
    assert ("lowz", "u_CSP") in reasons and ("highz", "u_CSP") in reasons
    assert ("highz", "r_PS1") not in reasons
    assert prepared.band_names == ("r_PS1",)
    assert np.asarray(prepared.observed_mask()).sum() == 4


def test_unknown_band_raises_model_error_listing_filters(sed):
    survey = sd.Survey.from_arrays(
        snid=["a"],
        mjd=[60000.0 + np.arange(3.0)],
        band=[np.array(["g", "g", "g"])],
        fluxcal=[np.ones(3)],
        fluxcal_err=[np.ones(3)],
        z_hel=np.array([0.03]),
        peak_mjd=np.array([60001.0]),
    )
    with pytest.raises(sd.ModelError, match="unknown filter 'g'.*g_PS1"):
        sd.prepare(survey, sed)


def test_wrong_parameter_combinations_raise(prepared):
    params = random_params(prepared)
    with pytest.raises(TypeError, match="exactly one of eps"):
        prepared.fluxcal(**params, eps=jnp.zeros((prepared.n_sn, 6, 6)))
    if prepared.free_tmax:
        with pytest.raises(TypeError, match="pass t_max"):
            prepared.fluxcal(**{k: v for k, v in params.items() if k != "t_max"})
    else:
        with pytest.raises(TypeError, match="free_tmax=True"):
            prepared.fluxcal(**params, t_max=jnp.zeros(prepared.n_sn))


def test_dropping_the_longest_light_curve_keeps_layout_consistent(sed):
    """An SN dropped by the band-coverage rule may be the one that set n_obs."""
    long = np.tile(np.array(["u_CSP", "u_CSP"]), 6)  # 12 points, all in a band T21 cannot model
    survey = sd.Survey.from_arrays(
        snid=["dropped", "kept"],
        mjd=[60000.0 + np.arange(12.0), 60000.0 + np.arange(4.0)],
        band=[long, np.array(["g_PS1", "r_PS1", "g_PS1", "r_PS1"])],
        fluxcal=[np.full(12, 1e4), np.full(4, 1e4)],
        fluxcal_err=[np.full(12, 1e2), np.full(4, 1e2)],
        z_hel=np.array([0.03, 0.03]),
        peak_mjd=np.full(2, 60002.0),
    )
    prepared = sd.prepare(survey, sed)
    assert prepared.snid == ("kept",)
    assert prepared.n_obs == 4
    assert np.asarray(prepared.observed_mask()).sum() == 4
    assert any(d.snid == "dropped" and d.band is None for d in prepared.info.drops)
