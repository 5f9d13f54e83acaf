"""Packing per-SN light curves into the padded ``(n_sn, n_obs)`` arrays of a Survey."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._errors import ConfigError, DataError
from ._header import Scalars, header_scalars
from ._lightcurve import LightCurve

#: Per-SN float attributes of a Survey, as derived by :func:`header_scalars`.
PER_SN = ("z_hel", "z_cmb", "z_err", "peak_mjd", "mwebv", "log_mass")


def pack_light_curves(
    curves: Sequence[LightCurve], peak_mjd_key: str, z_err_floor: Any
) -> dict[str, Any]:
    """The fields of a Survey (all but ``drops``) holding ``curves``.

    Observations keep their file order; bands are numbered in order of first appearance.
    Padding: ``mask`` False, ``mjd`` 0, ``fluxcal`` 0, ``fluxcal_err`` 1, ``band`` 0.

    Raises:
        DataError: two light curves share an SNID (both sources are named), or a header
            lacks what :func:`header_scalars` needs.
    """
    if z_err_floor is not None and (
        isinstance(z_err_floor, bool)
        or not isinstance(z_err_floor, numbers.Real)
        or not math.isfinite(z_err_floor)
        or z_err_floor < 0
    ):
        raise ConfigError(f"expected a number >= 0, got {z_err_floor!r}", field="z_err_floor")
    seen: dict[str, LightCurve] = {}
    for lc in curves:
        if lc.snid in seen:
            raise DataError(
                f"SNID {lc.snid!r} appears twice: in {seen[lc.snid].source} and in {lc.source}",
                file=lc.source or None,
                field="SNID",
            )
        seen[lc.snid] = lc
    scalars = [
        header_scalars(lc, peak_mjd_key) if lc.values is None else _kept(lc.values) for lc in curves
    ]

    n_sn = len(curves)
    n_obs = max((len(lc) for lc in curves), default=0)
    band_names = tuple(dict.fromkeys(b for lc in curves for b in lc.band.tolist()))
    band_index = {b: i for i, b in enumerate(band_names)}
    fields: dict[str, Any] = {
        "mjd": np.zeros((n_sn, n_obs)),
        "fluxcal": np.zeros((n_sn, n_obs)),
        "fluxcal_err": np.ones((n_sn, n_obs)),
        "band": np.zeros((n_sn, n_obs), dtype=np.int32),
        "mask": np.zeros((n_sn, n_obs), dtype=bool),
        "line": np.zeros((n_sn, n_obs), dtype=np.int64),
    }
    for i, lc in enumerate(curves):
        n = len(lc)
        fields["mjd"][i, :n] = lc.mjd
        fields["fluxcal"][i, :n] = lc.fluxcal
        fields["fluxcal_err"][i, :n] = lc.fluxcal_err
        fields["band"][i, :n] = [band_index[b] for b in lc.band.tolist()]
        fields["mask"][i, :n] = True
        if lc.line is not None:
            fields["line"][i, :n] = lc.line
    for name in PER_SN:
        fields[name] = np.array([getattr(s, name) for s in scalars], dtype=np.float64)
        fields[name] = fields[name].reshape(n_sn)
    if z_err_floor is not None:
        fields["z_err"] = np.maximum(fields["z_err"], float(z_err_floor))
    fields.update(
        snid=tuple(lc.snid for lc in curves),
        band_names=band_names,
        survey_name=tuple(s.survey for s in scalars),
        meta=tuple(dict(lc.meta) for lc in curves),
        sources=tuple(lc.source for lc in curves),
        notes=tuple(
            dict.fromkeys(
                [note for s in scalars for note in s.notes]
                + [note for lc in curves for note in lc.notes]
            )
        ),
    )
    return fields


def _kept(values: dict[str, Any]) -> Scalars:
    """The per-SN quantities a survey's light curve carries (``LightCurve.values``)."""
    return Scalars(**{name: values[name] for name in Scalars._fields if name != "notes"}, notes=())
