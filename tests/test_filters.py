"""Filters and zero points against bayesn's tables and sncosmo."""

from __future__ import annotations

import numpy as np
import pytest

import sndust as sd


@pytest.fixture(scope="module")
def bank():
    return sd.FilterBank.builtin()


def test_builtin_bank_has_every_bayesn_filter(bank, bayesn_reference):
    ref = np.load(bayesn_reference / "T21.npz")
    assert set(bank.names) == {str(n) for n in ref["zp_names"]}
    assert len(bank) == 86


def test_zero_points_limits_offsets_equal_bayesn(bank, bayesn_reference):
    ref = np.load(bayesn_reference / "T21.npz")
    for name, zp, lim, off in zip(
        ref["zp_names"], ref["zp_values"], ref["zp_limits"], ref["zp_offsets"]
    ):
        name = str(name)
        assert bank.zero_point(name) == pytest.approx(zp, abs=1e-10), name
        assert bank[name].limits == pytest.approx(tuple(lim), abs=1e-9), name
        assert bank.offset(name) == pytest.approx(off, abs=1e-12), name


def test_ab_zero_point_matches_sncosmo():
    """10^{0.4 zp} ∫λT dλ / (hc) is sncosmo's AB zero-point photon flux."""
    sncosmo = pytest.importorskip("sncosmo")
    bank = sd.FilterBank()
    for name in ("bessellb", "bessellv", "besselli"):
        bp = sncosmo.get_bandpass(name)
        bank.add_bandpass(bp)
        h_c = 6.62607015e-27 * 2.99792458e18  # erg Å
        ours = 10 ** (0.4 * bank.zero_point(name)) * np.trapezoid(bp.wave * bp.trans, bp.wave) / h_c
        theirs = sncosmo.get_magsystem("ab").zpbandflux(bp)
        assert ours == pytest.approx(theirs, rel=2e-3), name


def test_custom_filters_from_arrays_file_yaml_and_bandpass(tmp_path, bank):
    g = bank["g_PS1"]
    custom = sd.FilterBank()
    custom.add("g_arr", g.wave, g.trans)
    path = tmp_path / "g.dat"
    np.savetxt(path, np.column_stack([g.wave / 10, g.trans]))
    custom.add_file("g_nm", path, lam_unit="nm")
    (tmp_path / "f.yaml").write_text(
        "filters:\n  g_yaml:\n    magsys: ab\n    magzero: 0.1\n    path: g.dat\n    lam_unit: nm\n"
    )
    custom.load_yaml(tmp_path / "f.yaml")
    zp = bank.zero_point("g_PS1")
    for name in ("g_arr", "g_nm", "g_yaml"):
        assert custom.zero_point(name) == pytest.approx(zp, abs=1e-9)
    assert custom.offset("g_yaml") == 0.1


@pytest.mark.parametrize("z", [0.0, 0.03, 0.3])
def test_rest_weights_normalised_and_shifted(bank, z):
    sed = sd.BayeSNModel.load("T21")
    w = bank["r_PS1"].rest_weights(sed.rest_wave, z)
    assert w.sum() == pytest.approx(1.0)
    centre = np.sum(w * sed.rest_wave)
    lam, trans = bank["r_PS1"].wave, bank["r_PS1"].trans
    expected = np.trapezoid(lam**2 * trans, lam) / np.trapezoid(lam * trans, lam) / (1 + z)
    assert centre == pytest.approx(expected, rel=2e-3)


def test_unknown_filter_lists_available(bank):
    with pytest.raises(sd.ModelError, match="g_PS1") as exc:
        bank["g_PS2"]
    assert "Closest" in str(exc.value)


def test_bad_filter_curves(tmp_path):
    bank = sd.FilterBank()
    with pytest.raises(sd.ModelError, match="strictly increasing"):
        bank.add("x", [3, 2, 1], [1, 1, 1])
    with pytest.raises(sd.ModelError, match="no positive"):
        bank.add("x", [1, 2, 3], [0, 0, 0])
    with pytest.raises(sd.ModelError, match="not found"):
        bank.add_file("x", tmp_path / "missing.dat")
    bad = tmp_path / "bad.dat"
    bad.write_text("4000 0.1\n4100 abc\n")
    with pytest.raises(sd.ModelError, match="bad.dat"):
        bank.add_file("x", bad)
    bank.add("v", [4000.0, 5000.0, 6000.0], [0.0, 1.0, 0.0], magsys="vegaa")
    with pytest.raises(sd.ModelError, match="unknown magnitude system"):
        bank.zero_point("v")
