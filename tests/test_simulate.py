"""Survey simulator (designs, presets, noise model) and the SNANA text writer."""

import dataclasses

import jax
import numpy as np
import pytest
from scipy import stats

import sndust as sd

HYPER = {"mu_R": 2.7, "sigma_R": 0.5, "tau_A": 0.3, "sigma0": 0.1}
SURVEY_ARRAYS = ("mjd", "fluxcal", "fluxcal_err", "band", "mask")
SN_ARRAYS = ("z_hel", "z_cmb", "z_err", "peak_mjd", "mwebv", "log_mass")


def assert_same_survey(a, b):
    assert a.snid == b.snid
    assert a.survey_name == b.survey_name
    assert a.band_names == b.band_names
    for name in SURVEY_ARRAYS + SN_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.fixture(scope="module")
def foundation_like(sed):
    return sd.simulate_survey(
        jax.random.key(3), sed, sd.SinglePopulation(), n_sn=12, hyper=HYPER, design="foundation"
    )


def test_snana_round_trip_of_a_simulated_survey(foundation_like, tmp_path):
    survey, _ = foundation_like
    paths = survey.to_snana(tmp_path / "sim")
    assert [p.name for p in paths] == [f"{s}.txt" for s in survey.snid]
    assert (tmp_path / "sim" / "sim.LIST").read_text().split() == [p.name for p in paths]
    assert_same_survey(survey, sd.Survey.from_snana(tmp_path / "sim", bands="auto"))
    # short band names in the FLT column, mapped back on reading
    short = {b: b[0] for b in survey.band_names}
    survey.to_snana(tmp_path / "short", bands=short)
    back = sd.Survey.from_snana(tmp_path / "short", bands={v: k for k, v in short.items()})
    assert_same_survey(survey, back)
    assert "FILTERS: g,r,i,z" in (tmp_path / "short" / paths[0].name).read_text()


def test_snana_round_trip_of_real_files_keeps_their_header(foundation_files, tmp_path):
    bands = {b: f"{b}_PS1" for b in "griz"}
    real = sd.Survey.from_snana(foundation_files[:6], bands=bands)
    real = real.cut(z_max=0.05, phase_window=(-10, 40))  # writes only what is kept
    real.to_snana(tmp_path, bands={v: k for k, v in bands.items()}, list_name="DR1.LIST")
    back = sd.Survey.from_snana(tmp_path, bands=bands)
    assert_same_survey(real, back)
    for before, after in zip(real.meta, back.meta):
        for key in ("RA", "DECL", "VPEC", "VPEC_ERR", "SNTYPE"):
            assert after[key] == before[key]


def test_writer_never_overwrites_and_rejects_unsafe_names(foundation_like, tmp_path):
    survey, _ = foundation_like
    first = survey.to_snana(tmp_path)[0]
    text = first.read_text()
    first.write_text(text + "# edited\n")
    with pytest.raises(sd.ConfigError, match="exists"):
        survey.to_snana(tmp_path)
    assert first.read_text().endswith("# edited\n")  # nothing written on refusal
    survey.to_snana(tmp_path, overwrite=True)
    assert first.read_text() == text
    bad = dataclasses.replace(survey, snid=("../escape",) + survey.snid[1:])
    with pytest.raises(sd.ConfigError, match="safe file name"):
        bad.to_snana(tmp_path / "bad")


def test_same_key_same_survey_other_key_other_survey(sed):
    def draw(seed):
        return sd.simulate_survey(
            jax.random.key(seed), sed, sd.SinglePopulation(), n_sn=4, hyper=HYPER, design="des"
        )

    (a, ta), (b, tb), (c, _) = draw(5), draw(5), draw(6)
    assert_same_survey(a, b)
    np.testing.assert_array_equal(ta["A_V"], tb["A_V"])
    assert not np.array_equal(a.z_hel, c.z_hel)


def test_noise_pulls_are_standard_normal(sed, foundation_like):
    """Simulated fluxes scatter about the model prediction of the true parameters by
    exactly their quoted errors, and the errors follow the design's noise model."""
    survey, truth = foundation_like
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    x = model.unconstrain({k: truth[k] for k in truth})
    flux = np.asarray(model.predict_fluxcal(x))
    m = survey.mask
    design = sd.SurveyDesign.foundation()
    names = np.asarray(survey.band_names)[survey.band]
    np.testing.assert_allclose(survey.fluxcal_err[m], design.flux_error(flux, names)[m], rtol=1e-10)
    pulls = ((survey.fluxcal - flux) / survey.fluxcal_err)[m]
    assert pulls.size > 300
    assert stats.kstest(pulls, "norm").pvalue > 1e-3


def test_surveys_drawn_together_each_with_its_design(sed):
    """`simulate_surveys`: one population, each survey's SNe with its own design's
    redshifts, bands and noise (errors are that design's noise model at the true
    fluxes), named by survey; the same key gives the same surveys."""
    designs = {"low": "foundation", "high": sd.SurveyDesign.des()}

    def draw(seed):
        return sd.simulate_surveys(
            jax.random.key(seed), sed, sd.SinglePopulation(), designs,
            n_sn={"low": 3, "high": 2}, hyper=HYPER,
        )  # fmt: skip

    (survey, truth), (again, _) = draw(3), draw(3)
    assert_same_survey(survey, again)
    assert list(survey.snid) == ["low00000", "low00001", "low00002", "high00000", "high00001"]
    assert survey.survey_name == ("low",) * 3 + ("high",) * 2
    model = sd.HierarchicalModel(sed=sed, survey=survey, population=sd.SinglePopulation())
    flux = np.asarray(model.predict_fluxcal(model.unconstrain(truth)))
    names = np.asarray(survey.band_names)[survey.band]
    for rows, design in (
        (slice(0, 3), sd.SurveyDesign.foundation()),
        (slice(3, 5), designs["high"]),
    ):
        m = survey.mask[rows]
        assert np.all(
            (survey.z_hel[rows] > design.z_range[0]) & (survey.z_hel[rows] < design.z_range[1])
        )
        assert set(names[rows][m]) <= set(design.bands)
        np.testing.assert_allclose(
            survey.fluxcal_err[rows][m], design.flux_error(flux[rows], names[rows])[m], rtol=1e-10
        )
    with pytest.raises(sd.ConfigError, match="name different surveys") as info:
        sd.simulate_surveys(jax.random.key(0), sed, sd.SinglePopulation(), designs, n_sn={"low": 3})
    assert info.value.field == "n_sn"


def test_noise_model_terms():
    design = sd.SurveyDesign(depth=22.0, gain=None, mag_err=0.0)
    limit = 10 ** (-0.4 * (22.0 - 27.5))  # FLUXCAL of a 22nd-magnitude source
    # at zero flux only the sky: a source at the 5σ depth has S/N 5
    assert design.flux_error(np.array([0.0]), np.array(["g_PS1"]))[0] == pytest.approx(limit / 5)
    floor = sd.SurveyDesign(mag_err=0.02)
    bright = floor.flux_error(np.array([1e6]), np.array(["g_PS1"]))[0]
    assert bright == pytest.approx(0.02 * np.log(10) / 2.5 * 1e6)
    poisson = sd.SurveyDesign(gain=4.0, mag_err=0.0)
    assert poisson.flux_error(np.array([400.0]), np.array(["g_PS1"]))[0] == pytest.approx(10.0)
    lsst = sd.SurveyDesign.lsst()
    err = lsst.flux_error(np.zeros(2), np.array(["u_LSST", "r_LSST"]))
    assert err[0] > err[1]  # u is shallower than r


def test_volumetric_redshifts_follow_the_comoving_volume():
    """Against astropy: density ∝ dV_c/dz / (1 + z) in flat ΛCDM (Ω_m = 0.28)."""
    from astropy.cosmology import FlatLambdaCDM

    design = sd.SurveyDesign(z_range=(0.1, 0.8), z_distribution="volumetric")
    z = design.redshifts(np.random.default_rng(0), 4000)
    grid = np.linspace(0.1, 0.8, 4001)
    cosmo = FlatLambdaCDM(H0=70.0, Om0=0.28)
    density = cosmo.differential_comoving_volume(grid).value / (1 + grid)
    cdf = np.concatenate([[0], np.cumsum(0.5 * (density[1:] + density[:-1]))])
    assert stats.kstest(z, lambda q: np.interp(q, grid, cdf / cdf[-1])).pvalue > 1e-3
    uniform = sd.SurveyDesign(z_range=(0.1, 0.8)).redshifts(np.random.default_rng(0), 4000)
    assert stats.kstest(uniform, lambda q: np.interp(q, grid, cdf / cdf[-1])).pvalue < 1e-6


def test_presets_observe_only_what_the_model_covers(sed):
    for name in ("foundation", "des", "ps1md", "lsst"):
        design = sd.SurveyDesign.preset(name)
        survey, _ = sd.simulate_survey(
            jax.random.key(8), sed, sd.SinglePopulation(), n_sn=6, hyper=HYPER, design=design
        )
        assert set(survey.band_names) <= set(design.bands)
        lo, hi = design.log_mass_range
        assert np.all((survey.log_mass >= lo) & (survey.log_mass <= hi))
        assert np.all((survey.z_hel > design.z_range[0]) & (survey.z_hel < design.z_range[1]))
        # every simulated observation is used by the model: nothing falls outside its range
        prepared = sd.prepare(survey, sed)
        assert prepared.n_sn == survey.n_sn
        np.testing.assert_array_equal(np.asarray(prepared.observed_mask()), survey.mask)
        # epochs at the design's cadence in each band (with missed visits, never closer)
        for i in range(survey.n_sn):
            for b in np.unique(survey.band[i, survey.mask[i]]):
                t = np.sort(survey.mjd[i, survey.mask[i] & (survey.band[i] == b)])
                np.testing.assert_allclose(
                    np.diff(t) / design.cadence, np.round(np.diff(t) / design.cadence)
                )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"z_range": (0.1, 0.05)}, "z_range"),
        ({"z_range": (0.0, 0.05)}, "z_range"),
        ({"z_distribution": "cubic"}, "z_distribution"),
        ({"depth": {"g_PS1": 21.0}}, "depth"),
        ({"cadence": 0.0}, "cadence"),
        ({"p_miss": 1.0}, "p_miss"),
        ({"bands": "g_PS1"}, "bands"),
        ({"mag_err": 0.0}, "mag_err"),
    ],
)
def test_bad_designs_name_the_field(kwargs, field):
    with pytest.raises(sd.ConfigError) as info:
        sd.SurveyDesign(**kwargs)
    assert info.value.field == field


def test_unknown_preset_and_uncovered_bands(sed):
    with pytest.raises(sd.ConfigError, match="unknown survey preset 'sdss'"):
        sd.SurveyDesign.preset("sdss")
    with pytest.raises(sd.ConfigError, match="none of the bands") as info:
        sd.simulate_survey(
            jax.random.key(0), sed, sd.SinglePopulation(), n_sn=2, bands=("u_LSST",),
            z_range=(0.4, 0.5),
        )  # fmt: skip
    assert info.value.field == "bands"


@pytest.mark.parametrize(
    ("hyper", "field"),
    [({**HYPER, "sigma0": -0.1}, "sigma0"), ({**HYPER, "tau_B": 0.3}, "tau_B")],
    ids=["outside-support", "unknown"],
)
def test_bad_hyperparameters_name_the_field(sed, hyper, field):
    with pytest.raises(sd.ConfigError) as err:
        sd.simulate_survey(jax.random.key(0), sed, sd.SinglePopulation(), n_sn=2, hyper=hyper)
    assert err.value.field == field, err.value
