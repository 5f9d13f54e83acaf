"""``prepare``: turn a Survey into a PreparedSurvey for one SED model and dust law."""

from __future__ import annotations

from collections import defaultdict

import jax
import jax.numpy as jnp
import numpy as np

from .._dust import AbstractDustLaw, Fitzpatrick99, milky_way_transmission
from .._dust._milky_way import milky_way_R_V as _galactic_R_V
from .._errors import DataError, ModelError
from .._filters import FilterBank, as_filter_bank
from .._sed import BayeSNModel
from .._spline import second_derivative_matrix
from .._survey import Drop
from ._chunks import build_chunks, choose_chunk_size
from ._flux import PreparedSurvey, SurveyInfo, template_at

__all__ = ["prepare"]

_ZP_FLUXCAL = 27.5


def _default_dtype():
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def band_covered(band, rest_wave, z_hel):
    """Whether the band's whole transmission lies inside the model's rest-frame
    wavelength range ``rest_wave`` at each heliocentric redshift ``z_hel``."""
    lim_lo, lim_hi = band.limits
    z = np.asarray(z_hel, np.float64)
    return (z <= lim_lo / rest_wave[0] - 1) & (z >= lim_hi / rest_wave[-1] - 1)


def prepare(
    survey,
    sed: BayeSNModel,
    dust: AbstractDustLaw | None = None,
    filters: FilterBank | None = None,
    *,
    free_tmax: bool = False,
    phase_window: tuple[float, float] | None = None,
    chunk_size: int | None = None,
    dtype=None,
    milky_way: AbstractDustLaw | None = None,
    milky_way_R_V: float | None = None,
) -> PreparedSurvey:
    """Compute every parameter-independent array of the forward model, once.

    Applies BayeSN's data rules and records everything it drops (see ``.report()``):

    * observations outside the phase window (default: the SED model's phase range,
      strict inequalities: −10 < t < 40 d for T21/W22/M20, −10 < t < 85 d for
      G25_85day) are dropped;
    * a band whose 1%-of-peak limits, shifted to the rest frame at the SN's heliocentric
      redshift, fall outside the model's wavelength range is dropped for that SN;
    * an SN left without observations is dropped.

    Args:
        survey: a :class:`sndust.Survey`.
        sed: the SED model (:class:`sndust.BayeSNModel`).
        dust: host dust law (default :class:`sndust.Fitzpatrick99`).
        filters: a :class:`sndust.FilterBank` holding every band of the survey (default
            the built-in bank).
        free_tmax: keep the time of maximum a free parameter (BayeSN's fitting mode): the
            phase spline rows and template are then evaluated per call.
        phase_window: rest-frame phase window ``(lo, hi)`` in days.
        chunk_size: observations per chunk (default: chosen to minimise padded work).
        dtype: floating dtype of the prepared arrays (default: JAX's default float,
            float64 when ``jax_enable_x64`` is on).
        milky_way: the law of the Galactic extinction (default :class:`sndust.Fitzpatrick99`,
            BayeSN's), applied in the observer frame with each SN's ``E(B−V)``.
        milky_way_R_V: its ``R_V`` (default 3.1, or a fixed curve's own).

    Raises:
        ModelError: a law evaluated outside its wavelength range -- the host law in the
            rest frame of a band an SN keeps, or the Milky Way law in the observer frame --
            naming the law, its range, the SN and the band.

    Returns:
        A :class:`PreparedSurvey`.
    """
    dust = Fitzpatrick99() if dust is None else dust
    milky_way = Fitzpatrick99() if milky_way is None else milky_way
    milky_way_R_V = _galactic_R_V(milky_way, milky_way_R_V)
    filters = as_filter_bank(filters)
    dtype = _default_dtype() if dtype is None else jnp.dtype(dtype)
    if not isinstance(sed, BayeSNModel):
        raise ModelError(f"sed must be a BayeSNModel, got {type(sed).__name__}")
    lo_t, hi_t = sed.phase_range if phase_window is None else map(float, phase_window)
    rest_wave = sed.rest_wave
    wave_lo, wave_hi = rest_wave[0], rest_wave[-1]

    bands = survey.band_filters(filters)  # unknown name -> ModelError naming SN and file
    drops: list = []

    # Phase window: Survey.cut records each dropped point (and SNe left empty).
    survey = survey.cut(phase_window=(lo_t, hi_t))
    phase = survey.phase()
    keep = np.asarray(survey.mask, bool).copy()

    z_hel = np.asarray(survey.z_hel, np.float64)
    for b, name in enumerate(survey.band_names):
        lim_lo, lim_hi = bands[name].limits
        uncovered = ~band_covered(bands[name], rest_wave, z_hel)
        for s in np.flatnonzero(uncovered & np.any(keep & (survey.band == b), axis=1)):
            drops.append(
                Drop(
                    survey.snid[s],
                    name,
                    None,
                    f"band {name} ({lim_lo:.0f}-{lim_hi:.0f} Å) outside the model's rest range "
                    f"{wave_lo:.0f}-{wave_hi:.0f} Å at z_hel={z_hel[s]:.4f}",
                    survey.sources[s],
                )
            )
            keep[s] &= survey.band[s] != b

    kept_sn = np.flatnonzero(keep.any(axis=1))
    for s in np.flatnonzero(~keep.any(axis=1)):
        drops.append(
            Drop(
                survey.snid[s],
                None,
                None,
                "no observations left inside the phase window and the model's wavelength range",
                survey.sources[s],
            )
        )
    if kept_sn.size == 0:
        raise DataError(
            "no SN has observations the model can use; see the report above:\n"
            + "\n".join(f"  {d.snid} {d.band or ''}: {d.reason}" for d in drops[:50])
        )
    sub = survey.select(kept_sn) if kept_sn.size < survey.n_sn else survey
    # select() re-pads: n_obs shrinks if the dropped SNe had the longest light curves
    keep = keep[kept_sn][:, : sub.n_obs]
    phase = sub.phase()
    z_hel = z_hel[kept_sn]
    mwebv = np.asarray(sub.mwebv, np.float64)
    n_sn, n_obs = keep.shape

    # ---- (SN, band) pairs and their redshifted, extinguished, zero-pointed band weights
    used = sorted({int(b) for b in np.unique(sub.band[keep])})
    used_names = tuple(sub.band_names[b] for b in used)
    pair_obs, pair_sn, pair_weight = [], [], []
    zp_factor = {}
    for b in used:
        name = sub.band_names[b]
        zp_factor[b] = 10 ** (-0.4 * filters.zero_point(name)) * 10 ** (
            0.4 * (_ZP_FLUXCAL - filters.offset(name))
        )
    by_pair = defaultdict(list)
    for s, j in zip(*np.nonzero(keep)):
        by_pair[(s, int(sub.band[s, j]))].append(s * n_obs + j)
    for (s, b), idx in sorted(by_pair.items()):
        order = np.argsort(phase.reshape(-1)[idx], kind="stable")
        pair_obs.append(np.asarray(idx)[order])
        pair_sn.append(s)
        w = bands[sub.band_names[b]].rest_weights(rest_wave, z_hel[s])
        on = w != 0  # Milky Way dust only where the band transmits (F99 ends at 6 μm)
        try:
            w[on] *= milky_way_transmission(
                rest_wave[on] * (1 + z_hel[s]), mwebv[s], milky_way_R_V, milky_way
            )
        except ModelError as err:
            lo, hi = rest_wave[on][[0, -1]] * (1 + z_hel[s])
            raise ModelError(
                f"SN {sub.snid[s]}, band {sub.band_names[b]} (observed {lo:.0f}-{hi:.0f} Å): "
                f"Milky Way dust: {err.message}",
                file=sub.sources[s],
                field="milky_way",
            ) from None
        pair_weight.append(w / (1 + z_hel[s]) * zp_factor[b])
    pair_sn = np.asarray(pair_sn)
    pair_weight = np.asarray(pair_weight)  # (n_pair, n_wave)
    host_wave = _host_dust_wavelengths(dust, rest_wave, pair_weight, by_pair, sub)

    nonzero = pair_weight != 0
    first = np.argmax(nonzero, axis=1)
    last = rest_wave.size - 1 - np.argmax(nonzero[:, ::-1], axis=1)
    window = int(np.max(last - first + 1))
    window = min(rest_wave.size, -(-window // 4) * 4)  # round up: fewer distinct shapes
    start = np.minimum(first, rest_wave.size - window)
    win_index = start[:, None] + np.arange(window)[None, :]  # (n_pair, window)

    n_l = sed.l_knots.size
    counts = np.array([len(o) for o in pair_obs])
    size = chunk_size or choose_chunk_size(counts, overhead=n_l)
    chunks = build_chunks(pair_obs, pair_sn, int(size))
    valid = chunks.valid
    flat = np.where(valid, chunks.obs, 0)

    c_window = win_index[chunks.pair]  # (n_chunk, window)
    c_weight = np.take_along_axis(pair_weight[chunks.pair], c_window, axis=1)
    c_phase = np.where(valid, phase.reshape(-1)[flat], 0.0)
    fluxcal = np.where(valid, np.asarray(sub.fluxcal).reshape(-1)[flat], 0.0)
    fluxcal_err = np.where(valid, np.asarray(sub.fluxcal_err).reshape(-1)[flat], 1.0)
    wave_basis = np.swapaxes(sed.wave_basis()[c_window], 1, 2)  # (n_chunk, n_l, window)

    hsiao = sed.hsiao_flux
    phase0 = float(sed.hsiao_phase[0])
    if free_tmax:
        phase_basis = template_weight = None
        hsiao_arr = hsiao
    else:
        phase_basis = sed.phase_basis(c_phase)  # (n_chunk, size, nt)
        template = template_at(hsiao, phase0, c_window, c_phase, np)  # (n_chunk, size, window)
        template_weight = template * c_weight[:, None, :] * valid[:, :, None]
        hsiao_arr = None

    info = SurveyInfo(
        snid=tuple(sub.snid),
        survey_index=kept_sn,
        band_names=used_names,
        drops=tuple(drops),
        survey=sub,
        n_obs=n_obs,
        phase_window=(lo_t, hi_t),
        chunk_size=int(size),
        window=window,
        milky_way=(milky_way, milky_way_R_V),
    )

    def f(x):
        return None if x is None else jnp.asarray(x, dtype)

    def i(x):
        return jnp.asarray(x, jnp.int32)

    dust_basis = jax.tree_util.tree_map(f, dust.precompute(host_wave))
    return PreparedSurvey(
        info=info,
        dust=dust,
        free_tmax=bool(free_tmax),
        W0=f(sed.W0),
        W1=f(sed.W1),
        L_sigma=f(sed.L_sigma),
        M0=f(sed.M0),
        tau_knots=f(sed.tau_knots),
        tau_curvature=f(second_derivative_matrix(sed.tau_knots)),
        dust_basis=dust_basis,
        chunk_sn=i(chunks.sn),
        window_index=i(c_window),
        wave_basis=f(wave_basis),
        band_weight=f(c_weight),
        phase=f(c_phase),
        phase_basis=f(phase_basis),
        template_weight=f(template_weight),
        hsiao_flux=f(hsiao_arr),
        hsiao_phase0=phase0,
        obs_fluxcal=f(fluxcal),
        obs_fluxcal_err=f(fluxcal_err),
        mask=jnp.asarray(valid),
        obs_index=i(np.where(valid, chunks.obs, n_sn * n_obs)),
        z_hel=f(z_hel),
        z_cmb=f(sub.z_cmb),
        z_err=f(sub.z_err),
        mwebv=f(mwebv),
        log_mass=f(sub.log_mass),
        peak_mjd=f(sub.peak_mjd),
    )


def _host_dust_wavelengths(dust, rest_wave, pair_weight, by_pair, survey) -> np.ndarray:
    """The rest wavelengths to evaluate the host law at: the model's grid, with the bins
    no kept band uses moved inside the law's range (their curve values multiply zero
    weights). A bin some (SN, band) uses outside the range is an error naming them."""
    lo, hi = dust.wave_range
    outside = (rest_wave < lo) | (rest_wave > hi)
    if not outside.any():
        return rest_wave
    used = np.flatnonzero((pair_weight[:, outside] != 0).any(axis=1))
    if used.size:
        pairs = sorted(by_pair)
        named = [f"{survey.snid[pairs[p][0]]} {survey.band_names[pairs[p][1]]}" for p in used[:5]]
        more = "" if used.size <= 5 else f", … ({used.size} SN-bands in all)"
        s0 = pairs[used[0]][0]
        span = rest_wave[pair_weight[used[0]] != 0][[0, -1]]
        raise ModelError(
            f"the host dust law {type(dust).__name__} is defined for rest wavelengths "
            f"{lo:g}-{hi:g} Å, but {', '.join(named)}{more} need it at "
            f"{span[0]:.0f}-{span[1]:.0f} Å (the first of them); choose a law that covers "
            "them or cut those bands",
            file=survey.sources[s0],
            field="dust",
        )
    return np.clip(rest_wave, lo, hi)
