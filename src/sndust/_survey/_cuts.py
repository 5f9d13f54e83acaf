"""Sample cuts on a :class:`Survey`: which supernovae and observations to keep, and why
each of the others goes."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import ConfigError
from ._lightcurve import Drop

if TYPE_CHECKING:
    from ._survey import Survey

_Z_KEYS = ("z_cmb", "z_hel")


def _bound(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ConfigError(f"expected a number or None, got {value!r}", field=name)
    return float(value)


def _names(value: Any, name: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray | set | frozenset):
        raise ConfigError(f"expected a list of names, got {value!r}", field=name)
    return [str(v) for v in value]


def _interval(lo: float | None, hi: float | None) -> str:
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else f"{hi:g}"
    return f"({lo_s}, {hi_s})"


#: Per-SN fields ``require`` may name.
_PER_SN_FIELDS = ("z_hel", "z_cmb", "z_err", "peak_mjd", "mwebv", "log_mass")


def plan_cut(
    survey: Survey,
    *,
    z_min: Any = None,
    z_max: Any = None,
    z_key: Any = "z_cmb",
    phase_window: Any = None,
    min_obs: Any = None,
    bands: Any = None,
    snids: Any = None,
    exclude: Any = None,
    require: Any = None,
) -> tuple[np.ndarray, np.ndarray, list[Drop]]:
    """Supernovae to keep ``(n_sn,)``, observations to keep ``(n_sn, n_obs)``, and a Drop
    for every SN, band or observation removed (see :meth:`Survey.cut`)."""
    z_min, z_max = _bound(z_min, "z_min"), _bound(z_max, "z_max")
    if z_key not in _Z_KEYS:
        raise ConfigError(f"expected one of {_Z_KEYS}, got {z_key!r}", field="z_key")
    if phase_window is not None:
        if not isinstance(phase_window, Sequence) or len(phase_window) != 2:
            raise ConfigError(f"expected (lo, hi), got {phase_window!r}", field="phase_window")
        lo, hi = (_bound(v, "phase_window") for v in phase_window)
        if lo is None or hi is None or not lo < hi:
            raise ConfigError(f"expected lo < hi, got {phase_window!r}", field="phase_window")
    if min_obs is not None and (
        isinstance(min_obs, bool) or not isinstance(min_obs, numbers.Integral) or min_obs < 0
    ):
        raise ConfigError(f"expected a whole number >= 0, got {min_obs!r}", field="min_obs")
    why = dict(require) if isinstance(require, Mapping) else {}
    require = _names(list(require) if isinstance(require, Mapping) else require, "require")
    for name in require or ():
        if name not in _PER_SN_FIELDS:
            raise ConfigError(
                f"unknown per-SN field {name!r}; expected some of {', '.join(_PER_SN_FIELDS)}",
                field="require",
            )
    snids, exclude, bands = (
        _names(snids, "snids"),
        _names(exclude, "exclude"),
        _names(bands, "bands"),
    )
    for names, field in ((snids, "snids"), (exclude, "exclude")):
        unknown = sorted(set(names or ()) - set(survey.snid))
        if unknown:
            raise ConfigError(
                f"no such supernovae in the survey: {', '.join(unknown)}", field=field
            )
    if bands is not None:
        unknown = sorted(set(bands) - set(survey.band_names))
        if unknown:
            raise ConfigError(
                f"no such bands in the survey: {', '.join(unknown)} (it has "
                f"{', '.join(survey.band_names)})",
                field="bands",
            )

    keep_sn = np.ones(survey.n_sn, dtype=bool)
    keep_obs = survey.mask.copy()
    drops: list[Drop] = []
    several = len(set(survey.survey_name)) > 1  # a combined survey: drops name theirs

    def origin(i: int) -> dict:
        return {"source": survey.sources[i], "survey": survey.survey_name[i] if several else None}

    def drop_sn(i: int, reason: str) -> None:
        keep_sn[i] = False
        drops.append(Drop(survey.snid[i], None, None, reason, **origin(i)))

    if snids is not None:
        wanted = set(snids)
        for i in np.flatnonzero(keep_sn).tolist():
            if survey.snid[i] not in wanted:
                drop_sn(i, "not among the selected snids")
    if exclude is not None:
        unwanted = set(exclude)
        for i in np.flatnonzero(keep_sn).tolist():
            if survey.snid[i] in unwanted:
                drop_sn(i, "excluded by name")
    for name in require or ():
        unknown = ~np.isfinite(getattr(survey, name))
        for i in np.flatnonzero(keep_sn & unknown).tolist():
            drop_sn(i, f"{name} unknown ({why.get(name, 'required')})")
    if z_min is not None or z_max is not None:
        z = getattr(survey, z_key)
        inside = np.ones(survey.n_sn, dtype=bool)
        if z_min is not None:
            inside &= z > z_min
        if z_max is not None:
            inside &= z < z_max
        for i in np.flatnonzero(keep_sn & ~inside).tolist():
            drop_sn(i, f"{z_key} {z[i]:.5g} outside {_interval(z_min, z_max)}")

    if bands is not None:
        band_ok = np.isin(
            np.arange(len(survey.band_names)), [survey.band_names.index(b) for b in bands]
        )
        unwanted_obs = keep_obs & ~band_ok[survey.band] & keep_sn[:, None]
        for i in np.flatnonzero(unwanted_obs.any(axis=1)).tolist():
            present = survey.band[i, unwanted_obs[i]]
            for b in dict.fromkeys(present.tolist()):
                n = int((present == b).sum())
                drops.append(
                    Drop(
                        survey.snid[i],
                        survey.band_names[b],
                        None,
                        f"band not selected ({n} observations)",
                        **origin(i),
                    )
                )
        keep_obs &= ~unwanted_obs

    if phase_window is not None:
        phase = survey.phase()
        outside = keep_obs & keep_sn[:, None] & ~((phase > lo) & (phase < hi))
        for i, j in zip(*(a.tolist() for a in np.nonzero(outside))):
            drops.append(
                Drop(
                    survey.snid[i],
                    survey.band_names[survey.band[i, j]],
                    float(survey.mjd[i, j]),
                    f"phase {phase[i, j]:.1f} d outside {_interval(lo, hi)}",
                    **origin(i),
                )
            )
        keep_obs &= ~outside

    counts = keep_obs.sum(axis=1)
    threshold = max(int(min_obs or 0), 1)
    for i in np.flatnonzero(keep_sn & (counts < threshold)).tolist():
        if counts[i] == 0:
            drop_sn(i, "no observations left after cuts")
        else:
            drop_sn(i, f"{counts[i]} observations left, fewer than min_obs = {min_obs}")
    return keep_sn, keep_obs, drops
