"""Malformed inputs give a sndust error naming the file, the line (or header key,
column) and what was expected -- never a raw NumPy/astropy/KeyError traceback.

Text cases are checked-in files under tests/bad_inputs/ (each starts with a comment
saying what is wrong; the gzip-compressed ones say it inside, or are binary); FITS and
in-memory cases are built here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import MaskedColumn, Table

import sndust as sd
from sndust import ConfigError, DataError, ModelError, SndustError
from sndust._survey import Survey

CORPUS = Path(__file__).parent / "bad_inputs"
#: Read with the band names in the files taken as sndust filter names.
auto = functools.partial(Survey.from_snana, bands="auto")
PS1 = {b: f"{b}_PS1" for b in "griz"}


@dataclass(frozen=True)
class Case:
    """``path`` (relative to the corpus) read by ``read``; the error must be ``error``
    and its message must contain ``name`` (default: the file name of ``path``), the
    ``file:line`` when ``line`` is given, ``field 'X'`` when ``field`` is, and ``says``."""

    path: str
    line: int | None = None
    field: str | None = None
    says: str = ""
    error: type = DataError
    read: Callable[[Path], Any] = auto
    name: str | None = None


def table(path: Path, bands: Any = "auto") -> Survey:
    return Survey.from_bayesn_table(path, data_root=CORPUS, bands=bands)


def mapped(bands: Any) -> Callable[[Path], Survey]:
    return functools.partial(Survey.from_snana, bands=bands)


@functools.cache
def _t21():
    return sd.BayeSNModel.load("T21")


def prepare(path: Path):
    """Read with bands='auto', then build the forward model's inputs."""
    return sd.prepare(auto(path), _t21())


_NO_MAP_FIX = "or bands='auto' to use the names in the files as sndust filter names"


TEXT_CASES = [
    Case("missing_redshift_helio.txt", None, "REDSHIFT_HELIO", "expected a 'REDSHIFT_HELIO"),
    Case("missing_peak_mjd.txt", None, "SEARCH_PEAKMJD", "'SEARCH_PEAKMJD' or 'PEAKMJD'"),
    Case("nobs_mismatch.txt", 10, "NOBS", "NOBS says 5 but the file has 4 OBS rows"),
    Case("nonnumeric_nobs.txt", 10, "NOBS", "expected a whole number"),
    Case("nvar_short_row.txt", 15, None, "4 values but VARLIST names 5 columns"),
    Case("nonnumeric_fluxcal.txt", 14, "FLUXCAL", "expected a number, got '2O00.0'"),
    Case("nonnumeric_mjd.txt", 15, "MJD", "expected a number, got '57400,0'"),
    Case("obs_too_few_columns.txt", 13, None, "4 values but VARLIST names 5 columns"),
    Case("obs_too_many_columns.txt", 16, None, "6 values but VARLIST names 5 columns"),
    Case("missing_varlist.txt", 12, "VARLIST", "OBS row before any VARLIST"),
    Case("missing_varlist_no_obs.txt", None, "VARLIST", "no VARLIST line"),
    Case("second_varlist.txt", 13, "VARLIST", "second VARLIST"),
    Case("missing_fluxcalerr_column.txt", 12, "FLUXCALERR", "VARLIST has no FLUXCALERR"),
    Case("missing_band_column.txt", 12, "FLT", "no FLT (or BAND) column"),
    Case("zero_fluxcalerr.txt", 14, "FLUXCALERR", "expected a finite flux error > 0"),
    Case("negative_fluxcalerr.txt", 15, "FLUXCALERR", "expected a finite flux error > 0"),
    Case("nan_fluxcalerr.txt", 13, "FLUXCALERR", "expected a finite flux error > 0"),
    Case("nan_fluxcal.txt", 16, "FLUXCAL", "expected a finite flux"),
    Case("inf_mjd.txt", 13, "MJD", "expected a finite MJD"),
    Case("zero_redshift.txt", 5, "REDSHIFT_HELIO", "expected a redshift > 0, got 0"),
    Case("sentinel_redshift.txt", 5, "REDSHIFT_HELIO", "expected a redshift > 0, got -9"),
    Case("nonnumeric_redshift.txt", 5, "REDSHIFT_HELIO", "expected a number, got '0.03O'"),
    Case("nonnumeric_redshift_cmb.txt", 6, "REDSHIFT_CMB", "expected a number, got 'unknown'"),
    Case("sentinel_peak_mjd.txt", 7, "SEARCH_PEAKMJD", "expected a peak MJD > 0"),
    Case("negative_mwebv.txt", 4, "MWEBV", "expected a Milky Way E(B-V) >= 0"),
    Case("missing_snid.txt", None, "SNID", "expected a 'SNID: <name>' header line"),
    Case("header_garbage.txt", 9, None, "expected a 'KEY: value' header line"),
    Case("empty.txt", None, None, "empty file"),
    Case("blank.txt", None, None, "empty file"),
    Case("binary.txt", None, None, "not a text file"),
    Case("duplicate_snid", None, "SNID", "first.txt and in", name="second.txt"),
    Case("missing_listed_file", 2, None, "'absent.txt' not found", name="missing_listed_file.LIST"),
    Case("empty_list", None, None, "names no light-curve files", name="empty_list.LIST"),
    Case("no_list_dir", None, None, "directory has no .LIST file"),
    Case("does_not_exist.txt", None, None, "no such file or directory"),
    Case(
        "bayesn_table_missing_column.txt", 2, "REDSHIFT_CMB_ERR", "no REDSHIFT_CMB_ERR", read=table
    ),
    Case("bayesn_table_bad_value.txt", 3, "SEARCH_PEAKMJD", "got '57400.0x'", read=table),
    Case("bayesn_table_missing_file.txt", 4, "files", "'nowhere.txt' not found", read=table),
    Case("bayesn_table_short_row.txt", 3, None, "4 values but the header names 5", read=table),
    Case("bayesn_table_empty.txt", None, None, "empty data table", read=table),
    # --- bands: every band in the files must be mapped, or bands='auto'
    Case(
        "unmapped_band.txt",
        16,
        "FLT",
        "SN 'unmapped_band': band 'z' is not in the band map (it names g, r, i); add it "
        "to the band map, " + _NO_MAP_FIX,
        read=mapped({"g": "g_PS1", "r": "r_PS1", "i": "i_PS1"}),
    ),
    Case(
        "no_band_map.txt",
        13,
        "FLT",
        "no band map given for band 'g' (the bands in this file: g, r, i, z)",
        read=Survey.from_snana,
    ),
    Case(
        "unmapped_band_column_band.txt",
        14,
        "BAND",
        "band 'SDSS-r' is not in the band map (it names SDSS-g)",
        read=mapped({"SDSS-g": "g_SDSS"}),
    ),
    Case(
        "bayesn_table_unmapped_band.txt",
        15,
        "FLT",
        "band 'i' is not in the band map (it names g, r)",
        read=functools.partial(table, bands={"g": "g_PS1", "r": "r_PS1"}),
        name="lonely.txt",
    ),
    Case(
        "bayesn_table_unmapped_band.txt",
        13,
        "FLT",
        "no band map given for band 'g'",
        read=functools.partial(table, bands=None),
        name="lonely.txt",
    ),
    Case(
        "unknown_filter.txt",
        None,
        "band",
        "band 'Q', first observed by SN 'unknown_filter' (1 SN in all), is not a filter "
        "sndust knows: unknown filter 'Q'",
        error=ModelError,
        read=prepare,
    ),
    # --- a header key given twice with different values
    Case(
        "duplicate_header_redshift.txt",
        9,
        "REDSHIFT_HELIO",
        "REDSHIFT_HELIO given twice with different values: 0.03 on line 5, 0.04 here",
    ),
    Case(
        "duplicate_header_snid.txt",
        9,
        "SNID",
        "'duplicate_header_snid' on line 3, 'another_name' here",
    ),
    Case("duplicate_header_peak_mjd.txt", 9, "SEARCH_PEAKMJD", "57400.0 on line 7, 57410.0"),
    Case("duplicate_header_error.txt", 9, "MWEBV_ERR", "0.001 on line 4, 0.005 here"),
    Case("duplicate_header_case.txt", 9, "redshift_cmb", "REDSHIFT_CMB given twice"),
    Case("duplicate_header_same_line.txt", 9, "FIELD", "'C3' on line 9, 'C4' here"),
    # --- one MJD and band observed twice, differently
    Case(
        "conflicting_repeated_obs.txt",
        15,
        "MJD",
        "SN 'conflicting_repeated_obs': MJD 57390.0 in band 'g' observed twice with "
        "different values: flux 1000.0 +- 20.0 at line 13, 1100.0 +- 20.0 here",
    ),
    Case("conflicting_repeated_obs_error.txt", 17, "MJD", "2000.0 +- 30.0 at line 14"),
    Case(
        "bayesn_table_conflict.txt",
        13,
        "MJD",
        "flux 2000.0 +- 30.0 at line 14 of " + str(CORPUS / "split_light_curve" / "part1.txt"),
        read=table,
        name="part2.txt",
    ),
    Case("split_light_curve", None, "SNID", "SNID 'split' appears twice", name="part2.txt"),
    # --- SNIDs that result tables (FITRES) cannot hold
    Case("snid_with_space.txt", 3, "SNID", "SNID 'SN 2016W' cannot name the SN in result"),
    Case("snid_empty.txt", 3, "SNID", "SNID '' cannot name the SN in result tables"),
    Case("snid_control_character.txt", 3, "SNID", "a non-printable character"),
    # --- gzip-compressed text files, recognised by their first bytes
    Case("gzip_nan_fluxcal.txt", 16, "FLUXCAL", "expected a finite flux"),
    Case("gzip_binary_content.txt.gz", None, None, "gzip-compressed, but what it holds is not"),
    Case("gzip_truncated.txt.gz", None, None, "gzip-compressed, but cannot be decompressed"),
    # --- LIST files, counts
    Case(
        "list_names_itself",
        2,
        None,
        "'list_names_itself.LIST' is this LIST file itself",
        name="list_names_itself.LIST",
    ),
    Case("list_names_folder", 2, None, "'sub' is a folder", name="list_names_folder.LIST"),
    Case("negative_nobs.txt", 10, "NOBS", "expected a whole number >= 0, got -4"),
]


def check(case: Case, exc: BaseException) -> None:
    message = str(exc)
    assert isinstance(exc, case.error), message
    name = case.name or Path(case.path).name
    assert name in message, message
    if case.line is not None:
        assert f"{name}:{case.line}" in message, message
        assert exc.line == case.line
    if case.field is not None:
        assert f"field {case.field!r}" in message, message
        assert exc.field == case.field
    assert case.says in message, message


@pytest.mark.parametrize(
    "case", TEXT_CASES, ids=lambda c: c.path + ("" if c.line is None else f":{c.line}")
)
def test_corpus(case):
    with pytest.raises(SndustError) as info:
        case.read(CORPUS / case.path)
    check(case, info.value)


def test_corpus_is_covered():
    """Every file or directory in tests/bad_inputs/ has a case (and every case a file)."""
    named = {c.path for c in TEXT_CASES} - {"does_not_exist.txt"}
    assert named == {p.name for p in CORPUS.iterdir()}


def test_files_in_a_list_of_paths():
    """The same checks apply to files given as a list; the first bad one is reported."""
    files = [CORPUS / "duplicate_snid" / "first.txt", CORPUS / "nan_fluxcal.txt"]
    with pytest.raises(DataError, match=r"nan_fluxcal.txt:16, field 'FLUXCAL'"):
        Survey.from_snana(files, bands="auto")


# --------------------------------------------------------------------------- FITS
def _write_pair(
    tmp_path: Path,
    *,
    head: bool = True,
    phot: bool = True,
    n_phot: int = 4,
    ptr_max: int = 4,
    phot_columns: tuple = ("MJD", "BAND", "FLUXCAL", "FLUXCALERR"),
    flux: tuple = (1.0, 2.0, 3.0, 4.0),
    mjd: tuple = (57400.0, 57401.0, 57402.0, 57403.0),
    band: tuple = ("1A", "g"),
    snid: str = "sn1",
    head_columns: tuple = ("SNID", "REDSHIFT_HELIO", "PEAKMJD", "PTROBS_MIN", "PTROBS_MAX"),
) -> tuple[Path, Path]:
    head_path, phot_path = tmp_path / "T_HEAD.FITS", tmp_path / "T_PHOT.FITS"
    phot_values = {
        "MJD": ("D", np.asarray(mjd[:n_phot])),
        "BAND": (band[0], [band[1]] * n_phot),
        "FLUXCAL": ("D", np.asarray(flux[:n_phot])),
        "FLUXCALERR": ("D", np.ones(n_phot)),
    }
    head_values = {
        "SNID": ("8A", [snid]),
        "REDSHIFT_HELIO": ("D", [0.03]),
        "PEAKMJD": ("D", [57401.0]),
        "PTROBS_MIN": ("J", [1]),
        "PTROBS_MAX": ("J", [ptr_max]),
    }
    if phot:
        cols = [fits.Column(c, phot_values[c][0], array=phot_values[c][1]) for c in phot_columns]
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(phot_path)
    if head:
        cols = [fits.Column(c, head_values[c][0], array=head_values[c][1]) for c in head_columns]
        fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(head_path)
    return head_path, phot_path


def test_fits_pair_reads(tmp_path):
    head, _ = _write_pair(tmp_path)
    survey = Survey.from_snana(head, bands="auto")
    assert survey.snid == ("sn1",) and survey.mask.sum() == 4 and survey.peak_mjd[0] == 57401.0


FITS_CASES = [
    # (id, writer kwargs, file given, file named, field, expected text)
    ("head_without_phot", {"phot": False}, "head", "T_HEAD.FITS", None, "without its PHOT"),
    ("phot_without_head", {"head": False}, "phot", "T_PHOT.FITS", None, "without its HEAD"),
    ("phot_truncated", {"n_phot": 3}, "head", "T_HEAD.FITS", "PTROBS_MAX", "has rows 1..3"),
    (
        "phot_missing_fluxcalerr",
        {"phot_columns": ("MJD", "BAND", "FLUXCAL")},
        "head",
        "T_PHOT.FITS",
        "FLUXCALERR",
        "no FLUXCALERR column",
    ),
    (
        "phot_nan_fluxcal",
        {"flux": (1.0, np.nan, 3.0, 4.0)},
        "head",
        "T_PHOT.FITS",
        "FLUXCAL",
        "PHOT row 2: expected a finite flux",
    ),
    (
        "head_missing_ptrobs",
        {"head_columns": ("SNID", "REDSHIFT_HELIO", "PEAKMJD", "PTROBS_MIN")},
        "head",
        "T_HEAD.FITS",
        "PTROBS_MAX",
        "no PTROBS_MAX column",
    ),
    (
        "head_missing_redshift",
        {"head_columns": ("SNID", "PEAKMJD", "PTROBS_MIN", "PTROBS_MAX")},
        "head",
        "T_HEAD.FITS",
        "REDSHIFT_HELIO",
        "no heliocentric redshift",
    ),
    (
        "phot_band_numbers",
        {"band": ("J", 1)},
        "head",
        "T_PHOT.FITS",
        "BAND",
        "PHOT column BAND holds int32 values; expected band names",
    ),
    (
        "phot_unmapped_band",
        {"bands": {"r": "r_PS1"}},
        "head",
        "T_PHOT.FITS",
        "BAND",
        "SN 'sn1', PHOT row 1: band 'g' is not in the band map (it names r)",
    ),
    (
        "phot_no_band_map",
        {"bands": None},
        "phot",
        "T_PHOT.FITS",
        "BAND",
        "SN 'sn1', PHOT row 1: no band map given for band 'g' (the bands in this file: g)",
    ),
    (
        "phot_repeated_obs_conflict",
        {"mjd": (57400.0, 57400.0, 57402.0, 57403.0)},
        "head",
        "T_PHOT.FITS",
        "MJD",
        "SN 'sn1', PHOT row 2: MJD 57400.0 in band 'g' observed twice with different "
        "values: flux 1.0 +- 1.0 at PHOT row 1, 2.0 +- 1.0 here",
    ),
    ("head_snid_space", {"snid": "sn 1"}, "head", "T_HEAD.FITS", "SNID", "HEAD row 1: SNID 'sn 1'"),
    ("head_snid_empty", {"snid": ""}, "head", "T_HEAD.FITS", "SNID", "SNID '' cannot name"),
    ("head_snid_hash", {"snid": "sn#1"}, "head", "T_HEAD.FITS", "SNID", "contains '#'"),
]


@pytest.mark.parametrize(
    "kwargs, given, named, field, says", [c[1:] for c in FITS_CASES], ids=[c[0] for c in FITS_CASES]
)
def test_fits_cases(tmp_path, kwargs, given, named, field, says):
    kwargs = dict(kwargs)
    bands = kwargs.pop("bands", "auto")
    head, phot = _write_pair(tmp_path, **kwargs)
    with pytest.raises(DataError) as info:
        Survey.from_snana(head if given == "head" else phot, bands=bands)
    check(Case(named, None, field, says), info.value)


def test_fits_not_fits(tmp_path):
    head, phot = tmp_path / "T_HEAD.FITS", tmp_path / "T_PHOT.FITS"
    head.write_text("SNID: not a FITS file\n")
    phot.write_text("neither\n")
    with pytest.raises(DataError) as info:
        Survey.from_snana(head, bands="auto")
    check(Case("T_HEAD.FITS", None, None, "not a readable FITS HEAD file"), info.value)


# --------------------------------------------------------------------------- tables
def _table(**meta) -> Table:
    t = Table(
        {
            "mjd": [1.0, 2.0],
            "band": ["g", "r"],
            "flux": [1.0, 2.0],
            "fluxerr": [0.1, 0.1],
            "zp": [25.0, 25.0],
            "zpsys": ["ab", "ab"],
        }
    )
    t.meta.update({"name": "sn1", "z": 0.05, "t0": 1.5, "source": "my_table.ecsv"} | meta)
    return t


def test_table_reads():
    survey = Survey.from_tables(_table(), bands="auto")
    np.testing.assert_allclose(survey.fluxcal[0], [10.0, 20.0])


@pytest.mark.parametrize(
    "make, field, says",
    [
        (lambda t: t.remove_column("flux"), "flux", "no flux column"),
        (lambda t: t.remove_column("zp"), "zp", "no zp column"),
        (lambda t: t.remove_column("mjd"), "time", "no time column"),
        (lambda t: t.remove_column("band"), "band", "no band column"),
        (lambda t: t.meta.pop("name"), "SNID", "no SNID"),
        (lambda t: t.meta.pop("z"), "REDSHIFT_HELIO", "no heliocentric redshift"),
        (lambda t: t.meta.update(z="high"), "REDSHIFT_HELIO", "expected a number, got 'high'"),
        (lambda t: t.replace_column("flux", ["1.0", "2.0x"]), "flux", "row 2: expected a number"),
        (
            lambda t: t.replace_column("fluxerr", [0.1, np.nan]),
            "fluxerr",
            "row 2: expected a finite",
        ),
        (
            lambda t: t.replace_column("flux", MaskedColumn([1.0, 2.0], mask=[True, False])),
            "flux",
            "row 1: missing (masked) value",
        ),
        (lambda t: t.meta.update(name="sn 1"), "SNID", "table.meta: SNID 'sn 1' cannot name"),
        (
            lambda t: t.replace_column("mjd", [1.0, 1.0]) or t.replace_column("band", ["g", "g"]),
            "MJD",
            "SN 'sn1', row 2: MJD 1.0 in band 'g' observed twice with different values",
        ),
    ],
)
def test_table_cases(make, field, says):
    t = _table()
    make(t)
    with pytest.raises(DataError) as info:
        Survey.from_tables([t], bands="auto")
    check(Case("my_table.ecsv", None, field, says), info.value)


@pytest.mark.parametrize(
    "bands, says",
    [
        ({"g": "g_PS1"}, "SN 'sn1', row 2: band 'r' is not in the band map (it names g)"),
        (None, "SN 'sn1', row 1: no band map given for band 'g' (the bands in this file: g, r)"),
    ],
)
def test_table_band_map(bands, says):
    with pytest.raises(DataError) as info:
        Survey.from_tables([_table()], bands=bands)
    check(Case("my_table.ecsv", None, "band", says), info.value)


# --------------------------------------------------------------------------- arguments
ARGUMENT_CASES = [
    (
        "bands_not_a_mapping",
        lambda: Survey.from_snana(CORPUS / "no_list_dir" / "lonely.txt", bands=["g", "g_PS1"]),
        "bands",
    ),
    (
        "bands_not_strings",
        lambda: Survey.from_snana(CORPUS / "no_list_dir" / "lonely.txt", bands={"g": 1}),
        "bands",
    ),
    ("bands_in_table_route", lambda: Survey.from_tables([_table()], bands="g"), "bands"),
    (
        "bands_auto_misspelt",
        lambda: Survey.from_snana(CORPUS / "no_list_dir" / "lonely.txt", bands="AUTO"),
        "bands",
    ),
    (
        "bands_in_bayesn_route",
        lambda: Survey.from_bayesn_table(CORPUS / "bayesn_table_conflict.txt", bands=3),
        "bands",
    ),
    (
        "missing_option",
        lambda: Survey.from_snana(CORPUS / "no_list_dir", missing="skip"),
        "missing",
    ),
    (
        "ignore_file_option",
        lambda: Survey.from_snana(CORPUS / "duplicate_snid", ignore_file=3),
        "ignore_file",
    ),
    ("path_not_a_path", lambda: Survey.from_snana(5), "path"),
    ("empty_path_list", lambda: Survey.from_snana([]), "path"),
    (
        "z_err_floor",
        lambda: auto(CORPUS / "no_list_dir" / "lonely.txt", z_err_floor=-1),
        "z_err_floor",
    ),
    ("tables_not_tables", lambda: Survey.from_tables([{"mjd": [1.0]}]), "tables[0]"),
    ("tables_empty", lambda: Survey.from_tables([]), "tables"),
]


@pytest.mark.parametrize(
    "call, field", [c[1:] for c in ARGUMENT_CASES], ids=[c[0] for c in ARGUMENT_CASES]
)
def test_argument_cases(call, field):
    with pytest.raises(ConfigError) as info:
        call()
    assert info.value.field == field and f"field {field!r}" in str(info.value)


@pytest.mark.parametrize(
    "kwargs, field, says",
    [
        ({"mjd": [[1.0, 2.0]], "band": [["g"]]}, "band", "1 entries but mjd has 2"),
        ({"fluxcal": [[1.0, np.nan]]}, "fluxcal", "observation 2: expected a finite flux"),
        ({"fluxcal_err": [[0.1, 0.0]]}, "fluxcal_err", "expected a finite flux error > 0"),
        ({"mjd": [["a", "b"]]}, "mjd", "expected numbers"),
        ({"z_hel": [0.1, 0.2]}, "z_hel", "one value per supernova (1), got 2"),
        ({"z_hel": [-0.1]}, "REDSHIFT_HELIO", "expected a redshift > 0"),
        ({"snid": ["a", "b"]}, "mjd", "one array per supernova (2), got 1"),
        ({"snid": [""]}, "SNID", "snid[0]: SNID '' cannot name the SN in result tables"),
        (
            {"mjd": [[1.0, 1.0]], "band": [["g", "g"]]},
            "MJD",
            "SN 'sn', observation 2: MJD 1.0 in band 'g' observed twice with different "
            "values: flux 1.0 +- 0.1 at observation 1, 2.0 +- 0.1 here",
        ),
    ],
)
def test_array_cases(kwargs, field, says):
    args = {
        "snid": ["sn"],
        "mjd": [[1.0, 2.0]],
        "band": [["g", "r"]],
        "fluxcal": [[1.0, 2.0]],
        "fluxcal_err": [[0.1, 0.1]],
        "z_hel": [0.1],
        "peak_mjd": [1.5],
    } | kwargs
    positional = [args.pop(k) for k in ("snid", "mjd", "band", "fluxcal", "fluxcal_err")]
    with pytest.raises(DataError) as info:
        Survey.from_arrays(*positional, **args)
    assert info.value.field == field and says in str(info.value)
