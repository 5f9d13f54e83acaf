"""Writer for SNANA text light-curve files: one ``<SNID>.txt`` per supernova and a
``.LIST`` file naming them, in the form :func:`read_snana_text` reads back to the same
arrays with ``bands="auto"`` (floats are written with ``repr``, which round-trips
exactly)."""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import ConfigError

if TYPE_CHECKING:
    from ._survey import Survey

#: Header keys the writer derives from the survey's arrays; the same keys (and their
#: ``_ERR``) in ``meta`` are not copied, so the arrays are what the file says.
_DERIVED = frozenset(
    {
        "SNID", "SURVEY", "FILTERS", "REDSHIFT_HELIO", "REDSHIFT_CMB", "REDSHIFT_FINAL",
        "SEARCH_PEAKMJD", "PEAKMJD", "MWEBV", "HOSTGAL_LOGMASS", "HOST_LOGMASS",
        "VARLIST", "VARNAMES", "NOBS", "NVAR", "END", "DOCUMENTATION",
    }
)  # fmt: skip
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.+-]+")
_KEY = re.compile(r"[A-Z][A-Z0-9_]*")


def _number(value: float) -> str:
    return repr(float(value))


def _extra_header(meta: Mapping) -> list[str]:
    """``KEY: value`` lines for the header fields of ``meta`` that are neither derived
    from the arrays nor unrepresentable on one line."""
    lines = []
    for key, value in meta.items():
        key_u = str(key).upper()
        base = key_u[:-4] if key_u.endswith("_ERR") else key_u
        if base in _DERIVED or not _KEY.fullmatch(key_u):
            continue
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, numbers.Real):
            text = str(value) if isinstance(value, numbers.Integral) else _number(value)
        elif isinstance(value, tuple) and all(isinstance(v, numbers.Real) for v in value):
            text = " ".join(_number(v) for v in value)
        elif isinstance(value, str) and value.strip() and not any(c in value for c in "\n\r#"):
            text = value.strip()
        else:
            continue
        lines.append(f"{key_u}: {text}")
    return lines


def write_snana_text(
    survey: Survey,
    folder: str | os.PathLike,
    *,
    bands: Mapping[str, str] | None = None,
    list_name: str | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write every supernova of ``survey`` as an SNANA text file in ``folder``.

    Args:
        survey: the survey (only observations with ``mask`` True are written).
        folder: created if missing.
        bands: map from sndust filter names to the names written in the ``FLT`` column
            (e.g. ``{"g_PS1": "g"}``); names not in it are written unchanged, as sndust
            filter names, so ``Survey.from_snana(folder, bands="auto")`` reads them back
            (with a map given here, read back with its inverse).
        list_name: name of the ``.LIST`` file (default: the folder's name + ``.LIST``).
        overwrite: replace existing files; by default an existing file is an error and
            nothing is written.

    Returns:
        The light-curve files written, in survey order (the ``.LIST`` file is not among
        them).

    Raises:
        ConfigError: an SNID that is not a safe file name, a band name with spaces, or a
            file that exists already (without ``overwrite``).
    """
    folder = Path(folder)
    bands = dict(bands or {})
    names = []
    for snid in survey.snid:
        if not _SAFE_NAME.fullmatch(snid):
            raise ConfigError(
                f"SNID {snid!r} is not a safe file name (letters, digits, _ . + - only)",
                field="snid",
            )
        names.append(f"{snid}.txt")
    written_bands = [bands.get(b, b) for b in survey.band_names]
    for name, written in zip(survey.band_names, written_bands):
        if not written or any(c.isspace() or c in "#:" for c in written):
            raise ConfigError(f"band {name!r} would be written as {written!r}", field="bands")
    if len(set(written_bands)) < len(written_bands):
        raise ConfigError(
            f"two bands would be written with the same name: {written_bands}", field="bands"
        )
    for name in set(survey.survey_name):
        if name and (name != " ".join(name.split()) or any(c in name for c in "#:")):
            raise ConfigError(
                f"SURVEY name {name!r} cannot be written to an SNANA header ('#', ':' or "
                "runs of spaces)",
                field="survey_name",
            )
    list_path = folder / (list_name or f"{folder.resolve().name}.LIST")
    paths = [folder / n for n in names]
    if not overwrite:
        existing = [p for p in (*paths, list_path) if p.exists()]
        if existing:
            raise ConfigError(
                f"{existing[0]} exists (and {len(existing) - 1} more); pass overwrite=True "
                "or choose another folder",
                field="folder",
            )
    folder.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(paths):
        path.write_text(_light_curve_text(survey, i, written_bands))
    list_path.write_text("".join(f"{n}\n" for n in names))
    return paths


def _light_curve_text(survey: Survey, i: int, written_bands: list[str]) -> str:
    m = survey.mask[i]
    band = survey.band[i, m]
    log_mass = float(survey.log_mass[i])
    header = [f"SURVEY: {survey.survey_name[i]}"] if survey.survey_name[i] else []
    header += [
        f"SNID: {survey.snid[i]}",
        "FILTERS: " + ",".join(dict.fromkeys(written_bands[b] for b in band.tolist())),
        f"REDSHIFT_HELIO: {_number(survey.z_hel[i])}",
        f"REDSHIFT_CMB: {_number(survey.z_cmb[i])} +- {_number(survey.z_err[i])}",
        f"SEARCH_PEAKMJD: {_number(survey.peak_mjd[i])}",
        f"MWEBV: {_number(survey.mwebv[i])}",
        # an unknown mass is left out (read back as NaN, without a placeholder's note)
        *([] if math.isnan(log_mass) else [f"HOSTGAL_LOGMASS: {_number(log_mass)}"]),
        *_extra_header(survey.meta[i]),
        "",
        f"NOBS: {int(m.sum())}",
        "NVAR: 4",
        "VARLIST: MJD FLT FLUXCAL FLUXCALERR",
    ]
    rows = [
        f"OBS: {_number(t)} {written_bands[b]} {_number(f)} {_number(e)}"
        for t, b, f, e in zip(
            survey.mjd[i, m].tolist(),
            band.tolist(),
            survey.fluxcal[i, m].tolist(),
            survey.fluxcal_err[i, m].tolist(),
        )
    ]
    return "\n".join([*header, *rows, "END:", ""])
