"""One supernova's light curve as read from a file, the record of what a cut removed, and
the checks every reader applies to both: band names, SNIDs and repeated observations.

These are the unpadded, per-SN objects that every reader produces; :class:`Survey` packs a
sequence of them into padded ``(n_sn, n_obs)`` arrays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import ConfigError, DataError

#: The ``bands`` value that takes the band names in the files as sndust filter names.
AUTO = "auto"


@dataclass(frozen=True, eq=False)
class LightCurve:
    """The photometry of one supernova before padding.

    Attributes:
        snid: the supernova's identifier (SNANA ``SNID``).
        mjd: observation dates, MJD, shape ``(n,)``.
        band: band of each observation, already mapped to sndust filter names, ``(n,)``.
        fluxcal: flux on the SNANA ``FLUXCAL`` scale (zero point 27.5 mag), ``(n,)``.
        fluxcal_err: 1-sigma uncertainty of ``fluxcal``, ``(n,)``, all > 0.
        meta: every header field. Numbers are parsed to ``int``/``float``; a
            ``KEY: value +- err`` line also gives ``KEY_ERR``.
        source: the file (or files, comma-separated) the light curve came from.
        line: 1-based source line (text files) or table row (FITS PHOT, tables) of each
            observation, for error messages; ``None`` if unknown.
        header_lines: 1-based line of each header key, for error messages.
        line_word: what ``line`` counts: ``"line"`` (text files), ``"PHOT row"``,
            ``"row"``.
        line_file: for each observation, the index into the files of ``source`` that
            its ``line`` refers to; ``None``: the last of them (the only text file, or
            the PHOT file of a FITS pair).
        notes: what the reader noticed but accepted (e.g. an ``NVAR`` that disagrees
            with a ``VARLIST`` the rows follow); they join the survey's notes.
        drops: observations the reader left out (``reject_photflag``); they join the
            survey's drops.
        values: the per-SN quantities of a survey's SN (``z_hel``, ``z_cmb``, ``z_err``,
            ``peak_mjd``, ``mwebv``, ``log_mass``, ``survey``) when the light curve came
            from :meth:`Survey.light_curve`: a survey rebuilt from its light curves keeps
            them (peaks set by ``with_peaks``, masses from a table) instead of deriving
            them again from the header. ``None``: derive them from ``meta``.
    """

    snid: str
    mjd: np.ndarray
    band: np.ndarray
    fluxcal: np.ndarray
    fluxcal_err: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    line: np.ndarray | None = None
    header_lines: dict[str, int] = field(default_factory=dict, repr=False)
    line_word: str = field(default="line", repr=False)
    line_file: np.ndarray | None = field(default=None, repr=False)
    notes: tuple[str, ...] = field(default=(), repr=False)
    drops: tuple[Drop, ...] = field(default=(), repr=False)
    values: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self):
        n = len(self.mjd)
        per_obs = ("band", "fluxcal", "fluxcal_err", "line", "line_file")
        for name in per_obs:
            values = getattr(self, name)
            if values is not None and len(values) != n:
                raise DataError(
                    f"SN {self.snid!r}: {name} has {len(values)} entries but mjd has {n}",
                    file=self.source or None,
                    field=name,
                )

    def __len__(self) -> int:
        return len(self.mjd)

    def about(self, i: int) -> tuple[str | None, int | None, str]:
        """``(file, line, prefix)`` for an error message about observation ``i``:
        ``prefix`` names the SN, and the row when there is no text line."""
        file, line, words = self.position(i)
        return file, line, f"SN {self.snid!r}" + ("" if line is not None else f", {words}") + ": "

    def position(self, i: int) -> tuple[str | None, int | None, str]:
        """``(file, line, words)`` locating observation ``i`` for an error message:
        ``line`` is set for text files only; ``words`` ("line 14", "PHOT row 3",
        "observation 2") names the position in any case."""
        if self.line is None:
            return self.source or None, None, f"observation {i + 1}"
        files = self.source.split(",")
        file = files[-1 if self.line_file is None else int(self.line_file[i])]
        n = int(self.line[i])
        words = f"{self.line_word} {n}"
        return file or None, n if self.line_word == "line" else None, words


@dataclass(frozen=True)
class Drop:
    """One supernova, one band of a supernova, or one observation removed from a survey.

    ``band`` and ``mjd`` are ``None`` when the whole supernova was removed; ``mjd`` is
    ``None`` when a whole band of it was removed.
    ``survey`` names the survey it came from in a survey combined by
    :meth:`sndust.Survey.concat` with ``names``.
    """

    snid: str
    band: str | None
    mjd: float | None
    reason: str
    source: str | None = None
    survey: str | None = None

    def __str__(self) -> str:
        what = f"SN {self.snid}" if self.survey is None else f"{self.survey} SN {self.snid}"
        if self.band is not None:
            what += f" band {self.band}"
        if self.mjd is not None:
            what += f" MJD {self.mjd:.3f}"
        where = f"  [{self.source}]" if self.source else ""
        return f"{what}: {self.reason}{where}"


# --------------------------------------------------------------------------- bands
def check_band_map(bands: Any) -> dict[str, str] | str | None:
    """Validate the ``bands`` argument of the readers: a mapping of band names in the
    files to sndust filter names (both strings), ``"auto"`` (the names in the files are
    sndust filter names), or ``None`` (no map given: reading any band is an error, so
    that a file band ``B`` never silently becomes sndust's Bessell ``B``)."""
    if bands is None or (isinstance(bands, str) and bands == AUTO):
        return bands
    if not isinstance(bands, Mapping):
        got = repr(bands) if isinstance(bands, str) else type(bands).__name__
        raise ConfigError(
            "expected a mapping of band names in the files to sndust filter names, "
            f"e.g. {{'g': 'g_PS1'}}, or 'auto' to use the names in the files as they are; "
            f"got {got}",
            field="bands",
        )
    for key, value in bands.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigError(
                f"band names must be strings; got {key!r} -> {value!r}", field="bands"
            )
    return dict(bands)


def map_bands(
    lc: LightCurve, bands: Any, *, column: str, found: list[str] | None = None
) -> LightCurve:
    """``lc`` with its band names (as read from the file's ``column``) mapped to sndust
    filter names through ``bands`` (see :func:`check_band_map`).

    Raises:
        DataError: a band missing from the map, or any band when ``bands`` is None,
            naming the file and line (or row) of its first observation, the band, the
            bands the map names (or ``found``: the bands of the file, default those of
            ``lc``) and how to fix it.
    """
    bands = check_band_map(bands)
    names = [str(b).strip() for b in lc.band.tolist()]
    if bands == AUTO or not names:
        return dataclasses.replace(lc, band=np.asarray(names, dtype=str))
    known = bands or {}
    band = next((b for b in names if b not in known), None)
    if band is None:
        return dataclasses.replace(lc, band=np.asarray([known[b] for b in names], dtype=str))
    file, line, prefix = lc.about(names.index(band))
    if bands is None:
        in_file = ", ".join(found if found is not None else dict.fromkeys(names))
        problem = (
            f"no band map given for band {band!r} (the bands in this file: {in_file}); pass "
            "bands={'<band in file>': '<sndust filter>', ...} naming each of them, or "
            "bands='auto' to use the names in the files as sndust filter names"
        )
    else:
        named = ", ".join(known) or "none"
        problem = (
            f"band {band!r} is not in the band map (it names {named}); add it to the band "
            "map, or bands='auto' to use the names in the files as sndust filter names"
        )
    raise DataError(prefix + problem, file=file, line=line, field=column)


# --------------------------------------------------------------------------- SNIDs
def snid_key(snid: Any) -> str:
    """The form in which SNIDs are compared with tables and lists: an SNID of digits
    only loses its leading zeros (``"000123"`` and ``"123"`` name one SN, as SNANA's
    integer CIDs do); any other is compared as it is written (stripped)."""
    text = str(snid).strip()
    return str(int(text)) if text.isdigit() else text


def unwritable(text: str) -> str | None:
    """Why ``text`` cannot be one value of a FITRES row and read back as the same text
    (empty, whitespace, ``#`` or a non-printable character), or ``None`` if it can."""
    if not text:
        return "it is empty"
    if any(c.isspace() for c in text):
        return "it contains whitespace"
    if "#" in text:
        return "it contains '#', which starts a comment"
    if not text.isprintable():
        return "it contains a non-printable character"
    return None


def check_snid(snid: str, *, file: str | None, line: int | None = None, where: str = "") -> str:
    """``snid`` if result tables (FITRES, whose writer applies the same rule) can name
    it; otherwise a DataError at the SNID's ``file``, ``line`` (``where`` for rows)."""
    problem = unwritable(snid)
    if problem is not None:
        raise DataError(
            f"{where}SNID {snid!r} cannot name the SN in result tables (FITRES): {problem}; "
            "expected one word of printable characters without '#'",
            file=file,
            line=line,
            field="SNID",
        )
    return snid


# --------------------------------------------------------------------------- repeats
def drop_repeated_rows(lc: LightCurve) -> tuple[LightCurve, list[Drop]]:
    """``lc`` without exact repeats of an observation, and a Drop for each repeat.

    Two observations with the same MJD and band are one measurement: an exact repeat
    (same flux and error too: the same row given twice, as when files are merged) is
    dropped, keeping the first; a different flux or error is a contradiction.

    Raises:
        DataError: two observations with the same MJD and band but a different flux or
            error, naming the second (file, line) and the first.
    """
    if len(lc) < 2:
        return lc, []
    order = np.lexsort((lc.mjd, lc.band))
    same = (lc.mjd[order][1:] == lc.mjd[order][:-1]) & (lc.band[order][1:] == lc.band[order][:-1])
    if not same.any():
        return lc, []
    first: dict[tuple[float, str], int] = {}
    keep = np.ones(len(lc), dtype=bool)
    drops = []
    for i, key in enumerate(zip(lc.mjd.tolist(), lc.band.tolist())):
        j = first.setdefault(key, i)
        if j == i:
            continue
        file, line, words = lc.position(i)
        first_file, _, first_words = lc.position(j)
        if first_file != file:
            first_words += f" of {first_file}"
        if lc.fluxcal[i] != lc.fluxcal[j] or lc.fluxcal_err[i] != lc.fluxcal_err[j]:
            raise DataError(
                f"{lc.about(i)[2]}MJD {key[0]!r} in band {key[1]!r} observed twice "
                f"with different values: flux {float(lc.fluxcal[j])!r} +- "
                f"{float(lc.fluxcal_err[j])!r} at {first_words}, {float(lc.fluxcal[i])!r} +- "
                f"{float(lc.fluxcal_err[i])!r} here; "
                "expected one measurement per MJD and band",
                file=file,
                line=line,
                field="MJD",
            )
        keep[i] = False
        drops.append(
            Drop(
                lc.snid,
                key[1],
                key[0],
                f"repeats {first_words} (same MJD, band, flux and error)",
                f"{file}:{line}" if line is not None else f"{file}, {words}",
            )
        )
    kept = dataclasses.replace(
        lc,
        **{
            name: getattr(lc, name)[keep]
            for name in ("mjd", "band", "fluxcal", "fluxcal_err", "line", "line_file")
            if getattr(lc, name) is not None
        },
    )
    return kept, drops
