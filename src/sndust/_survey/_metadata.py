"""Per-SN metadata from a table (a compilation's FITRES, CSV or whitespace table):
redshifts, peak dates, host masses and Milky Way E(B−V) supplied or overridden by SNID,
as the Pantheon+ release gives them (one row per SN and survey: CID, IDSURVEY, zHD,
zHEL, PKMJD, HOST_LOGMASS, MWEBV).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError, DataError
from ._header import LOG_MASS_RANGE
from ._lightcurve import snid_key

#: Survey fields a table can supply, and the column names looked for (in order).
COLUMNS = {
    "z_cmb": ("zHD", "zCMB", "REDSHIFT_CMB", "z_cmb"),
    "z_hel": ("zHEL", "REDSHIFT_HELIO", "z_hel"),
    "peak_mjd": ("PKMJD", "PEAKMJD", "SEARCH_PEAKMJD", "peak_mjd"),
    "log_mass": ("HOST_LOGMASS", "HOSTGAL_LOGMASS", "log_mass"),
    "mwebv": ("MWEBV", "mwebv"),
}
#: Columns naming the SN, looked for in this order.
ID_COLUMNS = ("CID", "SNID", "snid", "name")


def read_table(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of a FITRES (``VARNAMES:``/``SN:`` rows), CSV or whitespace table
    (a header line, then one row per SN; ``#`` comments), plain or gzip."""
    from astropy.io import ascii as astropy_ascii

    from .._fitres import read_fitres
    from ._snana import read_text_file

    path = Path(path)
    text = read_text_file(path)
    if any(line.lstrip().startswith("VARNAMES:") for line in text.splitlines()):
        table = read_fitres(path)
        return {name: np.asarray(table[name]) for name in table.colnames}
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise DataError("empty table: expected a header line and rows", file=str(path))
    delimiter = "," if "," in lines[0] else None
    try:
        table = astropy_ascii.read(
            lines, format="csv" if delimiter else "basic", delimiter=delimiter or " ", guess=False
        )
    except Exception as err:  # astropy raises several kinds for malformed rows
        raise DataError(f"cannot read as a table: {err}", file=str(path)) from None
    return {name: np.asarray(table[name]) for name in table.colnames}


def with_metadata(
    survey,
    table: Any,
    *,
    id_column: str | None = None,
    match: Mapping[str, Any] | None = None,
    columns: Mapping[str, str] | None = None,
    mass_sentinels: Sequence[float] = (),
    require_all: bool = False,
):
    """``survey`` with per-SN values from ``table`` (see :meth:`sndust.Survey.with_metadata`)."""
    source = str(table) if isinstance(table, str | Path) else "a table"
    data = read_table(table) if isinstance(table, str | Path) else _as_columns(table)
    names = list(data)
    id_column = id_column or next((c for c in ID_COLUMNS if c in data), None)
    if id_column is None or id_column not in data:
        raise DataError(
            f"no SN-name column {id_column or '(' + ', '.join(ID_COLUMNS) + ')'}; columns: "
            + ", ".join(names),
            file=source,
            field=id_column or "CID",
        )
    rows = np.ones(len(data[id_column]), bool)
    for column, value in (match or {}).items():
        if column not in data:
            raise DataError(f"no column {column} to match; columns: {', '.join(names)}",
                            file=source, field=column)  # fmt: skip
        rows &= np.asarray([_same(v, value) for v in data[column]])
    chosen = _chosen_columns(data, columns, source)
    keys = [snid_key(v) for v in np.asarray(data[id_column])[rows]]
    values = {field: np.asarray(data[col], float)[rows] for field, col in chosen.items()}
    index: dict[str, int] = {}
    for j, key in enumerate(keys):
        first = index.setdefault(key, j)
        if first != j and any(values[f][first] != values[f][j] for f in values):
            raise DataError(
                f"SN {key} has two rows that disagree"
                + (f" among those matching {dict(match)}" if match else ""),
                file=source,
                field=id_column,
            )
    found = [index.get(snid_key(s)) for s in survey.snid]
    missing = [s for s, j in zip(survey.snid, found) if j is None]
    if missing and require_all:
        raise DataError(
            f"{len(missing)} SNe of the survey are not in the table: " + _listed(missing),
            file=source,
            field=id_column,
        )
    updates, notes = {}, []
    have = np.array([j is not None for j in found])
    take = np.array([0 if j is None else j for j in found])
    for field, column in chosen.items():
        new = np.where(have, values[field][take], getattr(survey, field))
        if field == "log_mass":
            new, placeholders = _unknown_masses(new, have, mass_sentinels)
            if placeholders:
                notes.append(
                    f"{len(placeholders)} host masses in {source} are placeholders (≤ 0, "
                    f"outside {list(LOG_MASS_RANGE)}"
                    + (f", or {list(mass_sentinels)}" if mass_sentinels else "")
                    + ") and read as unknown: "
                    + _listed([survey.snid[i] for i in placeholders])
                )
        bad = have & ~np.isfinite(new) & (field != "log_mass")
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(
                f"SN {survey.snid[i]}: {column} is {new[i]!r}, expected a finite number",
                file=source,
                field=column,
            )
        updates[field] = new
    used = ", ".join(f"{field} ({column})" for field, column in chosen.items())
    notes.insert(0, f"{used} from {source} for {int(have.sum())} of {survey.n_sn} SNe")
    if missing:
        notes.append(
            f"{len(missing)} SNe not in {source} keep their files' values: " + _listed(missing)
        )
    return replace(survey, **updates, notes=survey.notes + tuple(notes))


def _as_columns(table) -> dict[str, np.ndarray]:
    if isinstance(table, Mapping):
        return {str(k): np.asarray(v) for k, v in table.items()}
    if hasattr(table, "colnames"):
        return {name: np.asarray(table[name]) for name in table.colnames}
    raise ConfigError(
        f"expected a table path, an astropy Table or a mapping of columns, got "
        f"{type(table).__name__}",
        field="table",
    )


def _chosen_columns(data, columns, source) -> dict[str, str]:
    """Survey field -> table column: those named in ``columns``, else every field whose
    usual column is present."""
    if columns is not None:
        for field, column in columns.items():
            if field not in COLUMNS:
                raise ConfigError(
                    f"unknown survey field {field!r}; expected some of {', '.join(COLUMNS)}",
                    field="columns",
                )
            if column not in data:
                raise DataError(f"no column {column}; columns: {', '.join(data)}",
                                file=source, field=column)  # fmt: skip
        return dict(columns)
    chosen = {}
    for field, options in COLUMNS.items():
        column = next((c for c in options if c in data), None)
        if column is not None:
            chosen[field] = column
    if not chosen:
        raise DataError(
            "no column the survey can use; expected some of "
            + ", ".join(c for options in COLUMNS.values() for c in options),
            file=source,
        )
    return chosen


def _unknown_masses(mass, have, sentinels) -> tuple[np.ndarray, list[int]]:
    """Table host masses that are placeholders set to NaN, and which SNe they were."""
    lo, hi = LOG_MASS_RANGE
    placeholder = (mass < lo) | (mass > hi)  # ≤ 0, −9, −99, 99: SNANA's "unknown"
    for value in sentinels:
        placeholder |= mass == float(value)
    placeholder &= have & np.isfinite(mass)
    return np.where(placeholder, np.nan, mass), np.flatnonzero(placeholder).tolist()


def _same(cell, value) -> bool:
    """Whether a table cell equals a ``match`` value (numbers as numbers, else text)."""
    try:
        return float(cell) == float(value)
    except (TypeError, ValueError):
        return str(cell).strip() == str(value).strip()


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names)
