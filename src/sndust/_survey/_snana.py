"""Reader for SNANA text light-curve files.

The format: header lines ``KEY: value [+- err] [unit]`` (``#`` starts a comment), then
``NOBS``, ``NVAR`` and ``VARLIST: MJD FLT ... FLUXCAL FLUXCALERR ...`` followed by one
``OBS:`` row per observation, optionally ``END:``. ``FLUXCAL`` has zero point 27.5 mag.
Files may be gzip-compressed, whatever their name.

Read as SNANA reads them: the ``VARLIST`` governs the columns (a disagreeing ``NVAR``,
as in the Foundation files of the Pantheon+ release, is noted, not fatal, when every row
has the ``VARLIST``'s columns), the band column is ``FLT`` or ``BAND``, columns beyond
the four needed are ignored (``PHOTFLAG`` is read for ``reject_photflag``).
"""

from __future__ import annotations

import dataclasses
import gzip
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import DataError
from ._header import parse_value, to_number
from ._lightcurve import Drop, LightCurve, check_snid, map_bands

#: Columns every light curve needs; the band column may be called FLT or BAND.
BAND_COLUMNS = ("FLT", "BAND")
_KEY_TOKEN = re.compile(r"[A-Z][A-Z0-9_]*:")
_EXPECTED_VARLIST = "'VARLIST: MJD FLT FLUXCAL FLUXCALERR ...'"
#: The first two bytes of every gzip stream.
GZIP_MAGIC = b"\x1f\x8b"
#: Header keys that repeat legitimately: one block of them per spectrum.
_REPEATED_PREFIX = "SPECTRUM_"


def read_text_file(path: Path) -> str:
    """The UTF-8 text of ``path``, decompressed first if it is gzip (recognised by its
    first bytes, not its name), with file-system, compression and encoding problems as
    DataErrors."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", file=str(path)) from None
    except IsADirectoryError:
        raise DataError("expected a file, found a directory", file=str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror}", file=str(path)) from None
    compressed = data[:2] == GZIP_MAGIC
    if compressed:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"gzip-compressed, but cannot be decompressed (truncated or corrupt?): {exc}",
                file=str(path),
            ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        what = "gzip-compressed, but what it holds is not" if compressed else "not"
        raise DataError(
            f"{what} a text file (undecodable byte at offset {exc.start})", file=str(path)
        ) from None
    return text


def numeric_column(
    values: list[str], column: str, lines: list[int], source: str, line_kind: str = ""
) -> np.ndarray:
    """``values`` as float64, or a DataError naming the first entry that is not a number."""
    try:
        return np.asarray(values, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(len(values), dtype=np.float64)
    for i, (value, line) in enumerate(zip(values, lines)):
        number = to_number(value)
        if number is None:
            where = f"{line_kind}{line}: " if line_kind else ""
            raise DataError(
                f"{where}expected a number, got {value!r}",
                file=source,
                line=None if line_kind else line,
                field=column,
            )
        out[i] = number
    return out


def check_photometry(
    mjd: np.ndarray,
    fluxcal: np.ndarray,
    fluxcal_err: np.ndarray,
    lines: np.ndarray,
    source: str,
    names: tuple[str, str, str] = ("MJD", "FLUXCAL", "FLUXCALERR"),
    row_word: str | None = None,
) -> None:
    """Raise a DataError at the first non-finite MJD or flux, or error that is not > 0.

    ``row_word`` (e.g. ``"PHOT row"``) puts the position in the message instead of the
    line field, for tabular sources where it is a row, not a text line.
    """
    checks = (
        (names[0], mjd, ~np.isfinite(mjd), "expected a finite MJD"),
        (names[1], fluxcal, ~np.isfinite(fluxcal), "expected a finite flux"),
        (
            names[2],
            fluxcal_err,
            ~(np.isfinite(fluxcal_err) & (fluxcal_err > 0)),
            "expected a finite flux error > 0",
        ),
    )
    for column, values, bad, expected in checks:
        if bad.any():
            i = int(np.argmax(bad))
            where = f"{row_word} {int(lines[i])}: " if row_word else ""
            raise DataError(
                f"{where}{expected}, got {float(values[i])!r}",
                file=source,
                line=None if row_word else int(lines[i]),
                field=column,
            )


def _split_keys(key: str, tokens: list[str]) -> list[tuple[str, list[str]]]:
    """Split a header line holding several keys (``SNID: 1032  IAUC: 2005ez``, as in
    older SNANA files) into ``(key, value tokens)`` pairs."""
    pairs = [(key, [])]
    for token in tokens:
        if _KEY_TOKEN.fullmatch(token):
            pairs.append((token[:-1], []))
        else:
            pairs[-1][1].append(token)
    return pairs


class _Header:
    """The header of one file as read so far: its values and the line of each key.

    A key given twice (in any case) is accepted only with the same value: otherwise
    which one is meant is unknowable, so it is an error.
    """

    def __init__(self, source: str):
        self.source = source
        self.meta: dict[str, Any] = {}
        self.lines: dict[str, int] = {}
        self._by_upper: dict[str, str] = {}

    def set(self, name: str, value: Any, lineno: int) -> None:
        upper = name.upper()
        first = self._by_upper.get(upper)
        if first is not None and not upper.startswith(_REPEATED_PREFIX):
            if self.meta[first] != value:
                raise DataError(
                    f"{first} given twice with different values: {self.meta[first]!r} on "
                    f"line {self.lines[first]}, {value!r} here; expected one",
                    file=self.source,
                    line=lineno,
                    field=name,
                )
            return
        self.meta[name] = value
        self.lines[name] = lineno
        self._by_upper.setdefault(upper, name)


def read_snana_text(
    path: str | Path, bands: Any = None, *, reject_photflag: int | None = None
) -> LightCurve:
    """Read one SNANA text light-curve file (plain or gzip-compressed).

    Args:
        path: the file.
        bands: map from band names in the file to sndust filter names (every band of
            the file must be in it), or ``"auto"`` to take the names as sndust filter
            names; with ``None`` reading any band is an error.
        reject_photflag: leave out every observation whose ``PHOTFLAG`` shares a bit with
            this mask (SNANA's ``PHOTFLAG_MSKREJ``), each recorded in the light curve's
            ``drops``; a file without a ``PHOTFLAG`` column gets a note instead.

    A header key given twice must have the same value both times (``SPECTRUM_*`` keys,
    one set per spectrum, excepted). The SNID must be one printable word without ``#``,
    so that result tables can name the SN.

    Raises:
        DataError: for anything malformed, naming the file, line and key or column.
    """
    path = Path(path)
    source = str(path)
    text = read_text_file(path)
    if not text.strip():
        raise DataError(
            "empty file: expected an SNANA light curve ('KEY: value' header lines, "
            f"{_EXPECTED_VARLIST} and 'OBS:' rows)",
            file=source,
        )

    header = _Header(source)
    meta, key_lines = header.meta, header.lines
    varlist: list[str] | None = None
    rows: list[list[str]] = []
    row_lines: list[int] = []
    in_documentation = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        content = raw.split("#", 1)[0].strip()
        if not content:
            continue
        if in_documentation:
            in_documentation = not content.startswith("DOCUMENTATION_END")
            continue
        key, colon, rest = content.partition(":")
        key = key.strip()
        if not colon or not key or any(c.isspace() for c in key):
            raise DataError(
                f"expected a 'KEY: value' header line or an 'OBS:' row, got {content[:60]!r}",
                file=source,
                line=lineno,
            )
        tokens = rest.split()
        if key == "OBS":
            if varlist is None:
                raise DataError(
                    f"OBS row before any VARLIST line: expected {_EXPECTED_VARLIST} first",
                    file=source,
                    line=lineno,
                    field="VARLIST",
                )
            if len(tokens) != len(varlist):
                raise DataError(
                    f"OBS row has {len(tokens)} values but VARLIST names {len(varlist)} "
                    f"columns ({' '.join(varlist)})",
                    file=source,
                    line=lineno,
                )
            rows.append(tokens)
            row_lines.append(lineno)
        elif key in ("VARLIST", "VARNAMES"):
            if varlist is not None:
                raise DataError(
                    "second VARLIST line: expected one", file=source, line=lineno, field=key
                )
            if not tokens:
                raise DataError(
                    f"empty VARLIST: expected {_EXPECTED_VARLIST}",
                    file=source,
                    line=lineno,
                    field=key,
                )
            varlist = [t.upper() for t in tokens]
            meta[key] = tuple(tokens)
            key_lines[key] = lineno
        elif key == "END":
            break
        elif key == "DOCUMENTATION":
            in_documentation = True
        elif key == "SPEC":  # spectrum rows of files that also carry spectra
            continue
        else:
            for name, values in _split_keys(key, tokens):
                value, err = parse_value(name, values)
                header.set(name, value, lineno)
                if err is not None:
                    header.set(f"{name}_ERR", err, lineno)

    if varlist is None:
        raise DataError(
            f"no VARLIST line: expected {_EXPECTED_VARLIST} before the 'OBS:' rows",
            file=source,
            field="VARLIST",
        )
    notes = _check_counts(meta, key_lines, varlist, len(rows), source)

    varlist_key = "VARLIST" if "VARLIST" in key_lines else "VARNAMES"
    band_column = next((c for c in BAND_COLUMNS if c in varlist), None)
    needed = ["MJD", band_column or "FLT", "FLUXCAL", "FLUXCALERR"]
    for column in needed:
        if column not in varlist:
            alt = " (or BAND)" if column == "FLT" else ""
            raise DataError(
                f"VARLIST has no {column}{alt} column; found {' '.join(varlist)}",
                file=source,
                line=key_lines[varlist_key],
                field=column,
            )
    columns = {name: [row[i] for row in rows] for i, name in enumerate(varlist)}
    mjd, fluxcal, fluxcal_err = (
        numeric_column(columns[c], c, row_lines, source) for c in ("MJD", "FLUXCAL", "FLUXCALERR")
    )
    lines = np.asarray(row_lines, dtype=np.int64)
    check_photometry(mjd, fluxcal, fluxcal_err, lines, source)

    if "SNID" not in key_lines:
        raise DataError("no SNID: expected a 'SNID: <name>' header line", file=source, field="SNID")
    snid = "" if meta["SNID"] is None else str(meta["SNID"])
    check_snid(snid, file=source, line=key_lines["SNID"])
    lc = LightCurve(
        snid=snid,
        mjd=mjd,
        band=np.asarray(columns[band_column], dtype=str),
        fluxcal=fluxcal,
        fluxcal_err=fluxcal_err,
        meta=meta,
        source=source,
        line=lines,
        header_lines=key_lines,
        notes=tuple(notes),
    )
    lc = map_bands(lc, bands, column=band_column)
    if reject_photflag is None:
        return lc
    if "PHOTFLAG" not in columns:
        note = "light curves without a PHOTFLAG column: reject_photflag rejected nothing there"
        return dataclasses.replace(lc, notes=lc.notes + (note,))
    flags = numeric_column(columns["PHOTFLAG"], "PHOTFLAG", row_lines, source)
    if not np.all(flags == np.round(flags)):
        i = int(np.argmax(flags != np.round(flags)))
        raise DataError(
            f"expected a whole number, got {columns['PHOTFLAG'][i]!r}",
            file=source,
            line=row_lines[i],
            field="PHOTFLAG",
        )
    return reject_flagged(lc, flags.astype(np.int64), reject_photflag)


def reject_flagged(lc: LightCurve, flags: np.ndarray, mask: int) -> LightCurve:
    """``lc`` without the observations whose ``flags`` share a bit with ``mask``, each
    recorded in its ``drops`` with the flag and the line it was read from."""
    bad = (flags & int(mask)) != 0
    if not bad.any():
        return lc
    drops = []
    for i in np.flatnonzero(bad):
        _, _, words = lc.position(int(i))
        reason = f"PHOTFLAG {int(flags[i])} shares bits with reject_photflag {int(mask)} ({words})"
        drops.append(Drop(lc.snid, str(lc.band[i]), float(lc.mjd[i]), reason, lc.source))
    keep = ~bad
    per_obs = {
        name: getattr(lc, name)[keep]
        for name in ("mjd", "band", "fluxcal", "fluxcal_err", "line", "line_file")
        if getattr(lc, name) is not None
    }
    return dataclasses.replace(lc, **per_obs, drops=lc.drops + tuple(drops))


def _check_counts(
    meta: dict, key_lines: dict[str, int], varlist: list[str], n_rows: int, source: str
) -> list[str]:
    """NOBS must match the number of OBS rows, when given. An NVAR that disagrees with
    the VARLIST is noted (returned), not fatal: SNANA reads by the VARLIST, and every
    row has been checked against it."""
    notes = []
    for key, actual, what in (
        ("NVAR", len(varlist), "columns in VARLIST"),
        ("NOBS", n_rows, "OBS rows"),
    ):
        if key not in meta:
            continue
        value = meta[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise DataError(
                f"expected a whole number, got {value!r}",
                file=source,
                line=key_lines[key],
                field=key,
            )
        if value < 0:
            raise DataError(
                f"expected a whole number >= 0, got {value}",
                file=source,
                line=key_lines[key],
                field=key,
            )
        if value != actual and key == "NVAR":
            notes.append(
                f"{source}:{key_lines[key]}: NVAR says {value} but VARLIST names {actual} "
                "columns, as every OBS row has; read by the VARLIST"
            )
        elif value != actual:
            raise DataError(
                f"{key} says {value} but the file has {actual} {what}",
                file=source,
                line=key_lines[key],
                field=key,
            )
    return notes
