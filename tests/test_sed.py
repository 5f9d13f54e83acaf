"""BayeSN SED model loading and its pieces."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import sndust as sd


@pytest.mark.parametrize("name, n_l", [("T21", 6), ("W22", 11), ("M20", 9)])
def test_builtin_models_load(name, n_l):
    sed = sd.BayeSNModel.load(name)
    assert sed.W0.shape == sed.W1.shape == (n_l, 6)
    assert sed.L_sigma.shape == (sed.n_eps, sed.n_eps) == ((n_l - 2) * 6,) * 2
    assert sed.M0 == -19.5
    assert sed.rest_wave.shape == (300,)
    assert sed.rest_wave[0] == pytest.approx(sed.l_knots[0])
    assert sed.rest_wave[-1] == pytest.approx(sed.l_knots[-1])
    assert np.allclose(np.diff(np.log10(sed.rest_wave)), np.diff(np.log10(sed.rest_wave))[0])
    assert sed.phase_range == (-10.0, 40.0)
    assert sed.hsiao_flux.shape == (300, 105)
    # L_Σ is a Cholesky factor: lower triangular with positive diagonal
    assert np.allclose(np.triu(sed.L_sigma, 1), 0) and np.all(np.diag(sed.L_sigma) > 0)


def test_bayesn_spelling_and_path(tmp_path):
    t21 = sd.BayeSNModel.load("T21")
    assert np.array_equal(sd.BayeSNModel.load("T21_model").W0, t21.W0)
    assert sd.builtin_models() == ("G25_85day", "M20", "T21", "W22")
    src = sd._files.model_files_dir() / "models" / "T21" / "BAYESN.YAML"
    (tmp_path / "BAYESN.YAML").write_text(src.read_text())
    assert np.array_equal(sd.BayeSNModel.load(tmp_path).W1, t21.W1)
    assert np.array_equal(sd.BayeSNModel.load(tmp_path / "BAYESN.YAML").W1, t21.W1)


def test_hsiao_resampling_is_a_natural_spline_in_wavelength():
    """At the template's own wavelengths the resampled template equals the raw one."""
    import h5py

    sed = sd.BayeSNModel.load("T21")
    with h5py.File(sd._files.model_files_dir() / "templates" / "hsiao.h5") as f:
        wave, flux = f["default/wave"][()], f["default/flux"][()]
    on_knot = np.isin(np.round(sed.rest_wave, 6), wave)
    assert on_knot.sum() >= 1  # 3500 Å and 9500 Å are template wavelengths
    i = np.flatnonzero(on_knot)
    j = np.searchsorted(wave, np.round(sed.rest_wave[i], 6))
    np.testing.assert_allclose(sed.hsiao_flux[i], flux[:, j].T, rtol=1e-12)


def test_unknown_model_lists_builtins():
    with pytest.raises(sd.ModelError, match="G25_85day, M20, T21, W22") as exc:
        sd.BayeSNModel.load("T12")
    assert "Did you mean 'T21'" in str(exc.value)


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda p: p.pop("W1"), "W1"),
        (lambda p: p.__setitem__("W0", [[1.0, 2.0]]), "W0"),
        (lambda p: p.__setitem__("L_SIGMA_EPSILON", "abc"), "L_SIGMA_EPSILON"),
        (lambda p: p.pop("RV"), "RV"),
        (lambda p: p.__setitem__("M0", float("nan")), "M0"),
    ],
)
def test_malformed_model_file_names_file_and_key(tmp_path, edit, field):
    src = sd._files.model_files_dir() / "models" / "T21" / "BAYESN.YAML"
    params = yaml.safe_load(src.read_text())
    edit(params)
    path = tmp_path / "BAYESN.YAML"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(sd.ModelError) as exc:
        sd.BayeSNModel.load(path)
    assert str(path) in str(exc.value) and field in str(exc.value)


def test_missing_model_path():
    with pytest.raises(sd.ModelError, match="no BayeSN model file"):
        sd.BayeSNModel.load("/nonexistent/BAYESN.YAML")
