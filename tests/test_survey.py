"""Survey and its readers, on the real Foundation DR1 light curves.

Independent references: sncosmo's SNANA readers (text and FITS), the SNANA FITRES table
shipped with the data, and the raw file text itself.
"""

from __future__ import annotations

import dataclasses
import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import sncosmo
from astropy.io import fits
from astropy.table import Table

import sndust as sd
from sndust import ConfigError, DataError
from sndust._survey import Drop, LightCurve, Survey

PS1 = {b: f"{b}_PS1" for b in "griz"}
RAW = {v: k for k, v in PS1.items()}
PER_SN = ("z_hel", "z_cmb", "z_err", "peak_mjd", "mwebv", "log_mass")
PER_OBS = ("mjd", "fluxcal", "fluxcal_err", "band", "mask")


# --------------------------------------------------------------------------- helpers
def assert_same_survey(a: Survey, b: Survey, rtol: float = 0.0) -> None:
    """Same SNe, observations and per-SN quantities (band indices compared by name)."""
    assert a.snid == b.snid
    assert a.n_obs == b.n_obs
    np.testing.assert_array_equal(a.mask, b.mask)
    names_a = np.asarray(a.band_names)[a.band][a.mask]
    names_b = np.asarray(b.band_names)[b.band][b.mask]
    np.testing.assert_array_equal(names_a, names_b)
    for name in ("mjd", "fluxcal", "fluxcal_err"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, err_msg=name)
    for name in PER_SN:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, err_msg=name)


def write_fits_pair(survey: Survey, head: Path, phot: Path, separator_in_range=()) -> None:
    """Write ``survey`` as an SNANA FITS HEAD/PHOT pair (raw PS1 band names, a -777 row
    after each SN; for SNIDs in ``separator_in_range`` PTROBS_MAX includes that row)."""
    cols = {k: [] for k in ("MJD", "BAND", "FLUXCAL", "FLUXCALERR")}
    ptr_min, ptr_max = [], []
    for lc in survey:
        ptr_min.append(len(cols["MJD"]) + 1)
        cols["MJD"] += lc.mjd.tolist() + [-777.0]
        cols["BAND"] += [RAW[b] for b in lc.band.tolist()] + ["-"]
        cols["FLUXCAL"] += lc.fluxcal.tolist() + [0.0]
        cols["FLUXCALERR"] += lc.fluxcal_err.tolist() + [0.0]
        ptr_max.append(len(cols["MJD"]) - (0 if lc.snid in separator_in_range else 1))
    phot_hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column("MJD", "D", array=cols["MJD"]),
            fits.Column("BAND", "2A", array=cols["BAND"]),
            fits.Column("FLUXCAL", "D", array=cols["FLUXCAL"]),
            fits.Column("FLUXCALERR", "D", array=cols["FLUXCALERR"]),
        ]
    )
    head_hdu = fits.BinTableHDU.from_columns(
        [
            fits.Column("SNID", "20A", array=list(survey.snid)),
            fits.Column("REDSHIFT_HELIO", "D", array=survey.z_hel),
            fits.Column("REDSHIFT_CMB", "D", array=survey.z_cmb),
            fits.Column("REDSHIFT_CMB_ERR", "D", array=survey.z_err),
            fits.Column("SEARCH_PEAKMJD", "D", array=survey.peak_mjd),
            fits.Column("MWEBV", "D", array=survey.mwebv),
            fits.Column("HOSTGAL_LOGMASS", "D", array=survey.log_mass),
            fits.Column("PTROBS_MIN", "J", array=ptr_min),
            fits.Column("PTROBS_MAX", "J", array=ptr_max),
        ]
    )
    primary = fits.PrimaryHDU()
    primary.header["SURVEY"] = "FOUNDATION"
    fits.HDUList([primary, head_hdu]).writeto(head)
    fits.HDUList([fits.PrimaryHDU(), phot_hdu]).writeto(phot)


def text(value) -> str:
    return (value.decode() if isinstance(value, bytes) else str(value)).strip()


def obs_lines(path: Path) -> list[int]:
    """1-based numbers of the 'OBS:' lines of a text file (read independently)."""
    return [i for i, t in enumerate(path.read_text().splitlines(), 1) if t.startswith("OBS:")]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def foundation(foundation_files) -> Survey:
    return Survey.from_snana(foundation_files, bands=PS1)


@pytest.fixture(scope="module")
def small(foundation) -> Survey:
    """Ten Foundation SNe, for the slower round trips."""
    return foundation.select(list(range(0, 180, 18)))


# --------------------------------------------------------------------------- Foundation
def test_foundation_files(foundation, foundation_files):
    assert len(foundation_files) == 180
    assert foundation.n_sn == len(foundation) == 180
    assert foundation.band_names == ("g_PS1", "r_PS1", "i_PS1", "z_PS1")
    nobs = [meta["NOBS"] for meta in foundation.meta]
    assert foundation.n_obs == max(nobs) == 68
    np.testing.assert_array_equal(foundation.mask.sum(axis=1), nobs)
    np.testing.assert_array_equal(
        foundation.mask.sum(axis=1), [len(obs_lines(p)) for p in foundation_files]
    )
    assert foundation.drops == ()
    assert foundation.survey_name == ("FOUNDATION",) * 180
    # padding values
    pad = ~foundation.mask
    assert (foundation.mjd[pad] == 0).all() and (foundation.fluxcal[pad] == 0).all()
    assert (foundation.fluxcal_err[pad] == 1).all() and (foundation.band[pad] == 0).all()
    assert foundation.mjd.dtype == np.float64 and foundation.band.dtype == np.int32
    assert not np.isnan(foundation.log_mass).any()


@pytest.mark.parametrize(
    "snid, z_hel, z_cmb, z_err, peak, mwebv, log_mass",
    [
        ("2016W", 0.0192530, 0.0185546, 0.0000670, 57420.27212, 0.0599, 11.388),
        ("SN2016coj", None, 0.0048868, 0.0000630, None, None, None),
        ("ATLAS16agv", None, None, None, None, None, 6.0),  # placeholder mass in DR1
    ],
)
def test_foundation_header_values(
    foundation, foundation_dir, snid, z_hel, z_cmb, z_err, peak, mwebv, log_mass
):
    i = foundation.index(snid)
    expected = dict(
        z_hel=z_hel, z_cmb=z_cmb, z_err=z_err, peak_mjd=peak, mwebv=mwebv, log_mass=log_mass
    )
    for name, value in expected.items():
        if value is not None:
            assert getattr(foundation, name)[i] == pytest.approx(value, rel=1e-12), name
    assert foundation.sources[i] == str(foundation_dir / f"Foundation_DR1_{snid}.txt")


def test_foundation_light_curve_lines(foundation, foundation_files):
    lc = foundation.light_curve("2016W")
    assert isinstance(lc, LightCurve) and len(lc) == 29
    path = Path(lc.source)
    np.testing.assert_array_equal(lc.line, obs_lines(path))
    text = path.read_text().splitlines()
    first = text[lc.line[0] - 1].split()
    assert float(first[1]) == lc.mjd[0] and PS1[first[2]] == lc.band[0]
    assert lc.meta["MWEBV_ERR"] == 0.003 and lc.meta["VARLIST"][0] == "MJD"


def test_foundation_against_sncosmo(foundation, foundation_files):
    """Every file read by sncosmo.read_snana_ascii gives the same photometry and header."""
    for path in foundation_files:
        meta, tables = sncosmo.read_snana_ascii(str(path), default_tablename="OBS")
        obs = tables["OBS"]
        lc = foundation.light_curve(str(meta["SNID"]))
        np.testing.assert_array_equal(lc.mjd, np.asarray(obs["MJD"], float))
        np.testing.assert_array_equal(lc.fluxcal, np.asarray(obs["FLUXCAL"], float))
        np.testing.assert_array_equal(lc.fluxcal_err, np.asarray(obs["FLUXCALERR"], float))
        np.testing.assert_array_equal(lc.band, [PS1[b] for b in obs["FLT"]])
        for key, value in meta.items():
            if key == "END":
                continue
            if isinstance(value, str):
                assert str(lc.meta[key]) == value, (path.name, key)
            else:
                assert lc.meta[key] == pytest.approx(value, rel=1e-15), (path.name, key)


def test_foundation_directory_list_has_a_stale_entry(foundation_dir):
    """Foundation_DR1.LIST names Foundation_DR1_AT2016aj.txt, but the file is
    Foundation_DR1_AT2016ajl.txt (renamed upstream). The default is to refuse."""
    with pytest.raises(DataError) as info:
        Survey.from_snana(foundation_dir, bands=PS1)
    message = str(info.value)
    assert "Foundation_DR1.LIST:64" in message
    assert "Foundation_DR1_AT2016aj.txt" in message and "AT2016ajl" in message

    survey = Survey.from_snana(foundation_dir, bands=PS1, missing="drop")
    assert survey.n_sn == 179 and "AT2016aj" not in survey.snid
    (drop,) = survey.drops
    assert drop.band is None and drop.mjd is None
    assert "not found" in drop.reason and drop.source.endswith("Foundation_DR1.LIST:64")
    assert "Foundation_DR1_AT2016aj.txt" in survey.report()


def test_list_and_ignore_files(tmp_path, foundation_files, foundation):
    data = tmp_path / "MYDATA"
    data.mkdir()
    chosen = foundation_files[:5]
    for p in chosen:
        shutil.copy(p, data / p.name)
    (data / "MYDATA.LIST").write_text("\n".join(p.name for p in chosen) + "\n")
    snid_1 = foundation.light_curve(1).snid
    (data / "MYDATA.IGNORE").write_text(f"# not these\n{snid_1}\n{chosen[3].name}\n")

    survey = Survey.from_snana(data, bands=PS1)
    assert survey.n_sn == 3
    assert survey.snid == tuple(foundation.snid[i] for i in (0, 2, 4))
    reasons = {d.snid: d.reason for d in survey.drops}
    assert reasons[snid_1] == f"listed in {data / 'MYDATA.IGNORE'}:2"
    assert reasons[chosen[3].name] == f"listed in {data / 'MYDATA.IGNORE'}:3"
    assert_same_survey(survey, foundation.select([0, 2, 4]))

    assert Survey.from_snana(data / "MYDATA.LIST", bands=PS1).n_sn == 3
    assert Survey.from_snana(data, bands=PS1, ignore_file=False).n_sn == 5
    other = tmp_path / "other.IGNORE"
    other.write_text(foundation.snid[0] + "\n")
    assert Survey.from_snana(data, bands=PS1, ignore_file=other).n_sn == 4


def test_band_map_must_name_every_band(foundation_files):
    """A band missing from the map is an error at its first observation (never a silent
    pass-through to a built-in filter of that name); 'auto' keeps the names as they are;
    no map at all refuses any band."""
    first = foundation_files[0]
    r_line = next(
        n for n in obs_lines(first) if first.read_text().splitlines()[n - 1].split()[2] == "r"
    )
    with pytest.raises(DataError) as info:
        Survey.from_snana(foundation_files[:3], bands={"g": "g_PS1"})
    assert info.value.file == str(first) and info.value.line == r_line
    assert info.value.field == "FLT"
    assert "band 'r' is not in the band map (it names g)" in str(info.value)
    assert "bands='auto'" in str(info.value)
    with pytest.raises(DataError, match=r"no band map given for band 'g' \(the bands in this "):
        Survey.from_snana(foundation_files[:3])
    survey = Survey.from_snana(foundation_files[:3], bands="auto")
    assert survey.band_names == ("g", "r", "i", "z")
    mapped = Survey.from_snana(foundation_files[:3], bands=PS1)
    np.testing.assert_array_equal(survey.fluxcal, mapped.fluxcal)


def test_peak_key_fallback_and_z_err_floor(foundation_files, foundation):
    survey = Survey.from_snana(foundation_files[:4], bands=PS1, z_err_floor=0.001)
    np.testing.assert_array_equal(survey.peak_mjd, foundation.peak_mjd[:4])
    np.testing.assert_array_equal(survey.z_err, np.maximum(foundation.z_err[:4], 0.001))
    assert survey.notes == ()
    # a custom key absent from the header falls back to PEAKMJD, else fails
    with pytest.raises(DataError, match="'MY_PEAK' or 'PEAKMJD'") as info:
        Survey.from_snana(foundation_files[:1], bands=PS1, peak_mjd_key="MY_PEAK")
    assert info.value.field == "MY_PEAK"
    t = Table(
        {"mjd": [1.0], "band": ["g"], "FLUXCAL": [1.0], "FLUXCALERR": [1.0]},
        meta={"SNID": "a", "z": 0.1, "PEAKMJD": 3.0},
    )
    survey = Survey.from_tables([t], bands={"g": "g_PS1"}, peak_mjd_key="MY_PEAK")
    assert survey.peak_mjd[0] == 3.0
    assert "SN a: no MY_PEAK; using PEAKMJD" in survey.notes
    assert "SN a: no MWEBV; using 0" in survey.report()


def test_peak_dates_from_a_fitres_table(foundation, foundation_dir, tmp_path):
    fitres = foundation_dir / "Foundation_DR1.FITRES.TEXT"
    salt2 = sd.read_fitres(fitres)
    survey = foundation.with_peaks(fitres)
    expected = dict(zip(salt2["CID"].astype(str), salt2["PKMJD"]))
    np.testing.assert_array_equal(survey.peak_mjd, [expected[s] for s in survey.snid])
    np.testing.assert_array_equal(survey.fluxcal, foundation.fluxcal)  # nothing else moves
    assert any("PKMJD" in note for note in survey.notes)
    # phases follow the new peaks
    shift = (foundation.peak_mjd - survey.peak_mjd)[:, None] / (1 + survey.z_hel[:, None])
    m = survey.mask
    np.testing.assert_allclose(survey.phase()[m], (foundation.phase() + shift)[m], atol=1e-9)
    with pytest.raises(DataError, match="no peak-date column NOPE") as info:
        foundation.with_peaks(fitres, "NOPE")
    assert info.value.file == str(fitres)
    # numeric-looking names stay names
    bond = dataclasses.replace(foundation.select([0]), snid=("007",))
    sd.write_fitres(Table({"CID": ["007"], "PKMJD": [57000.5]}), tmp_path / "bond.FITRES")
    assert bond.with_peaks(tmp_path / "bond.FITRES").peak_mjd[0] == 57000.5
    short = salt2[salt2["CID"] != foundation.snid[3]]
    sd.write_fitres(short, tmp_path / "short.FITRES")
    with pytest.raises(
        DataError, match=f"1 SNe of the survey are not in the table: {foundation.snid[3]}"
    ):
        foundation.with_peaks(tmp_path / "short.FITRES")


# --------------------------------------------------------------------------- round trips
def test_fits_round_trip(tmp_path, small):
    head, phot = tmp_path / "FND_HEAD.FITS", tmp_path / "FND_PHOT.FITS"
    write_fits_pair(small, head, phot, separator_in_range={small.snid[3]})
    for path in (head, phot):  # HEAD or PHOT given directly
        survey = Survey.from_snana(path, bands=PS1)
        assert_same_survey(survey, small)
    assert survey.survey_name == ("FOUNDATION",) * small.n_sn
    # PHOT rows of the first SN are 1..n
    lc = survey.light_curve(0)
    np.testing.assert_array_equal(lc.line, np.arange(1, len(lc) + 1))

    # the same pair listed in a .LIST, gzipped
    gz = tmp_path / "gz"
    gz.mkdir()
    for path in (head, phot):
        (gz / (path.name + ".gz")).write_bytes(gzip.compress(path.read_bytes()))
    (gz / "gz.LIST").write_text("FND_HEAD.FITS.gz\n")
    assert_same_survey(Survey.from_snana(gz, bands=PS1), small)


def test_fits_reader_against_sncosmo(tmp_path, small):
    head, phot = tmp_path / "X_HEAD.FITS", tmp_path / "X_PHOT.FITS"
    write_fits_pair(small, head, phot)
    ours = Survey.from_snana(head, bands="auto")
    theirs = sncosmo.read_snana_fits(str(head), str(phot))
    assert len(theirs) == ours.n_sn
    for table, lc in zip(theirs, ours):
        table = table[np.asarray(table["MJD"]) != -777.0]
        assert text(table.meta["SNID"]) == lc.snid
        np.testing.assert_array_equal(lc.mjd, table["MJD"])
        np.testing.assert_array_equal(lc.fluxcal, table["FLUXCAL"])
        np.testing.assert_array_equal(lc.band, [text(b) for b in table["BAND"]])
        assert lc.meta["REDSHIFT_HELIO"] == table.meta["REDSHIFT_HELIO"]


def test_bayesn_table_round_trip(tmp_path, small):
    # one SN split over two files, as when photometry comes from two surveys
    first = Path(small.sources[0])
    text = first.read_text().splitlines()
    obs = [t for t in text if t.startswith("OBS:")]
    header = [t for t in text if not t.startswith(("OBS:", "NOBS:", "END:"))]
    for name, part in (("a.txt", obs[:10]), ("b.txt", obs[10:])):
        (tmp_path / name).write_text("\n".join(header + [f"NOBS: {len(part)}"] + part) + "\n")
    for source in small.sources[1:]:  # the rest as they are, beside the table
        shutil.copy(source, tmp_path / Path(source).name)

    z_cmb = small.z_cmb + 0.001  # the table's values must win over the headers'
    rows = ["# a BayeSN data table", "SNID SEARCH_PEAKMJD REDSHIFT_CMB REDSHIFT_CMB_ERR files"]
    for i, snid in enumerate(small.snid):
        files = "a.txt,b.txt" if i == 0 else Path(small.sources[i]).name
        rows.append(f"{snid} {float(small.peak_mjd[i])!r} {float(z_cmb[i])!r} 0.0005 {files}")
    table = tmp_path / "table.txt"
    table.write_text("\n".join(rows) + "\n")

    survey = Survey.from_bayesn_table(table, data_root=tmp_path, bands=PS1)
    np.testing.assert_array_equal(survey.z_cmb, z_cmb)
    assert (survey.z_err == 0.0005).all()
    expected = dataclasses.replace(small, z_cmb=z_cmb, z_err=np.full(small.n_sn, 0.0005))
    assert_same_survey(survey, expected)
    parts = [Path(p).resolve() for p in survey.sources[0].split(",")]
    assert parts == [tmp_path.resolve() / "a.txt", tmp_path.resolve() / "b.txt"]


def sncosmo_tables(survey: Survey, zp: float = 25.0) -> list[Table]:
    tables = []
    for lc in survey:
        scale = 10 ** (-0.4 * (27.5 - zp))
        t = Table(
            {
                "time": lc.mjd,
                "band": [RAW[b] for b in lc.band.tolist()],
                "flux": lc.fluxcal * scale,
                "fluxerr": lc.fluxcal_err * scale,
                "zp": np.full(len(lc), zp),
                "zpsys": ["ab"] * len(lc),
            }
        )
        m = lc.meta
        t.meta = {
            "name": lc.snid,
            "z": m["REDSHIFT_HELIO"],
            "z_cmb": m["REDSHIFT_CMB"],
            "z_cmb_err": m["REDSHIFT_CMB_ERR"],
            "t0": m["SEARCH_PEAKMJD"],
            "mwebv": m["MWEBV"],
            "log_mass": m["HOSTGAL_LOGMASS"],
            "survey": "FOUNDATION",
        }
        tables.append(t)
    return tables


def test_from_tables(small):
    tables = sncosmo_tables(small)
    survey = Survey.from_tables(tables, bands=PS1)
    assert_same_survey(survey, small, rtol=1e-13)
    assert survey.meta[0]["ZPSYS"] == "ab" and survey.survey_name[0] == "FOUNDATION"
    # FLUXCAL columns are taken as they are; one Table is accepted as well
    t = Table(
        {
            "mjd": small.light_curve(0).mjd,
            "FLT": [RAW[b] for b in small.light_curve(0).band],
            "FLUXCAL": small.light_curve(0).fluxcal,
            "FLUXCALERR": small.light_curve(0).fluxcal_err,
        },
        meta=dict(small.meta[0]),
    )
    assert_same_survey(Survey.from_tables(t, bands=PS1), small.select([0]))


def test_from_arrays(small):
    curves = list(small)
    survey = Survey.from_arrays(
        [lc.snid for lc in curves],
        [lc.mjd for lc in curves],
        [lc.band for lc in curves],
        [lc.fluxcal for lc in curves],
        [lc.fluxcal_err for lc in curves],
        z_hel=small.z_hel,
        peak_mjd=small.peak_mjd,
        z_cmb=small.z_cmb,
        z_err=small.z_err,
        mwebv=small.mwebv,
        log_mass=small.log_mass,
        survey="FOUNDATION",
    )
    assert_same_survey(survey, small)
    assert survey.survey_name == small.survey_name


def test_from_arrays_defaults_and_sentinels():
    survey = Survey.from_arrays(
        ["a", "b"],
        [[1.0, 2.0], [3.0]],
        [["x", "y"], ["y"]],
        [[1.0, 2.0], [3.0]],
        [[0.1, 0.1], [0.2]],
        z_hel=[0.02, 0.05],
        peak_mjd=[1.5, 2.5],
        log_mass=[-9.0, 10.5],
    )
    assert survey.n_sn == 2 and survey.n_obs == 2 and survey.band_names == ("x", "y")
    np.testing.assert_array_equal(survey.z_cmb, survey.z_hel)
    np.testing.assert_array_equal(survey.z_err, 0.0)
    np.testing.assert_array_equal(survey.mwebv, 0.0)
    assert np.isnan(survey.log_mass[0]) and survey.log_mass[1] == 10.5
    np.testing.assert_array_equal(survey.band, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(survey.mask, [[True, True], [True, False]])
    assert survey.light_curve("b").line is None


# --------------------------------------------------------------------------- container
def test_phase_select_iter_and_immutability(foundation):
    t = foundation.phase()
    i = foundation.index("2016W")
    expected = (foundation.light_curve(i).mjd - 57420.27212) / (1 + 0.0192530)
    np.testing.assert_allclose(t[i, foundation.mask[i]], expected, rtol=1e-14)
    assert (t[~foundation.mask] == 0).all()

    by_name = foundation.select(["2016W", "SN2016coj"])
    assert by_name.snid == ("2016W", "SN2016coj")
    assert by_name.n_obs == max(foundation.mask[foundation.index(s)].sum() for s in by_name.snid)
    assert foundation.select([i]).snid == ("2016W",)
    assert foundation.select(np.arange(180) < 3).snid == foundation.snid[:3]
    assert foundation.select([-1]).snid == foundation.snid[-1:]
    assert [lc.snid for lc in foundation] == list(foundation.snid)

    assert not foundation.mjd.flags.writeable
    with pytest.raises(ValueError):
        foundation.fluxcal[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        foundation.z_hel = foundation.z_cmb
    with pytest.raises(ConfigError, match="no supernova 'nope'"):
        foundation.light_curve("nope")
    with pytest.raises(ConfigError):
        foundation.select([180])


def fitres_z_cmb(foundation_dir: Path) -> dict[str, float]:
    lines = (foundation_dir / "Foundation_DR1.FITRES.TEXT").read_text().splitlines()
    names = next(t.split()[1:] for t in lines if t.startswith("VARNAMES:"))
    rows = [t.split()[1:] for t in lines if t.startswith("SN:")]
    return {r[names.index("CID")]: float(r[names.index("zCMB")]) for r in rows}


def test_redshift_cut_matches_fitres(foundation, foundation_dir):
    z = fitres_z_cmb(foundation_dir)
    assert len(z) == 180 and set(z) == set(foundation.snid)
    expected = {s for s, v in z.items() if 0.015 < v < 0.08}
    assert 165 <= len(expected) <= 167

    cut = foundation.cut(z_min=0.015, z_max=0.08)
    assert set(cut.snid) == expected and cut.n_sn == len(expected)
    assert {d.snid for d in cut.drops} == set(foundation.snid) - expected
    for d in cut.drops:
        assert d.band is None and d.mjd is None and d.source.endswith(f"_{d.snid}.txt")
        m = re.fullmatch(r"z_cmb (\S+) outside \(0.015, 0.08\)", d.reason)
        assert m and float(m[1]) == pytest.approx(
            foundation.z_cmb[foundation.index(d.snid)], rel=1e-4
        )
    report = cut.report()
    assert f"Survey: {cut.n_sn} SNe" in report
    assert f"Dropped: {180 - cut.n_sn} SNe, 0 SN bands, 0 observations" in report
    assert "SN SN2016coj: z_cmb 0.0048868 outside (0.015, 0.08)" in report
    # cuts compose, and a cut survey is re-padded
    assert cut.n_obs == cut.mask.sum(axis=1).max()
    again = cut.cut(z_key="z_hel", z_max=0.05)
    assert (again.z_hel < 0.05).all() and len(again.drops) > len(cut.drops)


def test_phase_window_drops_points(foundation):
    lo, hi = -10, 40
    cut = foundation.cut(phase_window=(lo, hi))
    t = cut.phase()[cut.mask]
    assert ((t > lo) & (t < hi)).all()
    points = [d for d in cut.drops if d.mjd is not None]
    assert len(points) + cut.mask.sum() == foundation.mask.sum()
    assert all(d.band is None and d.mjd is None for d in cut.drops if d not in points)
    phase = foundation.phase()
    for d in points[:200]:
        i = foundation.index(d.snid)
        (j,) = np.flatnonzero(
            foundation.mask[i]
            & (foundation.mjd[i] == d.mjd)
            & (np.asarray(foundation.band_names)[foundation.band[i]] == d.band)
        )
        m = re.fullmatch(r"phase (\S+) d outside \(-10, 40\)", d.reason)
        assert m and float(m[1]) == pytest.approx(phase[i, j], abs=0.05)
        assert not lo < phase[i, j] < hi
    report = cut.report()
    assert report.count("d outside (-10, 40)") == len(points)


def test_phase_window_is_strict_and_empty_sn_dropped():
    # phases exactly at the window edges are dropped (BayeSN: lo < t < hi)
    survey = Survey.from_arrays(
        ["edge", "inside"],
        [[100.0, 110.0, 140.0], [100.0]],
        [["g"] * 3, ["g"]],
        [[1.0] * 3, [1.0]],
        [[0.1] * 3, [0.1]],
        z_hel=[1.0, 1.0],
        peak_mjd=[120.0, 100.0],
    )  # phases: edge -10, -5, +10; inside 0
    cut = survey.cut(phase_window=(-10, 10))
    assert cut.snid == ("edge", "inside") and cut.mask.sum(axis=1).tolist() == [1, 1]
    assert [d.mjd for d in cut.drops] == [100.0, 140.0]
    cut = survey.cut(phase_window=(-7, -1))
    assert cut.snid == ("edge",)
    assert cut.drops[-1] == Drop("inside", None, None, "no observations left after cuts", "arrays")


def test_band_min_obs_snids_exclude(foundation):
    cut = foundation.cut(bands=["g_PS1", "r_PS1"])
    assert cut.band_names == ("g_PS1", "r_PS1")
    per_band = [d for d in cut.drops if d.band is not None]
    assert {d.band for d in per_band} == {"i_PS1", "z_PS1"} and len(per_band) == 2 * 180
    n = int(per_band[0].reason.split("(")[1].split()[0])
    i = foundation.index(per_band[0].snid)
    assert (
        n
        == (
            foundation.band[i][foundation.mask[i]] == foundation.band_names.index(per_band[0].band)
        ).sum()
    )

    cut = foundation.cut(min_obs=30)
    assert (cut.mask.sum(axis=1) >= 30).all()
    assert all("fewer than min_obs = 30" in d.reason for d in cut.drops)
    assert cut.n_sn + len(cut.drops) == 180

    cut = foundation.cut(snids=["2016W", "SN2016coj"], exclude=["SN2016coj"])
    assert cut.snid == ("2016W",)
    reasons = {d.snid: d.reason for d in cut.drops}
    assert reasons["SN2016coj"] == "excluded by name" and len(reasons) == 179


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"z_key": "zcmb"}, "z_key"),
        ({"z_min": "0.01"}, "z_min"),
        ({"phase_window": (40, -10)}, "phase_window"),
        ({"phase_window": (-10,)}, "phase_window"),
        ({"min_obs": -1}, "min_obs"),
        ({"bands": ["u_PS1"]}, "bands"),
        ({"bands": "g_PS1"}, "bands"),
        ({"snids": ["nope"]}, "snids"),
        ({"exclude": ["nope"]}, "exclude"),
    ],
)
def test_cut_rejects_bad_arguments(small, kwargs, field):
    with pytest.raises(ConfigError) as info:
        small.cut(**kwargs)
    assert info.value.field == field


def test_drop_str():
    assert str(Drop("x", "g", 1.5, "why", "f.txt")) == "SN x band g MJD 1.500: why  [f.txt]"
    assert str(Drop("x", None, None, "why")) == "SN x: why"


def test_text_format_variants(tmp_path):
    """Older/other SNANA spellings: several keys per line, a DOCUMENTATION block, a BAND
    column, VARNAMES, comments, SPEC rows, no END, a list of numbers, a numeric SNID."""
    path = tmp_path / "variant.dat"
    path.write_text(
        "DOCUMENTATION:\n  PURPOSE: test: not a header key\nDOCUMENTATION_END:\n"
        "SURVEY: SDSS   SNID: 1032   IAUC: 2005ez  # several keys on one line\n"
        "REDSHIFT_HELIO: 0.1 +- 0.001 (HELIO)\nPEAKMJD: 53600.5\n"
        "HOST_LOGMASS: -9.0\nMAGSMEAR: 0.1 0.2 0.3\n"
        "VARNAMES: MJD BAND FLUXCAL FLUXCALERR\n"
        "OBS: 53590.0 SDSS-g 10.5 1.5\nSPEC: 3000 1e-17\nOBS: 53600.0 SDSS-r 12.0 1.0\n"
    )
    survey = Survey.from_snana(path, bands={"SDSS-g": "g_SDSS", "SDSS-r": "r_SDSS"})
    lc = survey.light_curve("1032")
    assert lc.meta["SURVEY"] == "SDSS" and lc.meta["IAUC"] == "2005ez"
    assert "PURPOSE" not in lc.meta and lc.meta["MAGSMEAR"] == (0.1, 0.2, 0.3)
    assert lc.meta["REDSHIFT_HELIO_ERR"] == 0.001
    np.testing.assert_array_equal(lc.band, ["g_SDSS", "r_SDSS"])
    np.testing.assert_array_equal(lc.line, [10, 12])
    assert survey.z_cmb[0] == survey.z_hel[0] == 0.1 and survey.z_err[0] == 0.001
    assert survey.peak_mjd[0] == 53600.5 and np.isnan(survey.log_mass[0])
    assert survey.survey_name == ("SDSS",)
    assert survey.notes == (
        "SN 1032: no REDSHIFT_CMB or REDSHIFT_FINAL; using REDSHIFT_HELIO",
        "SN 1032: no SEARCH_PEAKMJD; using PEAKMJD",
        "SN 1032: no MWEBV; using 0",
        f"SN 1032: HOST_LOGMASS -9 ({path}:7) outside the plausible range [6, 13]; host "
        "mass taken as unknown (NaN)",
    )


def test_globs_and_patterns_select_light_curve_files(foundation_dir, foundation_files):
    """``pattern=`` reads the matching files of a folder (not its .LIST); a glob in
    ``path`` does the same; a pattern or glob matching nothing is an error naming it."""
    by_pattern = Survey.from_snana(foundation_dir, PS1, pattern="Foundation_DR1_*.txt")
    assert by_pattern.n_sn == len(foundation_files) == 180
    by_glob = Survey.from_snana(str(foundation_dir / "Foundation_DR1_*.txt"), PS1)
    assert by_glob.snid == by_pattern.snid
    few = Survey.from_snana(foundation_dir, PS1, pattern="Foundation_DR1_2016a*.txt")
    assert 0 < few.n_sn < 180 and all(s.startswith("2016a") for s in few.snid)
    with pytest.raises(ConfigError, match="no files match 'nothing_\\*.txt'") as info:
        Survey.from_snana(foundation_dir, pattern="nothing_*.txt")
    assert info.value.field == "pattern"
    with pytest.raises(DataError, match="no files match this glob") as info:
        Survey.from_snana(str(foundation_dir / "nothing_*.txt"))
    assert info.value.file.endswith("nothing_*.txt")
    with pytest.raises(ConfigError, match="not both"):
        Survey.from_snana(str(foundation_dir / "*.txt"), pattern="*.txt")


# --------------------------------------------------------------------------- reliability
def light_curve_text(snid: str, header: tuple = (), obs: tuple | None = None) -> str:
    """A small SNANA text light curve; ``header`` lines go after the standard ones
    (lines 2-6), the OBS rows start on line ``9 + len(header)``."""
    obs = obs or ("57390.0 g 1000.0 20.0", "57395.0 r 2000.0 30.0", "57400.0 g 1500.0 25.0")
    lines = [
        f"SNID: {snid}",
        "REDSHIFT_HELIO: 0.03",
        "REDSHIFT_CMB: 0.031 +- 0.0001",
        "SEARCH_PEAKMJD: 57400.0",
        "MWEBV: 0.02",
        *header,
        f"NOBS: {len(obs)}",
        "VARLIST: MJD FLT FLUXCAL FLUXCALERR",
        *(f"OBS: {row}" for row in obs),
        "END:",
    ]
    return "# a light curve\n" + "\n".join(lines) + "\n"


def test_gzip_text_files_read_like_plain_ones(tmp_path, foundation_files, foundation):
    """gzip-compressed text light curves (and LIST files) are recognised by their first
    bytes, with or without .gz in the name, and read to the same survey and lines."""
    chosen = foundation_files[:3]
    data = tmp_path / "GZ"
    data.mkdir()
    names = []
    for k, path in enumerate(chosen):
        name = path.name + ".gz" if k != 1 else path.name  # one without the suffix
        (data / name).write_bytes(gzip.compress(path.read_bytes()))
        names.append(name)
    (data / "GZ.LIST").write_bytes(gzip.compress(("\n".join(names) + "\n").encode()))
    survey = Survey.from_snana(data, bands=PS1)
    plain = foundation.select([0, 1, 2])
    assert_same_survey(survey, plain)
    np.testing.assert_array_equal(survey.line, plain.line)
    assert survey.meta[1] == plain.meta[1]
    assert survey.sources == tuple(str(data / n) for n in names)


def test_exactly_repeated_rows_are_dropped_with_a_reason(tmp_path):
    """The same row twice (same MJD, band, flux, error) counts once; the repeat is in
    ``drops`` with the line it repeats, also across the files of a BayeSN table."""
    rows = ("57390.0 g 1000.0 20.0", "57395.0 r 2000.0 30.0", "57390.0 g 1000.0 20.0")
    path = tmp_path / "rep.txt"
    path.write_text(light_curve_text("rep", obs=rows))
    survey = Survey.from_snana(path, bands="auto")
    assert survey.mask.sum() == 2 and survey.line[0].tolist() == [9, 10]
    (drop,) = survey.drops
    reason = "repeats line 9 (same MJD, band, flux and error)"
    assert drop == Drop("rep", "g", 57390.0, reason, f"{path}:11")
    report = survey.report()
    assert "Dropped: 0 SNe, 0 SN bands, 1 observations" in report
    assert f"  SN rep band g MJD 57390.000: {reason}  [{path}:11]" in report

    # one SN in two files that both hold the r point
    (tmp_path / "a.txt").write_text(light_curve_text("x", obs=rows[:2]))
    (tmp_path / "b.txt").write_text(light_curve_text("x", obs=(rows[1], "57401.0 r 10.0 1.0")))
    table = tmp_path / "table.txt"
    table.write_text(
        "SNID SEARCH_PEAKMJD REDSHIFT_CMB REDSHIFT_CMB_ERR files\nx 57400.0 0.031 0.0 a.txt,b.txt\n"
    )
    survey = Survey.from_bayesn_table(table, bands={"g": "g_PS1", "r": "r_PS1"})
    assert survey.mask.sum() == 3
    (drop,) = survey.drops
    a_txt = tmp_path / "a.txt"
    assert drop.reason == f"repeats line 10 of {a_txt} (same MJD, band, flux and error)"
    assert drop.source == f"{tmp_path / 'b.txt'}:9" and drop.band == "r_PS1"


@pytest.mark.parametrize("value", ["99", "0", "-9", "-9.0", "5.99", "13.01", "99 +- 0.1"])
def test_host_mass_placeholders_read_as_unknown_with_a_note(tmp_path, value):
    """A host mass outside [6, 13] (SNANA's -9, 99, 0, ...) is unknown: NaN, as when the
    key is absent, with a note naming file and line; the SN stays."""
    path = tmp_path / "m.txt"
    path.write_text(light_curve_text("m", header=(f"HOSTGAL_LOGMASS: {value}",)))
    survey = Survey.from_snana(path, bands="auto")
    assert survey.n_sn == 1 and survey.mask.sum() == 3 and np.isnan(survey.log_mass[0])
    assert survey.drops == ()
    number = float(value.split()[0])
    note = (
        f"SN m: HOSTGAL_LOGMASS {number:g} ({path}:7) outside the plausible range [6, 13]; "
        "host mass taken as unknown (NaN)"
    )
    assert survey.notes == (note,) and note in survey.report()
    assert survey.meta[0]["HOSTGAL_LOGMASS"] == number  # the header keeps what the file says


@pytest.mark.parametrize("value, expected", [("6", 6.0), ("13.0", 13.0), ("10.5 +- 0.1", 10.5)])
def test_host_mass_in_range_is_kept(tmp_path, value, expected):
    path = tmp_path / "m.txt"
    path.write_text(light_curve_text("m", header=(f"HOSTGAL_LOGMASS: {value}",)))
    survey = Survey.from_snana(path, bands="auto")
    assert survey.log_mass[0] == expected and survey.notes == ()
    path.write_text(light_curve_text("m"))  # absent: unknown, without a note
    survey = Survey.from_snana(path, bands="auto")
    assert np.isnan(survey.log_mass[0]) and survey.notes == ()


def test_unknown_mass_round_trips_without_a_note(tmp_path):
    survey = Survey.from_arrays(
        ["a", "b"], [[1.0], [2.0]], [["g_PS1"], ["r_PS1"]], [[1.0], [2.0]], [[0.1], [0.1]],
        z_hel=[0.02, 0.03], peak_mjd=[1.0, 2.0], log_mass=[np.nan, 10.0],
    )  # fmt: skip
    survey.to_snana(tmp_path / "out")
    back = Survey.from_snana(tmp_path / "out", bands="auto")
    np.testing.assert_array_equal(back.log_mass, survey.log_mass)
    assert back.notes == () and "HOSTGAL_LOGMASS" not in (tmp_path / "out" / "a.txt").read_text()


def test_repeated_header_keys_with_the_same_value_are_accepted(tmp_path):
    """The same value twice is harmless (0.03 and 0.030 are one number); SPECTRUM_*
    keys repeat once per spectrum."""
    path = tmp_path / "r.txt"
    header = ("REDSHIFT_HELIO: 0.030", "SNID: r", "SPECTRUM_ID: 1", "SPECTRUM_ID: 2")
    path.write_text(light_curve_text("r", header=header))
    survey = Survey.from_snana(path, bands="auto")
    assert survey.z_hel[0] == 0.03 and survey.snid == ("r",)
    assert survey.meta[0]["SPECTRUM_ID"] == 2


def test_fitres_writer_and_readers_share_the_snid_rule(tmp_path):
    """What a reader accepts as an SNID, the FITRES writer writes and reads back; what it
    refuses, the writer refuses for the same reason."""
    from sndust._survey._lightcurve import unwritable

    good = ["2016W", "SN2016coj", "007", "ASASSN-15ba", "a:b"]
    sd.write_fitres(Table({"CID": good, "MU": [1.0] * 5}), tmp_path / "ok.FITRES")
    assert list(sd.read_fitres(tmp_path / "ok.FITRES")["CID"]) == good
    for bad in ["SN 2016W", "", "a#b", "tab\tin", "bell\x07"]:
        with pytest.raises(DataError, match=re.escape(unwritable(bad))):
            sd.write_fitres(Table({"CID": [bad], "MU": [1.0]}), tmp_path / "bad.FITRES")
        with pytest.raises(DataError, match="cannot name the SN") as info:
            Survey.from_arrays([bad], [[1.0]], [["g"]], [[1.0]], [[0.1]], z_hel=0.1, peak_mjd=1.0)
        assert info.value.field == "SNID"


# --------------------------------------------------------------------------- as SNANA reads them
#: The clean file's SN as the Pantheon+ release writes it: an NVAR one short of the
#: VARLIST (the rows follow the VARLIST), a BAND column, extra columns, units and labels
#: after header values, an SNID with leading zeros (the release's tables drop them).
RELEASE_STYLE = """\
SURVEY: FOUNDATION
SNID: 000123
RA: 61.5609 deg
MWEBV: 0.02 +- 0.001 MW E(B-V)
REDSHIFT_HELIO: 0.03 +- 0.0001 (HELIO)
REDSHIFT_CMB: 0.031 +- 0.0001 (CMB)
SEARCH_PEAKMJD: 57400.0 MJD
HOSTGAL_LOGMASS: 10.2 +- 0.1 log10(Msun)
NOBS: 3
NVAR: 8
VARLIST: MJD BAND FIELD FLUXCAL FLUXCALERR MAG MAGERR PHOTFLAG PHOTPROB
OBS: 57390.0 g VOID 1000.0 20.0 20.0 0.02 0 1.0
OBS: 57395.0 r VOID 2000.0 30.0 19.2 0.02 4096 1.0
OBS: 57400.0 g VOID 1500.0 25.0 19.6 0.02 0 1.0
END:
"""


def test_release_style_snana_files_read_like_the_clean_file(tmp_path):
    """The variants SNANA itself reads give the clean file's arrays: NVAR ≠ VARLIST
    length with consistent rows (noted in the report), BAND for FLT, extra columns,
    units and ``+-`` in header values, leading-zero SNIDs matched to tables without
    them, gzip. A row that disagrees with the VARLIST still raises (tests/bad_inputs)."""
    clean_path = tmp_path / "clean.txt"
    clean_path.write_text(light_curve_text("123", ("SURVEY: FOUNDATION", "HOSTGAL_LOGMASS: 10.2")))
    variant_path = tmp_path / "release.txt"  # gzip, whatever its name says
    variant_path.write_bytes(gzip.compress(RELEASE_STYLE.encode()))
    bands = {"g": "g_PS1", "r": "r_PS1"}
    clean = Survey.from_snana(clean_path, bands)
    variant = Survey.from_snana(variant_path, bands)
    assert variant.snid == ("000123",) and clean.snid == ("123",)
    assert_same_survey(dataclasses.replace(variant, snid=clean.snid), clean)
    assert variant.survey_name == ("FOUNDATION",)
    meta = variant.meta[0]
    assert meta["RA"] == 61.5609 and meta["MWEBV_ERR"] == 0.001 and meta["NVAR"] == 8
    note = f"{variant_path}:10: NVAR says 8 but VARLIST names 9 columns"
    assert any(n.startswith(note) for n in variant.notes), variant.notes
    assert "NVAR says 8" in variant.report() and not variant.drops
    # tables and ignore lists name the SN without its leading zeros
    peaks = variant.with_peaks({"CID": np.array(["123"]), "PKMJD": np.array([57401.5])})
    assert peaks.peak_mjd.tolist() == [57401.5]
    ignore = tmp_path / "skip.IGNORE"
    ignore.write_text("123\n")
    with pytest.raises(DataError, match="no light curves to read"):
        Survey.from_snana(variant_path, bands, ignore_file=ignore)


def test_photflag_mask_rejects_and_reports(tmp_path):
    """``reject_photflag`` leaves out the observations whose PHOTFLAG shares a bit with
    the mask, each a drop naming the flag and the line; a file with no PHOTFLAG column
    gets a note; a mask that is not a bit mask is a ConfigError."""
    path = tmp_path / "release.txt"
    path.write_text(RELEASE_STYLE)
    bands = {"g": "g_PS1", "r": "r_PS1"}
    kept = Survey.from_snana(path, bands, reject_photflag=1024 + 2048)
    assert not kept.drops and kept.mask.sum() == 3
    survey = Survey.from_snana(path, bands, reject_photflag=4096 + 1024)
    assert survey.mask.sum() == 2 and survey.mjd[0, :2].tolist() == [57390.0, 57400.0]
    (drop,) = survey.drops
    assert (drop.snid, drop.band, drop.mjd) == ("000123", "r_PS1", 57395.0)
    assert "PHOTFLAG 4096 shares bits with reject_photflag 5120 (line 13)" in drop.reason
    assert "Dropped: 0 SNe, 0 SN bands, 1 observations" in survey.report()
    clean = tmp_path / "clean.txt"
    clean.write_text(light_curve_text("7"))
    plain = Survey.from_snana(clean, bands, reject_photflag=4096)
    assert plain.notes[-1] == (
        "light curves without a PHOTFLAG column: reject_photflag rejected nothing there"
    )
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError) as info:
            Survey.from_snana(path, bands, reject_photflag=bad)
        assert info.value.field == "reject_photflag"


def test_concat_keeps_what_each_survey_holds(foundation):
    """Survey.concat keeps every SN's arrays and values as its survey holds them (peaks
    moved, cuts made), names each SN's survey, unites the bands and carries drops and
    notes; light curves of the result rebuild it, peaks included (they used to come
    back from the header); an SNID in two surveys is an error naming both."""
    a = foundation.select(list(range(4)))
    a = dataclasses.replace(a, peak_mjd=a.peak_mjd + 1.5, notes=("moved peaks",))
    b = foundation.select([4, 5, 6]).cut(bands=["r_PS1", "i_PS1"])
    both = Survey.concat(a, b, names=("FOUND_A", "FOUND_B"))
    assert both.snid == a.snid + b.snid
    assert both.survey_name == ("FOUND_A",) * 4 + ("FOUND_B",) * 3
    assert len(b.drops) == 3 * 2  # g and z of each SN
    assert both.drops == tuple(dataclasses.replace(d, survey="FOUND_B") for d in b.drops)
    assert "  FOUND_B: 0 SNe, 6 SN bands, 0 observations" in both.report()
    assert both.notes == ("FOUND_A: moved peaks",) + tuple(f"FOUND_B: {n}" for n in b.notes)
    for part in (a, b):
        for snid in part.snid:
            i, j = part.index(snid), both.index(snid)
            for name in PER_SN:
                assert getattr(both, name)[j] == getattr(part, name)[i] or np.isnan(
                    getattr(part, name)[i]
                )
            mine, theirs = both.light_curve(snid), part.light_curve(snid)
            for name in ("mjd", "band", "fluxcal", "fluxcal_err", "line"):
                np.testing.assert_array_equal(getattr(mine, name), getattr(theirs, name))
    rebuilt = Survey.from_light_curves(list(both))
    assert_same_survey(rebuilt, both)
    assert rebuilt.survey_name == both.survey_name
    kept = Survey.concat(a, b)
    assert kept.survey_name == a.survey_name + b.survey_name
    with pytest.raises(DataError, match=f"SNID '{a.snid[0]}' is in survey 1 and in survey 2"):
        Survey.concat(a, a.select([0]))
    with pytest.raises(ConfigError) as info:
        Survey.concat(a, b, names=("only one",))
    assert info.value.field == "names"


def test_metadata_table_overrides_by_survey_and_snid(tmp_path, foundation):
    """A compilation's table (whitespace, CSV or FITRES, one row per SN and survey)
    supplies peaks, masses and redshifts by SNID among the rows of one survey; SNIDs
    with leading zeros match; unmatched SNe keep their files' values and are listed;
    placeholder masses (−9, ≤ 0, a given sentinel) become unknown, listed; ``cut(
    require=...)`` then drops exactly those SNe with the reason given."""
    part = foundation.select([0, 1, 2, 3])
    snid = part.snid
    rows = [
        "CID IDSURVEY zHD zHEL PKMJD HOST_LOGMASS MWEBV",
        f"{snid[0]} 150 0.0301 0.0300 57001.25 10.4 0.011",
        f"{snid[1]} 150 0.0402 0.0400 57002.50 -9 0.012",
        f"{snid[2]} 150 0.0503 0.0500 57003.75 6.0 0.013",
        f"{snid[0]} 15 0.9 0.9 50000.0 8.0 0.5",  # the same SN in another survey
    ]
    path = tmp_path / "meta.txt"
    path.write_text("# a compilation\n" + "\n".join(rows) + "\n")
    csv = tmp_path / "meta.csv"
    csv.write_text("\n".join(",".join(r.split()) for r in rows) + "\n")
    for table in (path, csv):
        got = part.with_metadata(table, match={"IDSURVEY": 150}, mass_sentinels=[6.0])
        np.testing.assert_array_equal(got.peak_mjd[:3], [57001.25, 57002.5, 57003.75])
        np.testing.assert_array_equal(got.z_cmb[:3], [0.0301, 0.0402, 0.0503])
        np.testing.assert_array_equal(got.mwebv[:3], [0.011, 0.012, 0.013])
        assert got.log_mass[0] == 10.4 and np.isnan(got.log_mass[1:3]).all()
        for name in ("peak_mjd", "z_cmb", "log_mass", "z_hel", "mwebv"):  # SN 4 unmatched
            assert getattr(got, name)[3] == getattr(part, name)[3] or np.isnan(part.log_mass[3])
        notes = got.notes[len(part.notes) :]
        assert notes[0].startswith("z_cmb (zHD), z_hel (zHEL), peak_mjd (PKMJD), log_mass")
        assert notes[0].endswith(f"from {table} for 3 of 4 SNe")
        assert notes[1].endswith(f"read as unknown: {snid[1]}, {snid[2]}")
        assert notes[2] == f"1 SNe not in {table} keep their files' values: {snid[3]}"
        assert "read as unknown" in got.report()
    kept = got.cut(require={"log_mass": "MassSplit needs it"})
    assert kept.snid == (snid[0], snid[3])
    assert [str(d) for d in kept.drops[-2:]] == [
        f"SN {s}: log_mass unknown (MassSplit needs it)  [{part.sources[i]}]"
        for i, s in ((1, snid[1]), (2, snid[2]))
    ]
    # FITRES and leading zeros; a table row that contradicts another; require_all
    fitres = tmp_path / "meta.FITRES"
    fitres.write_text("VARNAMES: CID PKMJD\nSN: 007 57010.0\n")
    sim = Survey.from_arrays(
        ["7"], [[57000.0, 57005.0]], [["g_PS1", "r_PS1"]], [[1.0, 2.0]], [[0.1, 0.1]],
        z_hel=[0.03], peak_mjd=[57000.0],
    )  # fmt: skip
    assert sim.with_metadata(fitres).peak_mjd.tolist() == [57010.0]
    with pytest.raises(DataError, match=f"SN {snid[0]} has two rows that disagree"):
        part.with_metadata(path)
    with pytest.raises(DataError, match=f"1 SNe of the survey are not in the table: {snid[3]}"):
        part.with_metadata(path, match={"IDSURVEY": 150}, require_all=True)
    with pytest.raises(DataError, match="no column IDSURV to match") as info:
        part.with_metadata(path, match={"IDSURV": 150})
    assert info.value.file == str(path)
