"""FLUXCAL parity with bayesn 0.4.0 (the reference implementation).

bayesn runs in a subprocess (tests/reference/make_bayesn_reference.py) — it flips
``jax_enable_x64`` at import — and writes its fluxes for (a) the 180 Foundation DR1 light
curves under three random parameter draws and (b) a survey simulated by
``SEDmodel.simulate_light_curve`` with a free time of maximum. sndust must reproduce every
flux to 1e-6 relative in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MODELS
from helpers import fluxcal_of_reference_simulation

import sndust as sd

PS1 = {"g": "g_PS1", "r": "r_PS1", "i": "i_PS1", "z": "z_PS1"}
RTOL = 1e-6


@pytest.fixture(scope="module", params=MODELS)
def model_and_ref(request, bayesn_reference):
    name = request.param
    return name, sd.BayeSNModel.load(name), dict(np.load(bayesn_reference / f"{name}.npz"))


def _obs_keys(prepared):
    """(snid, mjd rounded, band) for every used observation, with its (sn, obs) position."""
    survey = prepared.info.survey
    ok = np.asarray(prepared.observed_mask())
    keys = {}
    for s, j in zip(*np.nonzero(ok)):
        band = survey.band_names[survey.band[s, j]]
        keys[(survey.snid[s], round(float(survey.mjd[s, j]), 5), band)] = (s, j)
    return keys


def test_foundation_fluxcal_matches_bayesn(model_and_ref, foundation_dir):
    name, sed, ref = model_and_ref
    survey = sd.Survey.from_snana(sorted(foundation_dir.glob("Foundation_DR1_*.txt")), bands=PS1)
    prepared = sd.prepare(survey, sed)
    # The same SNe and the same observations survive BayeSN's cuts.
    assert list(prepared.snid) == [str(s) for s in ref["fnd_snid"]] or sorted(
        prepared.snid
    ) == sorted(str(s) for s in ref["fnd_snid"])
    keys = _obs_keys(prepared)
    ref_keys = [
        (str(ref["fnd_snid"][k]), round(float(m), 5), str(b))
        for k, m, b in zip(ref["fnd_obs_sn"], ref["fnd_obs_mjd"], ref["fnd_obs_band"])
    ]
    assert set(ref_keys) == set(keys), "sndust and bayesn keep different observations"
    order = [prepared.snid.index(str(s)) for s in ref["fnd_snid"]]
    inverse = np.argsort(order)
    pos = np.array([keys[k] for k in ref_keys])
    for d in range(3):
        params = dict(
            theta=ref[f"fnd_theta_{d}"][inverse],
            A_V=ref[f"fnd_AV_{d}"][inverse],
            R_V=ref[f"fnd_RV_{d}"][inverse],
            e=ref[f"fnd_e_{d}"][inverse],
            distmod=ref[f"fnd_Ds_{d}"][inverse],
        )
        flux = np.asarray(prepared.fluxcal(**params))[pos[:, 0], pos[:, 1]]
        expected = ref[f"fnd_flux_{d}"]
        rel = np.abs(flux / expected - 1)
        assert rel.max() < RTOL, f"{name} draw {d}: max relative difference {rel.max():.2e}"


def test_simulated_survey_matches_bayesn_with_free_tmax(model_and_ref):
    name, sed, ref = model_and_ref
    flux, _ = fluxcal_of_reference_simulation(sed, ref)
    rel = np.abs(flux / ref["sim_flux"] - 1)
    assert rel.max() < RTOL, f"{name}: max relative difference {rel.max():.2e}"
