"""SNANA FITRES text tables: ``VARNAMES:`` header, one ``SN:`` row per supernova.

The format cosmology pipelines (SNANA, Pippin, BBC) read and write: ``#`` comments,
``VARNAMES: CID col2 ...`` once, then ``SN: value value ...`` rows. Missing numbers are
written ``-9``, SNANA's convention.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.table import Table

from ._errors import DataError
from ._survey._lightcurve import unwritable

__all__ = ["read_fitres", "write_fitres"]


def read_fitres(path: str | os.PathLike) -> Table:
    """Read a FITRES text file into an astropy Table (numeric columns as float/int)."""
    path = Path(path)
    names, rows, lines = None, [], []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, raw in enumerate(fh, 1):
            text = raw.split("#", 1)[0].strip()
            if not text:
                continue
            head, _, rest = text.partition(":")
            if head == "VARNAMES":
                if names is not None:
                    raise DataError("a second VARNAMES line", file=path, line=number)
                names = rest.split()
            elif head == "SN":
                if names is None:
                    raise DataError("an SN: row before VARNAMES", file=path, line=number)
                values = rest.split()
                if len(values) != len(names):
                    raise DataError(
                        f"{len(values)} values for {len(names)} VARNAMES", file=path, line=number
                    )
                rows.append(values)
                lines.append(number)
    if names is None:
        raise DataError("no VARNAMES line: not a FITRES table", file=path)
    columns = {}
    for j, name in enumerate(names):
        raw = [r[j] for r in rows]
        # SN names stay text: CID 007 is not the number 7
        columns[name] = np.array(raw, dtype=str) if name in _ID_COLUMNS else _typed(raw)
    return Table(columns, names=names, meta={"file": str(path)})


_ID_COLUMNS = frozenset({"CID", "SNID", "NAME", "IAUC"})


def _typed(raw: list[str]):
    for kind in (int, float):
        try:
            return np.array([kind(v) for v in raw])
        except ValueError:
            continue
    return np.array(raw, dtype=str)


def write_fitres(table: Table, path: str | os.PathLike, comments: tuple[str, ...] = ()) -> None:
    """Write ``table`` (first column the SN name) as FITRES text; NaN is written -9."""
    path = Path(path)
    names = list(table.colnames)
    with open(path, "w", encoding="utf-8") as fh:
        for line in comments:
            fh.write(f"# {line}\n")
        fh.write("VARNAMES: " + " ".join(names) + "\n")
        for row in table:
            fh.write("SN: " + " ".join(_format(row[n]) for n in names) + "\n")


def _format(value) -> str:
    if isinstance(value, str | np.str_):
        # the rule the readers apply to SNIDs (check_snid), so a survey read is writable
        problem = unwritable(str(value))
        if problem is not None:
            raise DataError(f"FITRES value {str(value)!r} cannot be written: {problem}")
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    value = float(value)
    return "-9" if not np.isfinite(value) else repr(value)
