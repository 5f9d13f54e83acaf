"""Light curves from in-memory per-SN arrays (simulators, tests, user code)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import DataError
from ._lightcurve import LightCurve, check_snid
from ._snana import check_photometry


def _per_sn(value: Any, n_sn: int, name: str, kind: type) -> list:
    """``value`` as a list of ``n_sn`` entries (a scalar is repeated)."""
    if value is None or isinstance(value, str | int | float | np.number):
        return [value] * n_sn
    values = list(np.asarray(value).tolist()) if kind is float else list(value)
    if len(values) != n_sn:
        raise DataError(f"expected one value per supernova ({n_sn}), got {len(values)}", field=name)
    return values


def _as_float(value: Any, name: str, snid: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DataError(f"SN {snid!r}: expected a number, got {value!r}", field=name) from None


def light_curves_from_arrays(
    snid: Sequence[Any],
    mjd: Sequence[Any],
    band: Sequence[Any],
    fluxcal: Sequence[Any],
    fluxcal_err: Sequence[Any],
    *,
    z_hel: Any,
    peak_mjd: Any,
    z_cmb: Any = None,
    z_err: Any = None,
    mwebv: Any = 0.0,
    log_mass: Any = math.nan,
    survey: Any = "",
) -> list[LightCurve]:
    """One :class:`LightCurve` per SN from ragged per-SN arrays (see
    :meth:`Survey.from_arrays`); the scalars are stored under their SNANA header names."""
    snids = [check_snid(str(s), file=None, where=f"snid[{i}]: ") for i, s in enumerate(snid)]
    n_sn = len(snids)
    per_obs = {"mjd": mjd, "band": band, "fluxcal": fluxcal, "fluxcal_err": fluxcal_err}
    for name, values in per_obs.items():
        if len(values) != n_sn:
            raise DataError(
                f"expected one array per supernova ({n_sn}), got {len(values)}", field=name
            )
    z_hel_ = _per_sn(z_hel, n_sn, "z_hel", float)
    scalars = {
        "REDSHIFT_HELIO": z_hel_,
        "REDSHIFT_CMB": z_hel_ if z_cmb is None else _per_sn(z_cmb, n_sn, "z_cmb", float),
        "REDSHIFT_CMB_ERR": _per_sn(0.0 if z_err is None else z_err, n_sn, "z_err", float),
        "SEARCH_PEAKMJD": _per_sn(peak_mjd, n_sn, "peak_mjd", float),
        "MWEBV": _per_sn(mwebv, n_sn, "mwebv", float),
        "HOSTGAL_LOGMASS": _per_sn(log_mass, n_sn, "log_mass", float),
    }
    surveys = _per_sn(survey, n_sn, "survey", str)
    curves = []
    for i, name in enumerate(snids):
        arrays = {}
        for key in ("mjd", "fluxcal", "fluxcal_err"):
            try:
                arrays[key] = np.asarray(per_obs[key][i], dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                raise DataError(f"SN {name!r}: expected numbers", field=key) from None
        bands = np.asarray([str(b) for b in np.asarray(per_obs["band"][i]).reshape(-1)], dtype=str)
        n = len(arrays["mjd"])
        for key, values in (
            ("band", bands),
            ("fluxcal", arrays["fluxcal"]),
            ("fluxcal_err", arrays["fluxcal_err"]),
        ):
            if len(values) != n:
                raise DataError(f"SN {name!r}: {len(values)} entries but mjd has {n}", field=key)
        rows = np.arange(1, n + 1)
        check_photometry(
            arrays["mjd"],
            arrays["fluxcal"],
            arrays["fluxcal_err"],
            rows,
            f"SN {name}",
            names=("mjd", "fluxcal", "fluxcal_err"),
            row_word="observation",
        )
        meta: dict[str, Any] = {"SNID": name, "SURVEY": str(surveys[i])}
        for key, values in scalars.items():
            meta[key] = _as_float(values[i], key, name)
        curves.append(
            LightCurve(snid=name, band=bands, meta=meta, source="arrays", line=None, **arrays)
        )
    return curves
