"""One supernova's light curve as read from a file, and the record of what a cut removed.

These are the unpadded, per-SN objects that every reader produces; :class:`Survey` packs a
sequence of them into padded ``(n_sn, n_obs)`` arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import ConfigError, DataError


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

    def __post_init__(self):
        n = len(self.mjd)
        for name in ("band", "fluxcal", "fluxcal_err") + (() if self.line is None else ("line",)):
            if len(getattr(self, name)) != n:
                raise DataError(
                    f"SN {self.snid!r}: {name} has {len(getattr(self, name))} entries "
                    f"but mjd has {n}",
                    file=self.source or None,
                    field=name,
                )

    def __len__(self) -> int:
        return len(self.mjd)


@dataclass(frozen=True)
class Drop:
    """One supernova, one band of a supernova, or one observation removed from a survey.

    ``band`` and ``mjd`` are ``None`` when the whole supernova was removed; ``mjd`` is
    ``None`` when a whole band of it was removed.
    """

    snid: str
    band: str | None
    mjd: float | None
    reason: str
    source: str | None = None

    def __str__(self) -> str:
        what = f"SN {self.snid}"
        if self.band is not None:
            what += f" band {self.band}"
        if self.mjd is not None:
            what += f" MJD {self.mjd:.3f}"
        where = f"  [{self.source}]" if self.source else ""
        return f"{what}: {self.reason}{where}"


def check_band_map(bands: Any) -> dict[str, str]:
    """Validate the ``bands`` argument of the readers: a mapping of file band name to
    sndust filter name (both strings), or ``None``."""
    if bands is None:
        return {}
    if not isinstance(bands, Mapping):
        raise ConfigError(
            f"expected a mapping of band names in the file to sndust filter names, "
            f"e.g. {{'g': 'g_PS1'}}; got {type(bands).__name__}",
            field="bands",
        )
    for key, value in bands.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigError(
                f"band names must be strings; got {key!r} -> {value!r}", field="bands"
            )
    return dict(bands)


def map_bands(names: np.ndarray, bands: Mapping[str, str]) -> np.ndarray:
    """Map raw band names through ``bands``; names missing from it are kept as they are."""
    names = np.asarray([str(b).strip() for b in names], dtype=str)
    if not bands or names.size == 0:
        return names
    return np.asarray([bands.get(b, b) for b in names.tolist()], dtype=str)
