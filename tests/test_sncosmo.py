"""BayeSN as an sncosmo Source: sncosmo's band fluxes equal the forward model's FLUXCAL,
Milky Way dust as an sncosmo effect equals sndust's, and sncosmo's plotting and fitting
run on it."""

from __future__ import annotations

import numpy as np
import pytest
import sncosmo
from astropy.table import Table

import sndust as sd

BANDS = ("g_PS1", "r_PS1", "i_PS1", "z_PS1")


def forward_and_sncosmo(sed, z, params, e, mwebv=0.0, bands=BANDS):
    t0 = 57000.0
    phase = np.linspace(-8.0, 35.0, 12)
    mjd = np.tile(t0 + phase * (1 + z), len(bands))
    band = np.repeat(bands, phase.size)
    one = [np.ones(mjd.size)]
    survey = sd.Survey.from_arrays(
        ["sn"], [mjd], [band], one, one, z_hel=z, z_cmb=z, peak_mjd=t0, mwebv=mwebv
    )
    prepared = sd.prepare(survey, sed)
    flux = np.asarray(
        prepared.fluxcal(
            theta=params["theta"], A_V=params["AV"], R_V=params["RV"],
            e=e[None], distmod=params["distmod"],
        )
    )[0]  # fmt: skip
    effects = dict(effects=[sncosmo.F99Dust()], effect_names=["mw"], effect_frames=["obs"])
    model = sncosmo.Model(sd.BayeSNSource(sed, e=e), **effects)
    model.set(z=z, t0=t0, mwebv=mwebv, **params)
    bandflux = np.concatenate(
        [model.bandflux(sd.bandpass(b), mjd[band == b], zp=27.5, zpsys="ab") for b in bands]
    )
    return flux, bandflux, model


@pytest.mark.parametrize("z, mwebv", [(0.02, 0.0), (0.07, 0.12)])
def test_sncosmo_band_fluxes_equal_the_forward_model(sed, z, mwebv):
    e = np.random.default_rng(1).standard_normal(sed.n_eps)
    params = {"theta": 0.8, "AV": 0.35, "RV": 2.3, "distmod": 35.2}
    flux, bandflux, _ = forward_and_sncosmo(sed, z, params, e, mwebv)
    # different integration grids (sncosmo's 5 Å steps vs the model's) leave < 1 mmag
    np.testing.assert_allclose(bandflux, flux, rtol=2e-3)
    # and each ingredient matters at far more than that
    for name, change in (("theta", 1.0), ("AV", 0.1), ("RV", 1.0), ("distmod", 0.1)):
        other = params | {name: params[name] + change}
        _, moved, _ = forward_and_sncosmo(sed, z, other, e, mwebv)
        assert np.max(np.abs(moved / bandflux - 1)) > 0.02, name


def test_defaults_and_bad_e(sed):
    source = sd.BayeSNSource(sed)
    assert source.param_names == ["theta", "AV", "RV", "distmod"]
    assert source["RV"] == pytest.approx(sed.R_V)
    assert (source.minphase(), source.maxphase()) == sed.phase_range
    with pytest.raises(sd.ConfigError, match="e must have shape"):
        sd.BayeSNSource(sed, e=np.zeros(3))


def test_plot_lc_and_fit_lc_run_on_a_bayesn_model(sed, tmp_path):
    """sncosmo fits a simulated light curve with the BayeSN source and recovers its
    distance and shape; plot_lc draws it."""
    truth = {"theta": -0.5, "AV": 0.2, "RV": 2.61, "distmod": 35.4}
    _, _, model = forward_and_sncosmo(sed, 0.03, truth, np.zeros(sed.n_eps))
    t = np.arange(56995.0, 57040.0, 3.0)
    rows = []
    rng = np.random.default_rng(2)
    for name in BANDS:
        bp = sd.bandpass(name)
        sncosmo.register(bp, force=True)
        f = model.bandflux(bp, t, zp=27.5, zpsys="ab")
        err = 0.01 * f + 20.0
        rows += [(ti, name, fi + ei * rng.standard_normal(), ei, 27.5, "ab")
                 for ti, fi, ei in zip(t, f, err)]  # fmt: skip
    data = Table(rows=rows, names=("time", "band", "flux", "fluxerr", "zp", "zpsys"))
    fit_model = sncosmo.Model(sd.BayeSNSource(sed))
    fit_model.set(z=0.03, RV=2.61)
    result, fitted = sncosmo.fit_lc(
        data, fit_model, ["t0", "theta", "AV", "distmod"],
        bounds={"t0": (56995.0, 57005.0), "theta": (-3, 3), "AV": (0, 2), "distmod": (33, 38)},
    )  # fmt: skip
    assert result.success
    for name in ("theta", "AV", "distmod"):
        i = result.param_names.index(name)
        assert abs(result.parameters[i] - truth[name]) < 4 * result.errors[name] + 0.02, name
    fig = sncosmo.plot_lc(data, model=fitted, errors=result.errors)
    fig.savefig(tmp_path / "lc.png")
    assert (tmp_path / "lc.png").stat().st_size > 10_000


def test_survey_from_sncosmo_style_tables(sed):
    """The same table sncosmo fits reads into a Survey (one SN per table)."""
    t = Table(
        {"time": [57000.0, 57003.0], "band": ["g_PS1", "r_PS1"], "flux": [100.0, 120.0],
         "fluxerr": [5.0, 5.0], "zp": [27.5, 27.5], "zpsys": ["ab", "ab"]},
        meta={"SNID": "x", "z": 0.03, "PEAKMJD": 57001.0},
    )  # fmt: skip
    survey = sd.Survey.from_tables([t], bands="auto")
    assert survey.snid == ("x",) and survey.band_names == ("g_PS1", "r_PS1")
    np.testing.assert_allclose(survey.fluxcal[0], [100.0, 120.0])
