"""The built-in G25_85day model (bayesn's phase-extended optical-NIR model: 2800-18500 Å,
-10...+85 d, a population R_V instead of one trained R_V).

What is checked against what:

* the shipped file against the provenance copy in ``shared/data/bayesn_models`` (byte
  for byte), and what sndust reads from it (knots, population R_V, Hsiao coverage);
* sndust's FLUXCAL against bayesn 0.4.0's own flux computation to 1e-6 relative
  (float64): ``SEDmodel.get_flux_batch`` on light curves at rest phases -10...+81 d in
  nine bands from CSP u to RetroCam H, and ``SEDmodel.simulate_light_curve`` with a free
  time of maximum (tests/reference/make_bayesn_reference_g25.py, run once per change by
  the ``bayesn_reference_g25`` fixture; bayesn 0.4.0 loads the file unpatched);
* that the model's own ranges, not T21's, decide what is kept: a DES-like survey at
  z ≈ 0.3 keeps DES g under G25_85day while T21 drops it (and says so in the report),
  and points past +40 d are kept up to +85 d;
* a per-SN MAP fit (``sd.MAP`` with ``sd.FixedPopulation``, which takes G25_85day's
  trained R_V population) of a simulated SN observed out to +80 d: every late point is
  used and the fit is finite and close to the truth.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from conftest import REPO, SHARED
from helpers import fluxcal_of_reference_simulation

import sndust as sd

RTOL = 1e-6
DES = ("g_DES", "r_DES", "i_DES", "z_DES")


@pytest.fixture(scope="module")
def g25():
    return sd.BayeSNModel.load("G25_85day")


def test_g25_is_a_builtin_with_its_own_ranges(g25):
    shipped = REPO / "model_files" / "models" / "G25_85day" / "BAYESN.YAML"
    source = SHARED / "data" / "bayesn_models" / "G25_85day" / "BAYESN.YAML"
    if source.is_file():
        assert shipped.read_bytes() == source.read_bytes()
    assert "G25_85day" in sd.builtin_models()
    assert np.array_equal(sd.BayeSNModel.load("g25_85DAY").W0, g25.W0)
    assert g25.W0.shape == (10, 9) and g25.n_eps == 72
    assert g25.phase_range == (-10.0, 85.0)
    assert (g25.l_knots[0], g25.l_knots[-1]) == (2800.0, 18500.0)
    assert g25.R_V is None and g25.mu_R == pytest.approx(2.1851391053314844)
    assert g25.sigma_R == pytest.approx(0.6640430447741337)
    # the Hsiao template (-19...+85 d, 1000-25000 Å) covers the model: no edge clamping
    assert g25.hsiao_phase[0] <= -10 and g25.hsiao_phase[-1] >= 85
    # FixedPopulation's default R_V follows the model: G25's population, T21's global
    assert sd.FixedPopulation().bind(g25).R_V == "population"
    assert sd.FixedPopulation().bind(sd.BayeSNModel.load("T21")).R_V == "global"
    # simulated cadences span the model's phase range unless a design sets its own
    design = sd.SurveyDesign(phases=None, cadence=2.0)
    days, _ = design.epochs(np.random.default_rng(0), 0.05, ["g_PS1"], g25.phase_range)
    assert days.max() / 1.05 > 80.0
    with pytest.raises(sd.ModelError, match="Did you mean 'G25_85day'"):
        sd.BayeSNModel.load("G25")


def test_template_must_cover_the_model(tmp_path):
    """A template that stops at +40 d serves T21 but not G25_85day (whose light curves
    would otherwise freeze at the template's last day)."""
    import h5py

    with h5py.File(REPO / "model_files" / "templates" / "hsiao.h5") as f:
        phase, wave, flux = (f[f"default/{k}"][()] for k in ("phase", "wave", "flux"))
    short = tmp_path / "short.h5"
    with h5py.File(short, "w") as f:
        keep = phase <= 40
        for k, v in (("phase", phase[keep]), ("wave", wave), ("flux", flux[keep])):
            f[f"default/{k}"] = v
    assert sd.BayeSNModel.load("T21", template=short).phase_range == (-10.0, 40.0)
    with pytest.raises(sd.ModelError, match=r"do not cover the model's -10\.\.\.85 d"):
        sd.BayeSNModel.load("G25_85day", template=short)


# ---------------------------------------------------------------------- bayesn parity
@pytest.fixture(scope="module")
def ref(bayesn_reference_g25):
    out = dict(np.load(bayesn_reference_g25 / "G25_85day.npz"))
    # what bayesn 0.4.0 made of the file: a population-R_V model with the same knots
    assert str(out["model_type"]) == "pop_RV" and not bool(out["has_RV"])
    return out


def test_light_curves_to_80_days_match_bayesn_get_flux_batch(g25, ref):
    n_sn = ref["lc_z"].size
    rows = [np.flatnonzero(ref["lc_obs_sn"] == k) for k in range(n_sn)]
    z = ref["lc_z"]
    survey = sd.Survey.from_arrays(
        snid=[f"g25_{k}" for k in range(n_sn)],
        mjd=[60000.0 + ref["lc_phase"][r] * (1 + z[k]) for k, r in enumerate(rows)],
        band=[ref["lc_band"][r] for r in rows],
        fluxcal=[ref["lc_flux"][r] for r in rows],
        fluxcal_err=[0.02 * ref["lc_flux"][r] for r in rows],
        z_hel=z,
        peak_mjd=np.full(n_sn, 60000.0),
        mwebv=ref["lc_ebv"],
    )
    prepared = sd.prepare(survey, g25)
    assert prepared.info.drops == () and prepared.n_sn == n_sn  # every point, u to H
    assert ref["lc_phase"].max() > 80.0 and set(prepared.info.band_names) == set(ref["lc_band"])
    flux = np.asarray(
        prepared.fluxcal(
            theta=ref["lc_theta"],
            A_V=ref["lc_AV"],
            R_V=ref["lc_RV"],
            e=ref["lc_e"],
            distmod=ref["lc_Ds"],
        )
    )
    got = np.concatenate([flux[k, : r.size] for k, r in enumerate(rows)])
    rel = np.abs(got / ref["lc_flux"] - 1)
    assert rel.max() < RTOL, f"max relative difference {rel.max():.2e}"


def test_simulated_survey_matches_bayesn_with_free_tmax(g25, ref):
    flux, _ = fluxcal_of_reference_simulation(g25, ref)
    rel = np.abs(flux / ref["sim_flux"] - 1)
    assert rel.max() < RTOL, f"max relative difference {rel.max():.2e}"


# ---------------------------------------------------------------------- what is kept
def test_des_g_band_at_z03_kept_by_g25_dropped_by_t21(g25):
    """DES g (3930-5525 Å) starts at 3023 Å in the rest frame at z = 0.3: inside
    G25_85day's 2800 Å, outside T21's 3500 Å."""
    design = sd.SurveyDesign.des()
    survey, _ = sd.simulate_survey(
        jax.random.key(3), g25, sd.FixedPopulation(), n_sn=3, design=design,
        z_range=(0.29, 0.31),
    )  # fmt: skip
    assert set(survey.band_names) == set(DES)
    phase = survey.phase()[survey.mask]
    assert phase.max() > 70.0  # the DES cadence runs over G25's range, not T21's

    kept = sd.prepare(survey, g25)
    assert kept.info.drops == () and kept.n_sn == 3
    assert set(kept.info.band_names) == set(DES)
    assert np.asarray(kept.observed_mask()).sum() == survey.mask.sum()

    t21 = sd.prepare(survey, sd.BayeSNModel.load("T21"))
    assert "g_DES" not in t21.info.band_names
    band_drops = [d for d in t21.info.drops if d.band is not None and d.mjd is None]
    assert sorted(d.snid for d in band_drops) == sorted(survey.snid)
    assert {d.band for d in band_drops} == {"g_DES"}
    assert all("outside the model's rest range 3500-9500" in d.reason for d in band_drops)
    report = t21.report()
    assert report.count("g_DES (3930-5525 Å) outside the model's rest range") == 3
    # and T21's phase window cuts the points G25_85day keeps after +40 d
    assert t21.info.phase_window == (-10.0, 40.0) and kept.info.phase_window == (-10.0, 85.0)
    assert "d outside (-10, 40)" in report


def test_map_fit_uses_observations_to_80_days(g25):
    """One SN simulated at its catalogue peak (true t_max = 0, so the epochs are the model
    phases, to +80 d) and fitted as bayesn fits: FixedPopulation with a free time of
    maximum and G25_85day's R_V population. (L-BFGS on the SN's vector: for one SN the
    same problem as the default per-SN BFGS, and a third of its compile time.)"""
    phases = (-8.0, -4.0, 0.0, 4.0, 9.0, 15.0, 22.0, 30.0, 38.0, 50.0, 60.0, 70.0, 80.0)
    bands = ("B_CSP", "V_CSP", "i_CSP", "J_RC1", "H_RC")
    survey, truth = sd.simulate_survey(
        jax.random.key(85), g25, sd.FixedPopulation(free_tmax=False), n_sn=1,
        bands=bands, phases=phases, z_range=(0.02, 0.04), mag_err=0.02,
    )  # fmt: skip
    model = sd.HierarchicalModel(sed=g25, survey=survey, population=sd.FixedPopulation())
    prepared = model.prepared
    late = survey.phase()[survey.mask] > 40.0
    assert late.sum() == len(bands) * 4  # +50, +60, +70, +80 in every band
    assert prepared.info.drops == () and prepared.info.phase_window == (-10.0, 85.0)
    assert np.asarray(prepared.observed_mask()).sum() == survey.mask.sum()
    assert np.asarray(prepared.phase)[np.asarray(prepared.mask)].max() > 79.0

    fit = sd.MAP("lbfgs").run(model, jax.random.key(0))
    assert bool(fit.converged)
    for name in ("theta", "A_V", "R_V", "D", "t_max"):
        assert np.all(np.isfinite(np.asarray(fit.params[name]))), name
    np.testing.assert_allclose(fit.params["D"], truth["D"], atol=0.1)
    np.testing.assert_allclose(fit.params["theta"], truth["theta"], atol=0.5)
    np.testing.assert_allclose(fit.params["A_V"], truth["A_V"], atol=0.15)
    np.testing.assert_allclose(fit.params["t_max"], 0.0, atol=1.0)
