"""Readers for tables: BayeSN's data table (one row per SN pointing at SNANA files) and
astropy/sncosmo photometric tables (one table per SN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError, DataError
from ._header import normalise_keys, to_number
from ._lightcurve import LightCurve, check_snid, map_bands
from ._snana import check_photometry, numeric_column, read_snana_text, read_text_file

#: Columns of a BayeSN data table (case-insensitive); ``files`` is comma-separated.
BAYESN_COLUMNS = ("SNID", "SEARCH_PEAKMJD", "REDSHIFT_CMB", "REDSHIFT_CMB_ERR", "files")
#: FLUXCAL zero point (mag).
FLUXCAL_ZP = 27.5


def read_bayesn_table(
    table_path: str | Path, data_root: str | Path | None, bands: Any
) -> list[LightCurve]:
    """Read a BayeSN data table and the SNANA text files it names.

    The table is whitespace-separated with ``#`` comments; its first line names the
    columns ``SNID SEARCH_PEAKMJD REDSHIFT_CMB REDSHIFT_CMB_ERR files``. Each row's files
    (comma-separated, relative to ``data_root``, default the table's directory) are
    read and their observations concatenated. The table's SNID, peak date and CMB
    redshift (with error) replace the files' header values. ``bands`` applies to every
    file as in :func:`read_snana_text`.
    """
    table_path = Path(table_path)
    source = str(table_path)
    root = table_path.parent if data_root is None else Path(data_root)
    rows = []
    for lineno, raw in enumerate(read_text_file(table_path).splitlines(), start=1):
        content = raw.split("#", 1)[0].strip()
        if content:
            rows.append((lineno, content.split()))
    if not rows:
        raise DataError(
            "empty data table: expected a header line '" + " ".join(BAYESN_COLUMNS) + "'",
            file=source,
        )
    header_line, header = rows[0]
    index = {name.upper(): i for i, name in enumerate(header)}
    for column in BAYESN_COLUMNS:
        if column.upper() not in index:
            raise DataError(
                f"data table has no {column} column; its header names {' '.join(header)} "
                f"(expected {' '.join(BAYESN_COLUMNS)})",
                file=source,
                line=header_line,
                field=column,
            )
    curves = []
    for lineno, tokens in rows[1:]:
        if len(tokens) != len(header):
            raise DataError(
                f"row has {len(tokens)} values but the header names {len(header)} columns",
                file=source,
                line=lineno,
            )
        values: dict[str, Any] = {}
        for column in ("SEARCH_PEAKMJD", "REDSHIFT_CMB", "REDSHIFT_CMB_ERR"):
            text = tokens[index[column]]
            number = to_number(text)
            if number is None or not np.isfinite(number):
                raise DataError(
                    f"expected a finite number, got {text!r}",
                    file=source,
                    line=lineno,
                    field=column,
                )
            values[column] = float(number)
        if values["REDSHIFT_CMB"] <= 0 or values["REDSHIFT_CMB_ERR"] < 0:
            raise DataError(
                "expected REDSHIFT_CMB > 0 and REDSHIFT_CMB_ERR >= 0, got "
                f"{values['REDSHIFT_CMB']:g}, {values['REDSHIFT_CMB_ERR']:g}",
                file=source,
                line=lineno,
                field="REDSHIFT_CMB",
            )
        snid = check_snid(tokens[index["SNID"]], file=source, line=lineno)
        names = [f for f in tokens[index["FILES"]].split(",") if f]
        parts = []
        for name in names:
            path = root / name
            if not path.is_file():
                raise DataError(
                    f"SN {snid!r}: light-curve file {name!r} not found under {root}",
                    file=source,
                    line=lineno,
                    field="files",
                )
            parts.append(read_snana_text(path, bands))
        if not parts:
            raise DataError(f"SN {snid!r}: no files", file=source, line=lineno, field="files")
        meta = dict(parts[0].meta)
        meta.update(values, SNID=snid)
        curves.append(
            LightCurve(
                snid=snid,
                mjd=np.concatenate([p.mjd for p in parts]),
                band=np.concatenate([p.band for p in parts]),
                fluxcal=np.concatenate([p.fluxcal for p in parts]),
                fluxcal_err=np.concatenate([p.fluxcal_err for p in parts]),
                meta=meta,
                source=",".join(p.source for p in parts),
                line=np.concatenate([p.line for p in parts]),
                header_lines=dict(parts[0].header_lines),
                line_file=np.concatenate([np.full(len(p), k) for k, p in enumerate(parts)]),
            )
        )
    return curves


#: Common metadata names of sncosmo/astropy tables, mapped to SNANA header keys.
META_ALIASES = {
    "NAME": "SNID",
    "ID": "SNID",
    "CID": "SNID",
    "OBJECT": "SNID",
    "Z": "REDSHIFT_HELIO",
    "REDSHIFT": "REDSHIFT_HELIO",
    "Z_HEL": "REDSHIFT_HELIO",
    "ZHEL": "REDSHIFT_HELIO",
    "Z_HELIO": "REDSHIFT_HELIO",
    "Z_ERR": "REDSHIFT_HELIO_ERR",
    "ZERR": "REDSHIFT_HELIO_ERR",
    "Z_CMB": "REDSHIFT_CMB",
    "ZCMB": "REDSHIFT_CMB",
    "Z_CMB_ERR": "REDSHIFT_CMB_ERR",
    "T0": "SEARCH_PEAKMJD",
    "PEAK_MJD": "SEARCH_PEAKMJD",
    "TMAX": "SEARCH_PEAKMJD",
    "EBV": "MWEBV",
    "MW_EBV": "MWEBV",
    "EBV_MW": "MWEBV",
    "LOG_MASS": "HOSTGAL_LOGMASS",
    "LOGMASS": "HOSTGAL_LOGMASS",
    "HOST_LOGMASS": "HOSTGAL_LOGMASS",
}
_TIME = ("MJD", "TIME", "DATE")
_BAND = ("BAND", "FLT", "FILTER", "BANDPASS")
_FLUX_ERR = ("FLUXERR", "FLUX_ERR", "FLUXERROR", "E_FLUX", "DFLUX")
_ZP = ("ZP", "ZPT", "ZEROPOINT")


def _column(table, names: tuple[str, ...]) -> str | None:
    upper = {name.upper(): name for name in table.colnames}
    return next((upper[n] for n in names if n in upper), None)


def _float_column(table, name: str, source: str) -> np.ndarray:
    """A numeric table column as float64; masked or non-numeric entries are DataErrors."""
    col = table[name]
    rows = list(range(1, len(col) + 1))
    mask = np.ma.getmaskarray(col) if hasattr(col, "mask") else np.zeros(len(col), bool)
    if mask.any():
        row = int(np.argmax(mask)) + 1
        raise DataError(f"row {row}: missing (masked) value", file=source, field=name)
    values = np.asarray(col)
    if values.dtype.kind in "fiu":
        return values.astype(np.float64)
    text = [v.decode() if isinstance(v, bytes) else str(v) for v in values.tolist()]
    return numeric_column(text, name, rows, source, line_kind="row ")


def light_curve_from_table(table: Any, position: int, bands: Any) -> LightCurve:
    """One SN's light curve from an astropy Table (sncosmo photometric-data convention).

    Columns (case-insensitive): time (``time``/``mjd``/``date``), ``band``, and either
    ``flux``, ``fluxerr``, ``zp`` (``zpsys`` optional) -- converted to FLUXCAL at zero
    point 27.5 by ``fluxcal = flux * 10**(0.4 * (27.5 - zp))`` -- or ``FLUXCAL`` and
    ``FLUXCALERR`` directly. SN metadata comes from ``table.meta`` with SNANA names or
    common aliases (``z``, ``t0``, ``mwebv``, ``name``, ...). ``bands`` maps the band
    column's names to sndust filter names, as in :func:`read_snana_text`.
    """
    from astropy.table import Table

    if not isinstance(table, Table):
        raise ConfigError(
            f"expected an astropy Table, got {type(table).__name__}", field=f"tables[{position}]"
        )
    meta = normalise_keys(table.meta or {}, META_ALIASES)
    source = str(meta.pop("SOURCE", meta.pop("FILENAME", f"table {position}")))
    found = ", ".join(table.colnames) or "none"

    time_col = _column(table, _TIME)
    band_col = _column(table, _BAND)
    if time_col is None:
        raise DataError(
            f"no time column: expected one of {'/'.join(_TIME)}; found {found}",
            file=source,
            field="time",
        )
    if band_col is None:
        raise DataError(
            f"no band column: expected one of {'/'.join(_BAND)}; found {found}",
            file=source,
            field="band",
        )
    fluxcal_col, fluxcalerr_col = _column(table, ("FLUXCAL",)), _column(table, ("FLUXCALERR",))
    if fluxcal_col is not None and fluxcalerr_col is not None:
        names = (time_col, fluxcal_col, fluxcalerr_col)
        fluxcal = _float_column(table, fluxcal_col, source)
        fluxcal_err = _float_column(table, fluxcalerr_col, source)
    else:
        flux_col, err_col, zp_col = (
            _column(table, ("FLUX",)),
            _column(table, _FLUX_ERR),
            _column(table, _ZP),
        )
        for col, what in ((flux_col, "flux"), (err_col, "fluxerr"), (zp_col, "zp")):
            if col is None:
                raise DataError(
                    f"no {what} column: expected columns flux, fluxerr and zp (sncosmo "
                    f"convention) or FLUXCAL and FLUXCALERR; found {found}",
                    file=source,
                    field=what,
                )
        names = (time_col, flux_col, err_col)
        scale = 10.0 ** (0.4 * (FLUXCAL_ZP - _float_column(table, zp_col, source)))
        fluxcal = _float_column(table, flux_col, source) * scale
        fluxcal_err = _float_column(table, err_col, source) * scale
        zpsys_col = _column(table, ("ZPSYS", "MAGSYS"))
        if zpsys_col is not None:
            systems = sorted({str(s).strip() for s in table[zpsys_col]})
            meta.setdefault("ZPSYS", systems[0] if len(systems) == 1 else tuple(systems))
    mjd = _float_column(table, time_col, source)
    rows = np.arange(1, len(table) + 1)
    check_photometry(mjd, fluxcal, fluxcal_err, rows, source, names=names, row_word="row")

    if meta.get("SNID") is None:
        raise DataError(
            "no SNID in table.meta: expected a 'SNID' (or 'name') entry", file=source, field="SNID"
        )
    meta["SNID"] = check_snid(str(meta["SNID"]).strip(), file=source, where="table.meta: ")
    raw_bands = [getattr(b, "name", b) for b in table[band_col].tolist()]
    raw_bands = [b.decode() if isinstance(b, bytes) else str(b) for b in raw_bands]
    lc = LightCurve(
        snid=meta["SNID"],
        mjd=mjd,
        band=np.asarray(raw_bands, dtype=str),
        fluxcal=fluxcal,
        fluxcal_err=fluxcal_err,
        meta=meta,
        source=source,
        line=rows,
        line_word="row",
    )
    return map_bands(lc, bands, column=band_col)
