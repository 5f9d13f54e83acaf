"""Reader for SNANA FITS light curves: a ``..._HEAD.FITS(.gz)`` table with one row per
supernova and a matching ``..._PHOT.FITS(.gz)`` table with the photometry of all of them.

Each HEAD row points at its observations with ``PTROBS_MIN``..``PTROBS_MAX``, 1-based
row numbers in the PHOT table; rows with ``MJD == -777`` separate supernovae.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import DataError
from ._lightcurve import LightCurve, check_snid, map_bands
from ._snana import check_photometry, reject_flagged

_FITS_NAME = re.compile(r"^(?P<stem>.*)_(?P<kind>HEAD|PHOT)(?P<ext>\.FITS(?:\.GZ)?)$", re.I)
#: PHOT rows with this MJD separate supernovae.
SEPARATOR_MJD = -777.0


def fits_kind(path: Path) -> str | None:
    """``"HEAD"`` or ``"PHOT"`` for an SNANA FITS file name, else ``None``."""
    match = _FITS_NAME.match(path.name)
    return None if match is None else match["kind"].upper()


def fits_partner(path: Path) -> tuple[Path, list[Path]]:
    """The existing file that pairs with a HEAD (or PHOT) file, and the names tried.

    Returns ``(partner, tried)``; ``partner`` is the first name tried if none exists.
    """
    match = _FITS_NAME.match(path.name)
    other = "PHOT" if match["kind"].upper() == "HEAD" else "HEAD"
    if match["kind"].islower():
        other = other.lower()
    ext = match["ext"]
    bare = ext[:-3] if ext.upper().endswith(".GZ") else ext
    names = (ext, bare, bare + ".gz", bare + ".GZ")
    tried = list(dict.fromkeys(path.with_name(f"{match['stem']}_{other}{e}") for e in names))
    for candidate in tried:
        if candidate.is_file():
            return candidate, tried
    return tried[0], tried


def _python(value: Any) -> Any:
    """A FITS table cell as a plain Python value: stripped str, int or float."""
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace").strip()
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return tuple(_python(v) for v in value.tolist())
    return value


def _open_table(path: Path, what: str):
    """The first table HDU of a FITS file, and its primary header."""
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdul:
            primary = hdul[0].header.copy()
            tables = [h for h in hdul[1:] if isinstance(h, fits.BinTableHDU | fits.TableHDU)]
            if not tables:
                raise DataError(f"{what} file has no table extension", file=str(path))
            data = tables[0].data
            columns = {name.upper(): np.asarray(data[name]) for name in data.columns.names}
    except FileNotFoundError:
        raise DataError(f"{what} file not found", file=str(path)) from None
    except DataError:
        raise
    except (OSError, ValueError, TypeError, IndexError) as exc:
        raise DataError(f"not a readable FITS {what} file ({exc})", file=str(path)) from None
    return columns, primary, len(data)


def _require(columns: dict, names: tuple[str, ...], path: Path, what: str) -> str:
    """The first of ``names`` present among the table's columns, or a DataError."""
    for name in names:
        if name in columns:
            return name
    raise DataError(
        f"{what} table has no {' or '.join(names)} column; found {', '.join(columns)}",
        file=str(path),
        field=names[0],
    )


def read_snana_fits(
    head_path: str | Path, bands: Any = None, *, reject_photflag: int | None = None
) -> list:
    """Read every supernova of an SNANA FITS HEAD/PHOT pair.

    Args:
        head_path: the HEAD file; the PHOT file is found by replacing ``_HEAD`` with
            ``_PHOT`` in its name (with or without ``.gz``).
        bands: map from band names in the file to sndust filter names (every band of
            the file must be in it), or ``"auto"`` to take the names as sndust filter
            names; with ``None`` reading any band is an error.
        reject_photflag: leave out the observations whose ``PHOTFLAG`` shares a bit with
            this mask (recorded in each light curve's ``drops``; see
            :func:`~._snana.read_snana_text`).

    Returns:
        A list of :class:`LightCurve`, in HEAD order. ``line`` holds 1-based PHOT rows.

    Raises:
        DataError: missing partner file, missing columns, a band column that does not
            hold names, pointers beyond the PHOT table, an SNID that result tables
            cannot name, or bad photometry; the message names the file, row and column.
    """
    head_path = Path(head_path)
    phot_path, tried = fits_partner(head_path)
    if not phot_path.is_file():
        raise DataError(
            "HEAD file without its PHOT file: expected one of " + ", ".join(p.name for p in tried),
            file=str(head_path),
        )
    head, primary, n_head = _open_table(head_path, "HEAD")
    phot, _, n_phot = _open_table(phot_path, "PHOT")
    for name in ("SNID", "PTROBS_MIN", "PTROBS_MAX"):
        _require(head, (name,), head_path, "HEAD")
    band_col = _require(phot, ("BAND", "FLT"), phot_path, "PHOT")
    for name in ("MJD", "FLUXCAL", "FLUXCALERR"):
        _require(phot, (name,), phot_path, "PHOT")

    def as_float(name: str) -> np.ndarray:
        try:
            return np.asarray(phot[name], dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(
                f"PHOT column {name} is not numeric", file=str(phot_path), field=name
            ) from None

    mjd, fluxcal, fluxcal_err = as_float("MJD"), as_float("FLUXCAL"), as_float("FLUXCALERR")
    if phot[band_col].dtype.kind not in "SU" or phot[band_col].ndim != 1:
        raise DataError(
            f"PHOT column {band_col} holds {phot[band_col].dtype.name} values; expected band "
            "names (a text column)",
            file=str(phot_path),
            field=band_col,
        )
    band_raw = np.asarray([_python(b) for b in phot[band_col].tolist()], dtype=str)
    found = list(dict.fromkeys(band_raw[mjd != SEPARATOR_MJD].tolist()))

    flags = None
    if reject_photflag is not None and "PHOTFLAG" in phot:
        flags = np.asarray(phot["PHOTFLAG"])
        if flags.dtype.kind not in "iu":
            raise DataError(
                f"PHOT column PHOTFLAG holds {flags.dtype.name} values; expected integers",
                file=str(phot_path),
                field="PHOTFLAG",
            )
    survey = primary.get("SURVEY")
    sources = f"{head_path},{phot_path}"
    curves = []
    for i in range(n_head):
        meta = {name: _python(values[i]) for name, values in head.items()}
        if survey is not None:
            meta.setdefault("SURVEY", str(survey).strip())
        snid = str(meta["SNID"])
        meta["SNID"] = snid
        check_snid(snid, file=str(head_path), where=f"HEAD row {i + 1}: ")
        first, last = meta["PTROBS_MIN"], meta["PTROBS_MAX"]
        if not (isinstance(first, int) and isinstance(last, int)):
            raise DataError(
                f"HEAD row {i + 1} (SNID {snid}): PTROBS_MIN/PTROBS_MAX must be integers, "
                f"got {first!r}, {last!r}",
                file=str(head_path),
                field="PTROBS_MIN",
            )
        if first < 1 or last > n_phot or last < first - 1:
            raise DataError(
                f"HEAD row {i + 1} (SNID {snid}): observations PTROBS_MIN..PTROBS_MAX = "
                f"{first}..{last}, but PHOT file {phot_path.name} has rows 1..{n_phot} "
                "(truncated or mismatched PHOT file?)",
                file=str(head_path),
                field="PTROBS_MAX" if last > n_phot else "PTROBS_MIN",
            )
        rows = np.arange(first - 1, last)
        rows = rows[mjd[rows] != SEPARATOR_MJD]
        lines = rows + 1
        check_photometry(
            mjd[rows],
            fluxcal[rows],
            fluxcal_err[rows],
            lines,
            str(phot_path),
            row_word=f"SNID {snid}, PHOT row",
        )
        lc = LightCurve(
            snid=snid,
            mjd=mjd[rows],
            band=band_raw[rows],
            fluxcal=fluxcal[rows],
            fluxcal_err=fluxcal_err[rows],
            meta=meta,
            source=sources,
            line=lines,
            line_word="PHOT row",
        )
        lc = map_bands(lc, bands, column=band_col, found=found)
        if flags is not None:
            lc = reject_flagged(lc, flags[rows].astype(np.int64), reject_photflag)
        elif reject_photflag is not None:
            note = "light curves without a PHOTFLAG column: reject_photflag rejected nothing there"
            lc = dataclasses.replace(lc, notes=(note,))
        curves.append(lc)
    return curves
