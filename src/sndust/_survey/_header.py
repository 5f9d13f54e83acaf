"""SNANA header conventions: parsing ``KEY: value [+- err]`` values, and deriving the
per-SN quantities the model needs (redshifts, peak date, Milky Way reddening, host mass)
from a header, whichever reader it came from.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from .._errors import DataError
from ._lightcurve import LightCurve

_INT = re.compile(r"[+-]?\d+")
#: Header keys whose values are names, never numbers (``SNID: 1234`` stays a string).
NAME_KEYS = frozenset({"SNID", "CID", "IAUC", "NAME", "SURVEY", "FILTERS", "FIELD"})
#: Plausible log10 host stellar masses (M_sun); values outside, such as SNANA's -9 for
#: "unknown" or 99, are placeholders and read as an unknown mass.
LOG_MASS_RANGE = (6.0, 13.0)


def to_number(text: str) -> int | float | None:
    """``int`` or ``float`` value of ``text``, or ``None`` if it is not a number."""
    if _INT.fullmatch(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return None


def parse_value(key: str, tokens: list[str]) -> tuple[Any, float | None]:
    """Value (and ``+-`` error, if any) of a header line split into tokens.

    A single number becomes ``int``/``float``; ``x +- e`` gives ``(x, e)``; several
    numbers give a tuple of floats; a number followed by words (a unit or a label, as
    ``RA: 61.56 deg`` or ``MWEBV: 0.038 +- 0.002 MW E(B-V)``) gives the number (and its
    error), as SNANA reads it; anything else is kept as the joined string.
    """
    if not tokens:
        return None, None
    if key in NAME_KEYS:
        return " ".join(tokens), None
    first = to_number(tokens[0])
    if first is not None:
        if len(tokens) == 1:
            return first, None
        if tokens[1] == "+-" and len(tokens) >= 3:
            err = to_number(tokens[2])
            if err is not None:
                return first, float(err)
        numbers_ = [to_number(t) for t in tokens]
        if all(v is not None for v in numbers_):
            return tuple(float(v) for v in numbers_), None
        if numbers_[1] is None:  # a unit or label after one number
            return first, None
    return " ".join(tokens), None


class Scalars(NamedTuple):
    """Per-SN quantities derived from a header (see :func:`header_scalars`)."""

    z_hel: float
    z_cmb: float
    z_err: float
    peak_mjd: float
    mwebv: float
    log_mass: float
    survey: str
    notes: tuple[str, ...]


class _Header:
    """Read access to one light curve's header with errors that point at the line."""

    def __init__(self, lc: LightCurve):
        self.lc = lc
        self.upper = {k.upper(): k for k in lc.meta}

    def has(self, key: str) -> bool:
        return key.upper() in self.upper and self.lc.meta[self.upper[key.upper()]] is not None

    def error(self, key: str, message: str) -> DataError:
        real = self.upper.get(key.upper(), key)
        return DataError(
            f"SN {self.lc.snid!r}: {message}",
            file=self.lc.source or None,
            line=self.lc.header_lines.get(real),
            field=real,
        )

    def number(self, key: str) -> float | None:
        """The header value of ``key`` as a float; ``None`` if absent."""
        if not self.has(key):
            return None
        value = self.lc.meta[self.upper[key.upper()]]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.error(key, f"expected a number, got {value!r}")
        return float(value)


def header_scalars(lc: LightCurve, peak_mjd_key: str = "SEARCH_PEAKMJD") -> Scalars:
    """Redshifts, peak date, Milky Way E(B-V) and host mass of one SN from its header.

    Conventions (SNANA header names):

    * ``z_hel`` = ``REDSHIFT_HELIO`` (required, > 0);
    * ``z_cmb`` = ``REDSHIFT_CMB``, else ``REDSHIFT_FINAL``, else ``z_hel``;
    * ``z_err`` = the ``_ERR`` of the key that gave ``z_cmb``, else of any redshift key,
      else 0;
    * ``peak_mjd`` = ``peak_mjd_key``, else ``PEAKMJD`` (required, > 0);
    * ``mwebv`` = ``MWEBV`` (0 if absent, noted); ``log_mass`` = ``HOSTGAL_LOGMASS``
      (or ``HOST_LOGMASS``), NaN (unknown) if absent or NaN, and NaN with a note if
      outside :data:`LOG_MASS_RANGE` (a placeholder such as -9, 0 or 99: the SN is kept,
      as for any SN of unknown mass).

    Raises:
        DataError: a required key is missing, non-numeric or out of range; the message
            names the file, the header line and the key.
    """
    h = _Header(lc)
    notes: list[str] = []

    z_hel = h.number("REDSHIFT_HELIO")
    if z_hel is None:
        raise h.error(
            "REDSHIFT_HELIO",
            "no heliocentric redshift: expected a 'REDSHIFT_HELIO: <z>' header line",
        )
    if not (math.isfinite(z_hel) and z_hel > 0):
        raise h.error("REDSHIFT_HELIO", f"expected a redshift > 0, got {z_hel:g}")

    z_key = next((k for k in ("REDSHIFT_CMB", "REDSHIFT_FINAL") if h.has(k)), None)
    if z_key is None:
        z_cmb = z_hel
        notes.append(f"SN {lc.snid}: no REDSHIFT_CMB or REDSHIFT_FINAL; using REDSHIFT_HELIO")
    else:
        z_cmb = h.number(z_key)
        if not (math.isfinite(z_cmb) and z_cmb > 0):
            raise h.error(z_key, f"expected a redshift > 0, got {z_cmb:g}")

    err_keys = [f"{z_key}_ERR"] if z_key else []
    err_keys += ["REDSHIFT_CMB_ERR", "REDSHIFT_FINAL_ERR", "REDSHIFT_HELIO_ERR"]
    err_key = next((k for k in err_keys if h.has(k)), None)
    z_err = 0.0 if err_key is None else h.number(err_key)
    if not (math.isfinite(z_err) and z_err >= 0):
        raise h.error(err_key, f"expected a redshift error >= 0, got {z_err:g}")

    peak_keys = list(dict.fromkeys([peak_mjd_key, "PEAKMJD"]))
    peak_key = next((k for k in peak_keys if h.has(k)), None)
    if peak_key is None:
        raise h.error(
            peak_mjd_key,
            "no peak date: expected a " + " or ".join(repr(k) for k in peak_keys) + " header key",
        )
    if peak_key != peak_mjd_key:
        notes.append(f"SN {lc.snid}: no {peak_mjd_key}; using {peak_key}")
    peak_mjd = h.number(peak_key)
    if not (math.isfinite(peak_mjd) and peak_mjd > 0):
        raise h.error(peak_key, f"expected a peak MJD > 0, got {peak_mjd:g}")

    if h.has("MWEBV"):
        mwebv = h.number("MWEBV")
        if not (math.isfinite(mwebv) and mwebv >= 0):
            raise h.error("MWEBV", f"expected a Milky Way E(B-V) >= 0, got {mwebv:g}")
    else:
        mwebv = 0.0
        notes.append(f"SN {lc.snid}: no MWEBV; using 0")

    mass_key = next((k for k in ("HOSTGAL_LOGMASS", "HOST_LOGMASS") if h.has(k)), None)
    log_mass = math.nan if mass_key is None else h.number(mass_key)
    if math.isinf(log_mass):
        raise h.error(mass_key, f"expected a finite log10 host mass, got {log_mass:g}")
    lo, hi = LOG_MASS_RANGE
    if not (math.isnan(log_mass) or lo <= log_mass <= hi):
        line = lc.header_lines.get(h.upper[mass_key.upper()])
        where = f" ({lc.source}:{line})" if line is not None else ""
        notes.append(
            f"SN {lc.snid}: {mass_key} {log_mass:g}{where} outside the plausible range "
            f"[{lo:g}, {hi:g}]; host mass taken as unknown (NaN)"
        )
        log_mass = math.nan

    survey = str(lc.meta[h.upper["SURVEY"]]) if h.has("SURVEY") else ""
    return Scalars(z_hel, z_cmb, z_err, peak_mjd, mwebv, log_mass, survey, tuple(notes))


def normalise_keys(meta: Mapping[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    """Upper-case the keys of ``meta`` and rename common aliases (``z`` ->
    ``REDSHIFT_HELIO``, ...) to SNANA names; an explicit SNANA name wins over an alias."""
    out: dict[str, Any] = {}
    renamed: dict[str, Any] = {}
    for key, value in meta.items():
        key_u = str(key).strip().upper()
        target = aliases.get(key_u)
        if target is not None and target != key_u:
            renamed.setdefault(target, value)
        else:
            out[key_u] = value
    for key, value in renamed.items():
        out.setdefault(key, value)
    return out
