"""Dust laws: parity with the `extinction` and `dust_extinction` packages, JAX
transformations, dtypes, errors, the Milky Way term and the YAML route to each law."""

from __future__ import annotations

from typing import ClassVar

import astropy.units as u
import dust_extinction.averages as de_averages
import dust_extinction.parameter_averages as de_rv
import equinox as eqx
import extinction
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sndust as sd
from sndust._dust import (
    CCM89,
    AbstractDustLaw,
    Calzetti00,
    Fitzpatrick19,
    Fitzpatrick99,
    FitzpatrickMassa07,
    Gordon03SMCBar,
    Gordon23,
    ODonnell94,
    milky_way_transmission,
)
from sndust._dust._fitzpatrick19 import _table as _f19_table
from sndust._errors import ModelError

R_VS = np.unique(np.r_[1.2, 1.5, 2.0, 2.61, 3.1, 4.0, 5.0, 6.0, np.linspace(1.2, 6.0, 9)])
TOL_MAG = 1e-8


def _dust_extinction(model):
    """``ref(wave, a_v, r_v)`` from a ``dust_extinction`` model class, evaluated at the
    same wavenumbers ``x = 10⁴/λ`` (μm⁻¹) the sndust law uses."""

    def ref(wave, a_v, r_v):
        law = model() if model in (de_averages.G03_SMCBar,) else model(Rv=r_v)
        return a_v * law(1e4 / np.asarray(wave, np.float64) / u.micron)

    return ref


# Each law, its reference implementation (called as ref(wave, a_v, r_v)), the
# wavenumbers (μm⁻¹) where its formula changes piece or has a spline knot, and the R_V
# grid of the parity test (the reference's calibrated range where it enforces one).
_F19_X = [float(x) for x in _f19_table()[0][1:]]
_G23_EDGES = [1 / 0.3, 1 / 0.33, 1 / 0.9, 1 / 1.1, 1.0, 5.9, 1 / 1.91409, 1 / 6.69747]
_FM07_EDGES = [1e4 / 2700, 6.097, 1e4 / 5530, 1e4 / 4000, 1e4 / 3300, 0.25, 0.5, 0.75, 1.0]
_SMC_EDGES = [1e4 / 2700, 5.9] + [1 / lam for lam in (2.198, 1.65, 1.25, 0.81, 0.65, 0.55)]
LAWS = [
    pytest.param(
        Fitzpatrick99(),
        extinction.fitzpatrick99,
        [1e4 / w for w in (26500.0, 12200.0, 6000.0, 5470.0, 4670.0, 4110.0, 2700.0, 2600.0)]
        + [5.9],
        R_VS,
        id="F99",
    ),
    pytest.param(CCM89(), extinction.ccm89, [1.1, 3.3, 5.9, 8.0], R_VS, id="CCM89"),
    pytest.param(ODonnell94(), extinction.odonnell94, [1.1, 3.3, 5.9, 8.0], R_VS, id="OD94"),
    pytest.param(
        Gordon23(), _dust_extinction(de_rv.G23), _G23_EDGES, np.linspace(2.3, 5.6, 12), id="G23"
    ),
    pytest.param(
        Fitzpatrick19(), _dust_extinction(de_rv.F19), _F19_X, np.linspace(2.0, 6.0, 9), id="F19"
    ),
    pytest.param(
        FitzpatrickMassa07(),
        lambda wave, a_v, r_v: extinction.fm07(wave, a_v),
        _FM07_EDGES,
        np.array([3.1]),
        id="FM07",
    ),
    pytest.param(
        Gordon03SMCBar(),
        _dust_extinction(de_averages.G03_SMCBar),
        _SMC_EDGES,
        np.array([2.74]),
        id="G03SMC",
    ),
    pytest.param(Calzetti00(), extinction.calzetti00, [1 / 0.63], R_VS, id="C00"),
]


def dense_grid(law: AbstractDustLaw, boundaries: list[float], n: int = 4000) -> np.ndarray:
    """Log-spaced wavelengths over the whole valid range, plus points at and next to
    every region boundary (as ``10⁴/x``, the way `extinction` converts)."""
    lo, hi = law.wave_range
    edges = np.array([1e4 / x for x in boundaries] + [lo, hi])
    near = [edges, np.nextafter(edges, 0.0), np.nextafter(edges, np.inf)]
    near += [edges * (1 + 1e-9), edges * (1 - 1e-9), edges * (1 + 1e-4), edges * (1 - 1e-4)]
    wave = np.concatenate([np.geomspace(lo, hi, n), *near])
    return np.unique(wave[(wave >= lo) & (wave <= hi)])


def reference_curves(ref, wave: np.ndarray, R_V: np.ndarray) -> np.ndarray:
    return np.stack([ref(wave, 1.0, float(r)) for r in R_V])


# --------------------------------------------------------------------------------------
# Parity with `extinction`


@pytest.mark.parametrize("law, ref, boundaries, r_vs", LAWS)
def test_matches_reference_numpy(law, ref, boundaries, r_vs):
    wave = dense_grid(law, boundaries)
    expected = reference_curves(ref, wave, r_vs)
    got = law.curve(wave, r_vs, xp=np)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    assert got.shape == (r_vs.size, wave.size)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL_MAG)
    for i, r in enumerate(r_vs[:3]):  # scalar R_V, through extinction()
        a_lam = law.extinction(wave, 1.0, float(r), xp=np)
        np.testing.assert_allclose(a_lam, expected[i], rtol=0, atol=TOL_MAG)


@pytest.mark.parametrize("law, ref, boundaries, r_vs", LAWS)
def test_matches_reference_jax(law, ref, boundaries, r_vs):
    wave = dense_grid(law, boundaries)
    expected = reference_curves(ref, wave, r_vs)
    got = law.curve(wave, jnp.asarray(r_vs))
    assert isinstance(got, jax.Array) and got.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(got), expected, rtol=0, atol=TOL_MAG)
    r = float(r_vs[len(r_vs) // 2])
    a_lam = law.extinction(wave, 2.0, r)
    np.testing.assert_allclose(np.asarray(a_lam), ref(wave, 2.0, r), rtol=0, atol=TOL_MAG)


def test_v_band_normalisation():
    # CCM89 has a(x) = 1, b(x) = 0 near 5494.5 Å; F99 passes through A/A_V = 1 near V.
    for law in (CCM89(), ODonnell94()):
        np.testing.assert_allclose(law.curve(np.array([5494.5]), 2.0, xp=np), 1.0, atol=2e-3)
    np.testing.assert_allclose(Fitzpatrick99().curve(np.array([5470.0]), 3.1, xp=np), 1, atol=0.02)


# --------------------------------------------------------------------------------------
# JAX transformations


def _wave_sample(law: AbstractDustLaw, n: int = 150) -> np.ndarray:
    lo, hi = law.wave_range
    return np.geomspace(lo, hi, n)


@pytest.mark.parametrize("law, ref, boundaries, r_vs", LAWS)
def test_jit_equals_eager(law, ref, boundaries, r_vs):
    wave = _wave_sample(law)
    A_V = jnp.array([0.1, 0.5, 1.3])
    R_V = jnp.array([1.5, 3.1, 4.7])
    eager = law.extinction(wave, A_V, R_V)
    jitted = jax.jit(lambda a, r: law.extinction(wave, a, r))(A_V, R_V)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-14, atol=1e-15)

    # Precomputed wavelengths passed as (traced) arguments: one trace for all R_V.
    pre = law.precompute(wave)

    @eqx.filter_jit
    @eqx.debug.assert_max_traces(max_traces=1)
    def curve(pre, R_V):
        return law.curve_from(pre, R_V)

    for r in (1.5, 2.2, 5.0):
        np.testing.assert_allclose(
            np.asarray(curve(pre, jnp.asarray(r))),
            law.curve(wave, r, xp=np),
            rtol=1e-14,
            atol=1e-15,
        )


@pytest.mark.parametrize("law, ref, boundaries, r_vs", LAWS)
def test_vectorised_over_sne(law, ref, boundaries, r_vs):
    wave = _wave_sample(law)
    n_sn = 5
    A_V = jnp.linspace(0.05, 1.5, n_sn)
    R_V = jnp.linspace(1.3, 5.5, n_sn)
    batched = law.extinction(wave, A_V, R_V)
    assert batched.shape == (n_sn, wave.size)
    loop = np.stack([np.asarray(law.extinction(wave, A_V[i], R_V[i])) for i in range(n_sn)])
    np.testing.assert_allclose(np.asarray(batched), loop, rtol=1e-14, atol=1e-15)
    vmapped = jax.vmap(lambda a, r: law.extinction(wave, a, r))(A_V, R_V)
    np.testing.assert_allclose(np.asarray(vmapped), loop, rtol=1e-14, atol=1e-15)

    # Broadcasting: one R_V for all SNe, or one A_V for all R_V.
    shared_R_V = law.extinction(wave, A_V, 3.1)
    assert shared_R_V.shape == (n_sn, wave.size)
    np.testing.assert_allclose(
        np.asarray(shared_R_V),
        np.asarray(A_V)[:, None] * law.curve(wave, 3.1, xp=np),
        rtol=1e-14,
        atol=1e-15,
    )
    shared_A_V = law.extinction(wave, 0.7, R_V)
    assert shared_A_V.shape == (n_sn, wave.size)
    np.testing.assert_allclose(
        np.asarray(shared_A_V), 0.7 * law.curve(wave, R_V, xp=np), rtol=1e-14, atol=1e-15
    )
    # A batch of any shape, and the NumPy path.
    grid = law.curve(wave, np.full((2, 3), 2.5), xp=np)
    assert grid.shape == (2, 3, wave.size)
    np_batched = law.extinction(wave, np.asarray(A_V), np.asarray(R_V), xp=np)
    np.testing.assert_allclose(np_batched, loop, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("law, ref, boundaries, r_vs", LAWS)
@pytest.mark.parametrize("R_V", [1.4, 3.1, 5.5])
def test_gradients_match_finite_differences(law, ref, boundaries, r_vs, R_V):
    wave = _wave_sample(law)
    A_V = 0.8
    d_R_V = jax.jacfwd(lambda r: law.extinction(wave, A_V, r), argnums=0)(jnp.asarray(R_V))
    d_A_V = jax.jacrev(lambda a: law.extinction(wave, a, R_V))(jnp.asarray(A_V))
    h = 1e-5
    fd_R_V = law.extinction(wave, A_V, R_V + h, xp=np) - law.extinction(wave, A_V, R_V - h, xp=np)
    fd_R_V /= 2 * h
    fd_A_V = law.extinction(wave, A_V + h, R_V, xp=np) - law.extinction(wave, A_V - h, R_V, xp=np)
    fd_A_V /= 2 * h
    np.testing.assert_allclose(np.asarray(d_R_V), fd_R_V, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.asarray(d_A_V), fd_A_V, rtol=1e-6, atol=1e-9)

    # Per-SN R_V: the gradient of a sum is the per-SN derivative.
    R_V_sn = np.array([R_V, R_V + 0.3])
    A_V_sn = np.array([A_V, 0.2])
    grad = jax.grad(lambda r: law.extinction(wave, A_V_sn, r).sum())(jnp.asarray(R_V_sn))

    def total(r):
        return law.extinction(wave, A_V_sn, r, xp=np).sum()

    fd = [(total(R_V_sn + h * e) - total(R_V_sn - h * e)) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(np.asarray(grad), fd, rtol=1e-6)


# --------------------------------------------------------------------------------------
# Precision


@pytest.mark.parametrize("law, ref, boundaries, r_vs", LAWS)
def test_float32_stays_float32(law, ref, boundaries, r_vs):
    wave = dense_grid(law, boundaries, n=1000)
    pre = law.precompute(wave)
    pre32 = jax.tree.map(lambda leaf: jnp.asarray(leaf, dtype=jnp.float32), pre)
    R_V = np.array([1.2, 2.61, 3.1, 6.0])
    out32 = law.curve_from(pre32, jnp.asarray(R_V, dtype=jnp.float32))
    assert out32.dtype == jnp.float32
    a_lam32 = jax.jit(lambda p, r: law.curve_from(p, r))(pre32, jnp.float32(3.1))
    assert a_lam32.dtype == jnp.float32
    out64 = law.curve_from(pre, R_V, xp=np)
    # float32 rounding relative to the curve's scale (some curves cross zero at low R_V)
    atol = 1e-6 * np.abs(out64).max()
    np.testing.assert_allclose(np.asarray(out32, dtype=np.float64), out64, rtol=1e-5, atol=atol)


# --------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("law, ref, boundaries, r_vs", LAWS)
def test_outside_range_raises(law, ref, boundaries, r_vs):
    lo, hi = law.wave_range
    name = type(law).__name__
    for bad in (lo * (1 - 1e-6), hi * (1 + 1e-6), np.nan, -5000.0):
        wave = np.array([5000.0, bad])
        with pytest.raises(ModelError) as info:
            law.curve(wave, 3.1)
        message = str(info.value)
        assert name in message and f"{lo:g}" in message and f"{hi:g}" in message
    with pytest.raises(ModelError, match=name):
        law.extinction(np.array([lo / 2]), 0.5, 3.1, xp=np)


@pytest.mark.parametrize("law, ref, boundaries, r_vs", LAWS)
def test_traced_wavelengths_raise(law, ref, boundaries, r_vs):
    with pytest.raises(ModelError, match="fixed wavelengths"):
        jax.jit(lambda wave: law.curve(wave, 3.1))(jnp.array([4000.0, 5000.0]))


def test_abstract_law_cannot_be_instantiated():
    with pytest.raises(TypeError):
        AbstractDustLaw()


# --------------------------------------------------------------------------------------
# Milky Way


def _mw_reference(wave: np.ndarray, ebv: float) -> np.ndarray:
    return 10 ** (-0.4 * extinction.fitzpatrick99(wave, 3.1 * ebv, 3.1))


def test_milky_way_transmission_shared_grid():
    wave = np.geomspace(910.0, 60000.0, 3000)
    ebv = np.array([0.0, 0.01, 0.05, 0.3, 1.0])
    got = milky_way_transmission(wave, ebv)
    assert got.shape == (ebv.size, wave.size) and got.dtype == np.float64
    expected = np.stack([_mw_reference(wave, e) for e in ebv])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    one = milky_way_transmission(wave, 0.05)
    assert one.shape == wave.shape
    np.testing.assert_allclose(one, expected[2], rtol=1e-12, atol=0)


def test_milky_way_transmission_per_sn_grid():
    rest = np.geomspace(2000.0, 20000.0, 500)
    z = np.array([0.01, 0.1, 0.5, 1.2])
    ebv = np.array([0.02, 0.1, 0.04, 0.2])
    wave_obs = rest[None, :] * (1 + z[:, None])
    got = milky_way_transmission(wave_obs, ebv)
    assert got.shape == wave_obs.shape
    expected = np.stack([_mw_reference(w, e) for w, e in zip(wave_obs, ebv)])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    # Another law and R_V.
    ccm = milky_way_transmission(wave_obs[:1, :100], ebv[:1], R_V=2.5, law=CCM89())
    np.testing.assert_allclose(
        ccm[0], 10 ** (-0.4 * extinction.ccm89(wave_obs[0, :100], 2.5 * ebv[0], 2.5)), rtol=1e-12
    )


def test_milky_way_outside_range_raises():
    with pytest.raises(ModelError, match="Fitzpatrick99"):
        milky_way_transmission(np.array([5000.0, 70000.0]), np.array([0.1]))


def test_milky_way_fixed_curves_use_their_own_R_V():
    wave = np.geomspace(3000.0, 20000.0, 200)
    smc = milky_way_transmission(wave, 0.1, law=Gordon03SMCBar())
    expected = 10 ** (-0.4 * de_averages.G03_SMCBar()(1e4 / wave / u.micron) * 2.74 * 0.1)
    np.testing.assert_allclose(smc, expected, rtol=1e-12)
    fm07 = milky_way_transmission(wave, 0.1, R_V=3.1, law=FitzpatrickMassa07())
    np.testing.assert_allclose(fm07, 10 ** (-0.4 * extinction.fm07(wave, 0.31)), rtol=1e-12)
    with pytest.raises(ModelError, match=r"Gordon03SMCBar is a fixed curve with R_V = 2\.74"):
        milky_way_transmission(wave, 0.1, R_V=3.1, law=Gordon03SMCBar())


@pytest.mark.parametrize("law", [FitzpatrickMassa07(), Gordon03SMCBar()], ids=["FM07", "G03SMC"])
def test_fixed_curves_do_not_depend_on_R_V(law):
    wave = _wave_sample(law)
    assert law.fixed_R_V is not None and law.R_V_range is None
    grad = jax.grad(lambda r: law.extinction(wave, 0.5, r).sum())(jnp.asarray(3.0))
    assert float(grad) == 0.0
    np.testing.assert_array_equal(law.curve(wave, 2.0, xp=np), law.curve(wave, 5.0, xp=np))


# --------------------------------------------------------------------------------------
# A law outside its range inside `prepare`: the SN and the band are named


def _two_sn_survey(band: str, z: float):
    mjd = [60000.0 + np.array([-5.0, 0.0, 10.0]) * (1 + z)] * 2
    ones = [np.ones(3)] * 2
    return sd.Survey.from_arrays(
        ["sn-a", "sn-b"], mjd, [[band] * 3] * 2, ones, ones, z_hel=[z, z], peak_mjd=[6e4, 6e4],
        mwebv=0.05,
    )  # fmt: skip


def test_milky_way_law_outside_its_range_names_the_sn_and_band():
    sed = sd.BayeSNModel.load("W22")
    survey = _two_sn_survey("K", 0.3)  # rest frame inside W22, observed beyond 2.2 μm
    with pytest.raises(ModelError) as info:
        sd.prepare(survey, sed, milky_way=Calzetti00())
    message = str(info.value)
    for part in ("SN sn-a", "band K", "Milky Way dust", "Calzetti00", "1200", "22000"):
        assert part in message, message
    sd.prepare(survey, sed)  # F99 (to 6 μm) covers it


class _Narrow(AbstractDustLaw):
    """A law of one's own defined on 4000–9000 Å only."""

    wave_range: ClassVar[tuple[float, float]] = (4000.0, 9000.0)

    def precompute(self, wave):
        from sndust._dust._base import _wavenumber

        return (_wavenumber(self, wave),)

    def curve_from(self, pre, R_V, xp=jnp):
        R_V = xp.asarray(R_V)
        return pre[0] / 1.82 + xp.reshape(xp.zeros_like(R_V), xp.shape(R_V) + (1,))


def test_host_law_outside_its_range_names_the_sn_and_band():
    sed = sd.BayeSNModel.load("T21")
    with pytest.raises(ModelError) as info:
        sd.prepare(_two_sn_survey("g_PS1", 0.01), sed, _Narrow())
    message = str(info.value)
    for part in ("host dust law _Narrow", "4000-9000 Å", "sn-a g_PS1", "sn-b g_PS1"):
        assert part in message, message
    # r and i lie inside the law's range in the rest frame at z = 0.1: the grid's other
    # bins are never used, so the fit's arrays are finite
    prepared = sd.prepare(_two_sn_survey("r_PS1", 0.1), sed, _Narrow())
    e = jnp.zeros((2, sed.n_eps))
    flux = prepared.fluxcal(theta=0.0, A_V=0.3, R_V=3.0, distmod=38.3, e=e)
    assert np.all(np.isfinite(np.asarray(flux)))


# --------------------------------------------------------------------------------------
# The YAML route: `model.dust` and `model.milky_way` select each law, and a fit runs


@pytest.mark.parametrize(
    "name", ["Gordon23", "Fitzpatrick19", "FitzpatrickMassa07", "Gordon03SMCBar", "Calzetti00"]
)
def test_a_yaml_config_selecting_the_law_fits_by_map(name, foundation_dir, tmp_path):
    snids = ["ASASSN-15bc", "2016W"]
    path = tmp_path / "fit.yaml"
    path.write_text(
        f"survey:\n  path: {foundation_dir}\n  pattern: Foundation_DR1_*.txt\n"
        "  bands: {g: g_PS1, r: r_PS1, i: i_PS1, z: z_PS1}\n"
        f"cuts:\n  snids: {snids}\n"
        f"model:\n  population: FixedPopulation\n  dust: {name}\n  milky_way: {name}\n"
        "sampler:\n  method: MAP\n  samples: 50\n  map_steps: 150\n"
        f"output:\n  dir: {tmp_path / 'fit'}\n  plots: false\n"
    )
    result = sd.run_fit(sd.load_config(path, "fit"), quiet=True)
    cls = getattr(sd, name)
    info = result["model"].prepared.info
    assert type(result["model"].prepared.dust) is cls
    assert type(info.milky_way[0]) is cls
    assert info.milky_way[1] == (cls.fixed_R_V or 3.1)
    post = result["posterior"].posterior
    assert post.sizes["sn"] == 2 and np.all(np.isfinite(post["A_V"].values))
    table = sd.read_fitres(tmp_path / "fit" / "distances.FITRES")
    assert sorted(table["CID"]) == sorted(snids)
    assert np.all(np.abs(table["MURES"]) < 1.0)  # distances near the Hubble law
