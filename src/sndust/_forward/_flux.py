"""The prepared survey: every parameter-independent array, and the batched forward model.

A :class:`PreparedSurvey` is an Equinox module (a pytree of arrays) built once by
:func:`sndust.prepare`. Its methods compute model FLUXCAL (zero point 27.5), magnitudes and
the Gaussian flux log-likelihood of every observation of every SN in one call, as a
function of the per-SN latent parameters; they are pure, batched, jit-able and
differentiable in all of them.

Per evaluation only parameter-dependent work runs (everything else is computed once by
``prepare``):

    W_s   = W0 + θ_s W1 + ε_s                               (n_sn, n_lknot, n_tknot)
    E_c   = J_t(c) W_{s(c)}ᵀ                                per chunk: (size, n_lknot)
    X_c   = E_c J_λ(window c) + A_V,s A(λ; R_V,s)/A_V       (size, window), mag
    F_c   = Σ_λ G_c(t, λ) 10^{-0.4 X_c} · 10^{-0.4 (M0 + μ_s + δM_s)}

``G`` folds together the Hsiao template at each observed phase, the redshifted band
weights, Milky Way extinction, the ``1/(1+z)`` factor and the zero point, all fixed.
With ``ref_scale`` (what :class:`sndust.HierarchicalModel` passes), the last factor is
``10^{-0.4 (M0 + μ_ref,s)}`` formed once in float64 times ``10^{-0.4 (Δμ_s + δM_s)}``
with the small offset ``Δμ_s = μ_s − μ_ref,s``: accurate in float32, see
:meth:`PreparedSurvey.reference_scale`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int, PyTree

from .._custom_types import PerChunk, PerObs, PerSN, Scalar, sn_axis
from .._dust import AbstractDustLaw
from .._sed._bayesn import eps_from_e

__all__ = ["PreparedSurvey", "SurveyInfo"]

_LN10_04 = float(0.4 * np.log(10.0))  # Python floats stay weakly typed: no f32 -> f64 promotion
_HALF_LOG_2PI = float(0.5 * np.log(2.0 * np.pi))

_PerSN = Float[ArrayLike, "#n_sn"] | Float[ArrayLike, ""] | float


@dataclass(eq=False)
class SurveyInfo:
    """Host-side description of a prepared survey: which SNe and bands it holds, where
    they came from, and what :func:`sndust.prepare` dropped and why.

    It is a static field of :class:`PreparedSurvey`, so it is part of every compiled
    program's cache key. Two infos compare equal when a program compiled for one serves
    the other: the same number of SNe and observations, bands, phase window, chunk size
    and wavelength window. The SN names, drops and source survey are read on the host
    only (never while tracing), so surveys of one shape -- simulation-based calibration's
    hundreds of surveys, a notebook refitting after a cut -- share their programs instead
    of compiling them again (about 25 s a fit on 2 CPU cores).
    """

    snid: tuple[str, ...]
    survey_index: np.ndarray  # index of each prepared SN in the source Survey
    band_names: tuple[str, ...]
    drops: tuple  # Drop records added by prepare()
    survey: object  # the source Survey (after selection)
    n_obs: int
    phase_window: tuple[float, float]
    chunk_size: int
    window: int
    milky_way: tuple = (None, None)  # (law, R_V) of the Galactic extinction applied

    def _program_key(self) -> tuple:
        return (
            len(self.snid), self.band_names, self.n_obs, tuple(self.phase_window),
            self.chunk_size, self.window,
        )  # fmt: skip

    def __eq__(self, other) -> bool:
        if not isinstance(other, SurveyInfo):
            return NotImplemented
        return self._program_key() == other._program_key()

    def __hash__(self) -> int:
        return hash(self._program_key())

    def report(self) -> str:
        lines = [
            f"{len(self.snid)} SNe prepared; {len(self.band_names)} bands "
            f"({', '.join(self.band_names)}); chunk size {self.chunk_size}, "
            f"wavelength window {self.window} bins"
        ]
        base = getattr(self.survey, "report", None)
        if base is not None:
            lines.append(base())
        if self.drops:
            lines.append(f"dropped while preparing ({len(self.drops)}):")
            for d in self.drops:
                what = d.snid if d.band is None else f"{d.snid} {d.band}"
                if d.mjd is not None:
                    what += f" MJD {d.mjd:.3f}"
                lines.append(f"  {what}: {d.reason}")
        return "\n".join(lines)


class PreparedSurvey(eqx.Module):
    """A survey prepared for one SED model and dust law (see module docstring).

    Build with :func:`sndust.prepare`. Shapes: ``n_sn`` SNe; ``n_chunk`` chunks of ``size``
    observations of one SN in one band; ``window`` rest-wavelength bins per chunk.

    An evaluation computes all chunks at once: its temporaries are ``(n_chunk, size,
    window)`` arrays, and a batch of evaluations (several optimiser starts, the columns of
    a Hessian) holds one set per member. :meth:`in_blocks` gives the same survey evaluated
    in blocks of chunks, one after another, whose temporaries are one block's whatever
    the number of observations.
    """

    info: SurveyInfo = eqx.field(static=True)
    dust: AbstractDustLaw
    free_tmax: bool = eqx.field(static=True)
    # SED model (array leaves: a future training mode can differentiate through them)
    W0: Float[Array, "nl nt"]
    W1: Float[Array, "nl nt"]
    L_sigma: Float[Array, "ne ne"]
    M0: Scalar
    tau_knots: Float[Array, " nt"]
    tau_curvature: Float[Array, "nt nt"]
    dust_basis: PyTree
    # layout
    chunk_sn: Int[Array, " n_chunk"] = sn_axis()
    window_index: Int[Array, "n_chunk window"] = sn_axis()
    # wavelength last: the band integral sums over the fastest axis, and the backward pass
    # of the spline product needs no transposes (-12% per 4-chain gradient at 30 SNe)
    wave_basis: Float[Array, "n_chunk nl window"] = sn_axis()
    band_weight: Float[Array, "n_chunk window"] = sn_axis()
    phase: PerChunk = sn_axis()
    phase_basis: Float[Array, "n_chunk size nt"] | None = sn_axis()
    template_weight: Float[Array, "n_chunk size window"] | None = sn_axis()
    hsiao_flux: Float[Array, "n_wave n_phase"] | None
    hsiao_phase0: float = eqx.field(static=True)
    # data
    obs_fluxcal: PerChunk = sn_axis()
    obs_fluxcal_err: PerChunk = sn_axis()
    mask: Bool[Array, "n_chunk size"] = sn_axis()
    obs_index: Int[Array, "n_chunk size"] = sn_axis()
    # per-SN metadata
    z_hel: PerSN = sn_axis()
    z_cmb: PerSN = sn_axis()
    z_err: PerSN = sn_axis()
    mwebv: PerSN = sn_axis()
    log_mass: PerSN = sn_axis()
    peak_mjd: PerSN = sn_axis()
    # evaluation: chunks per block (None: all chunks at once; see in_blocks)
    block: int | None = eqx.field(static=True, default=None)

    # ------------------------------------------------------------------ sizes
    @property
    def n_sn(self) -> int:
        return len(self.info.snid)

    @property
    def n_obs(self) -> int:
        return self.info.n_obs

    @property
    def snid(self) -> tuple[str, ...]:
        return self.info.snid

    @property
    def band_names(self) -> tuple[str, ...]:
        return self.info.band_names

    @property
    def n_eps(self) -> int:
        return self.L_sigma.shape[0]

    @property
    def evaluation_size(self) -> int:
        """Observation slots × wavelength bins: the size of an evaluation's largest
        temporaries (all chunks at once)."""
        return self.obs_fluxcal.size * self.info.window

    def report(self) -> str:
        """Every SN, band and point dropped on the way here, with the reason."""
        return self.info.report()

    def in_blocks(self, chunks: int | None) -> PreparedSurvey:
        """The same survey, evaluated ``chunks`` chunks at a time (None: all at once).

        The blocks run one after another (``lax.map``) and each block's flux is
        recomputed in the backward pass rather than stored (``jax.checkpoint``), so a
        gradient, or a batch of gradients and Hessian-vector products, holds the
        temporaries of one block instead of all observations. The values are those of
        the survey evaluated at once, to rounding; a single gradient costs more this way
        (slices are copied out of the arrays, the flux is computed twice), so this is for
        batched derivative programs that would otherwise hold many copies.
        """
        if chunks is not None and chunks < 1:
            raise ValueError(f"chunks per block must be at least 1, got {chunks}")
        if chunks is not None and chunks >= self.chunk_sn.shape[0]:
            chunks = None
        return replace(self, block=chunks)

    # ------------------------------------------------------------------ pieces
    def eps_from_e(self, e: Float[ArrayLike, "*b ne"]) -> Float[Array, "*b nl nt"]:
        """ε surfaces from standard-normal ``e``: ``L_Σ e`` on interior wavelength knots,
        wavelength-fastest, zero first and last wavelength rows."""
        return eps_from_e(self.L_sigma, jnp.asarray(e), self.W0.shape[0])

    def _chunk_data(self, take=None) -> dict:
        """The per-chunk arrays one flux evaluation reads (all chunks, or ``take`` of each)."""
        if self.free_tmax:
            names = ("chunk_sn", "window_index", "wave_basis", "phase", "band_weight")
        else:
            names = ("chunk_sn", "window_index", "wave_basis", "phase_basis", "template_weight")
        return {
            name: getattr(self, name) if take is None else take(getattr(self, name))
            for name in names
        }

    def _flux_of(self, chunks, surfaces, dust, scale, shift):
        """FLUXCAL ``(n, size)`` of a set of chunks (``_chunk_data``), given per SN the
        surfaces ``W_s``, the host dust ``A_V A(λ; R_V)/A_V`` on the model grid (mag), the
        flux scale and, with a free ``t_max``, the phase shift."""
        sn = chunks["chunk_sn"]
        if shift is None:
            phase_basis, weight = chunks["phase_basis"], chunks["template_weight"]
        else:  # spline rows and template × band weights at the shifted phases
            t = chunks["phase"] - shift[sn][:, None]
            phase_basis = _spline_rows(t, self.tau_knots, self.tau_curvature)  # (n, size, nt)
            weight = weight_at(
                self.hsiao_flux,
                self.hsiao_phase0,
                chunks["window_index"],
                chunks["band_weight"],
                t,
            )
        # knot values at each observed phase: (n, size, nl)
        knots_at_obs = jnp.einsum("cst,clt->csl", phase_basis, surfaces[sn])
        warp = knots_at_obs @ chunks["wave_basis"]  # (n, size, window)
        dust = dust[sn[:, None], chunks["window_index"]]  # (n, window)
        flux = jnp.sum(weight * jnp.exp(-_LN10_04 * (warp + dust[:, None, :])), axis=-1)
        return flux * scale[sn][:, None]

    def _chunk_flux(self, theta, A_V, R_V, eps, distmod, delta_M, t_max, ref_scale=None):
        dtype = self.obs_fluxcal.dtype
        n_sn = self.n_sn

        def per_sn(x):
            return jnp.broadcast_to(jnp.asarray(x, dtype), (n_sn,))

        theta, A_V, distmod, delta_M = map(per_sn, (theta, A_V, distmod, delta_M))
        R_V = jnp.asarray(R_V, dtype)
        eps = jnp.broadcast_to(jnp.asarray(eps, dtype), (n_sn, *self.W0.shape))
        surfaces = self.W0 + theta[:, None, None] * self.W1 + eps  # (n_sn, nl, nt)
        dust = A_V[:, None] * self.dust.curve_from(self.dust_basis, R_V)  # (n_sn, n_wave)
        if ref_scale is None:
            scale = jnp.exp(-_LN10_04 * (self.M0 + distmod + delta_M))
        else:  # distmod is an offset from the reference distances folded into ref_scale
            scale = per_sn(ref_scale) * jnp.exp(-_LN10_04 * (distmod + delta_M))
        shift = None
        if self.free_tmax:
            shift = jnp.broadcast_to(jnp.asarray(t_max, self.phase.dtype), (n_sn,))
        if self.block is None:
            return self._flux_of(self._chunk_data(), surfaces, dust, scale, shift)

        # blocks of `block` chunks in a loop (see in_blocks), then the remaining chunks
        size = self.block
        n_full = self.chunk_sn.shape[0] // size

        def one(i):
            def take(x):
                return jax.lax.dynamic_slice_in_dim(x, i * size, size)

            return self._flux_of(self._chunk_data(take), surfaces, dust, scale, shift)

        flux = jax.lax.map(jax.checkpoint(one, prevent_cse=False), jnp.arange(n_full))
        flux = flux.reshape(n_full * size, -1)
        if n_full * size < self.chunk_sn.shape[0]:
            rest = self._chunk_data(lambda x: x[n_full * size :])
            flux = jnp.concatenate([flux, self._flux_of(rest, surfaces, dust, scale, shift)])
        return flux

    # ------------------------------------------------------------------ public
    def chunk_fluxcal(
        self,
        *,
        theta: _PerSN,
        A_V: _PerSN,
        R_V: _PerSN,
        distmod: _PerSN,
        eps: Float[ArrayLike, "#n_sn nl nt"] | None = None,
        e: Float[ArrayLike, "n_sn ne"] | None = None,
        delta_M: _PerSN = 0.0,
        t_max: _PerSN | None = None,
        ref_scale: _PerSN | None = None,
    ) -> PerChunk:
        """Model FLUXCAL in the chunked layout (what likelihoods use; see :meth:`fluxcal`)."""
        if (eps is None) == (e is None):
            raise TypeError("pass exactly one of eps= (surfaces) or e= (standard normal)")
        if eps is None:
            eps = self.eps_from_e(jnp.asarray(e, self.obs_fluxcal.dtype))
        if self.free_tmax and t_max is None:
            raise TypeError("this survey was prepared with free_tmax=True: pass t_max=")
        if not self.free_tmax and t_max is not None:
            raise TypeError("t_max= needs a survey prepared with free_tmax=True")
        flux = self._chunk_flux(theta, A_V, R_V, eps, distmod, delta_M, t_max, ref_scale)
        return jnp.where(self.mask, flux, 0.0)

    def reference_scale(self, distmod_ref: Float[ArrayLike, " n_sn"]) -> PerSN:
        """``10^(−0.4 (M0 + μ_ref))`` per SN, formed in float64: pass it as ``ref_scale=``
        with ``distmod = μ − μ_ref`` to keep float32 fluxes accurate.

        In float32 a distance modulus of ~40 mag is stored to ~4e-6 mag and
        ``exp(−0.4 ln10 (M0 + μ))`` has an argument of ~−20, so the model flux carries a
        relative error of ~4e-6: for points measured at S/N ~ 100s that is a gradient
        error of order 0.1 per SN, which grows NUTS's energy error with the number of
        SNe. The offset from a fixed reference is O(0.1) mag and exact to ~1e-8.
        """
        ref = np.float64(np.asarray(self.M0)) + np.asarray(distmod_ref, np.float64)
        return jnp.asarray(np.exp(-_LN10_04 * ref), self.obs_fluxcal.dtype)

    def to_survey_layout(self, chunked: PerChunk) -> PerObs:
        """Scatter chunked values back to the ``(n_sn, n_obs)`` layout of the source survey
        (the prepared SNe only, in order; dropped points are 0)."""
        out = jnp.zeros(self.n_sn * self.n_obs, chunked.dtype)
        out = out.at[self.obs_index.reshape(-1)].set(chunked.reshape(-1), mode="drop")
        return out.reshape(self.n_sn, self.n_obs)

    def observed_mask(self) -> Bool[Array, "n_sn n_obs"]:
        """Which ``(n_sn, n_obs)`` entries hold an observation used by the model."""
        return self.to_survey_layout(self.mask.astype(self.obs_fluxcal.dtype)) > 0

    def fluxcal(self, **params) -> PerObs:
        """Model FLUXCAL (zero point 27.5) of every observation of every SN.

        Keyword args (arrays of shape ``(n_sn,)`` or scalars that broadcast):
            theta: light-curve shape θ. A_V: host extinction, mag. R_V: host R_V (scalar
            for a global R_V). distmod: distance modulus μ. delta_M: grey offset δM
            (default 0; BayeSN's ``D_s = μ + δM``). eps: ε surfaces ``(n_sn, n_lknot,
            n_tknot)`` or e: their standard-normal form ``(n_sn, n_eps)``. t_max: time of
            maximum in rest-frame days relative to the catalogue peak (surveys prepared
            with ``free_tmax=True`` only). ref_scale: :meth:`reference_scale` of
            reference distance moduli μ_ref; ``distmod`` is then ``μ − μ_ref`` (the
            float32-accurate form; :class:`sndust.HierarchicalModel` uses it).

        Returns:
            ``(n_sn, n_obs)`` FLUXCAL, zero where there is no (used) observation.
        """
        return self.to_survey_layout(self.chunk_fluxcal(**params))

    def magnitudes(self, **params) -> PerObs:
        """Model magnitudes ``27.5 - 2.5 log10(FLUXCAL)``; NaN where there is no observation."""
        flux = self.fluxcal(**params)
        ok = self.observed_mask()
        return jnp.where(ok, 27.5 - 2.5 * jnp.log10(jnp.where(ok, flux, 1.0)), jnp.nan)

    def log_likelihood_per_sn(self, **params) -> PerSN:
        """Gaussian FLUXCAL log-likelihood of each SN, summed over its observations."""
        model = self.chunk_fluxcal(**params)
        z = (self.obs_fluxcal - model) / self.obs_fluxcal_err
        point = -0.5 * z**2 - jnp.log(self.obs_fluxcal_err) - _HALF_LOG_2PI
        point = jnp.where(self.mask, point, 0.0).sum(axis=1)
        return jax.ops.segment_sum(point, self.chunk_sn, num_segments=self.n_sn)

    def log_likelihood(self, **params) -> Scalar:
        """Total Gaussian FLUXCAL log-likelihood (BayeSN's flux likelihood)."""
        return self.log_likelihood_per_sn(**params).sum()


def template_at(hsiao_flux, phase0, window_index, t, xp):
    """Hsiao template at each chunk's wavelength window and observed phases.

    Linear in phase between whole days (as BayeSN); phases beyond the template's range
    take its edge (BayeSN's negative index would wrap to +85 d instead).

    Args:
        hsiao_flux: template on the model grid, ``(n_wave, n_phase)``, phases
            ``phase0, phase0 + 1, …`` days.
        window_index: ``(n_chunk, window)`` wavelength-bin indices.
        t: ``(n_chunk, size)`` rest-frame phases.
        xp: ``numpy`` (set-up) or ``jax.numpy`` (free time of maximum).

    Returns:
        ``(n_chunk, size, window)``.
    """
    frac, lo, hi = _days(t, phase0, hsiao_flux.shape[1], xp)
    rows = window_index[:, None, :]
    return (1 - frac) * hsiao_flux[rows, lo] + frac * hsiao_flux[rows, hi]


def weight_at(hsiao_flux, phase0, window_index, band_weight, t):
    """Band weights × Hsiao template at shifted phases ``t`` (JAX; free time of maximum).

    The interpolation of :func:`template_at`, written as ``a + f (b − a)`` with ``a`` and
    ``b`` the band-weighted template on the whole days either side of ``t``: those depend
    on ``t`` only through the whole day, where their derivative is zero, so they enter as
    constants and the derivative in ``t`` runs through the day fraction ``f`` alone. A
    gradient then keeps neither the gathered template rows nor the broadcast band weights
    for it. Equal to ``template_at(...) * band_weight[:, None, :]`` to rounding.

    Args:
        band_weight: ``(n_chunk, window)``; the others as :func:`template_at`.

    Returns:
        ``(n_chunk, size, window)``.
    """
    frac, lo, hi = _days(t, phase0, hsiao_flux.shape[1], jnp)
    rows = window_index[:, None, :]
    weight = band_weight[:, None, :]
    a = jax.lax.stop_gradient(weight * hsiao_flux[rows, lo])
    b = jax.lax.stop_gradient(weight * hsiao_flux[rows, hi])
    return a + frac * (b - a)


def _days(t, phase0, n_phase, xp):
    """Day fraction of each phase ``(n, size, 1)`` and the template columns of the whole
    days below and above it (clipped to the template's range)."""
    lower = xp.floor(t)
    frac = (t - lower)[:, :, None]
    lo = xp.clip(lower.astype(np.int32) - int(phase0), 0, n_phase - 1)[:, :, None]
    hi = xp.clip(lo + 1, 0, n_phase - 1)
    return frac, lo, hi


def _spline_rows(t, knots, curvature):
    """JAX natural-cubic-spline rows (linear beyond the end knots) at points ``t``."""
    n = knots.shape[0]
    q = jnp.clip(jnp.searchsorted(knots, t, side="right") - 1, 0, n - 2)
    x0, x1 = knots[q], knots[q + 1]
    h = x1 - x0
    a = (x1 - t) / h
    b = 1.0 - a
    below, above = t < knots[0], t > knots[-1]
    # Cubic corrections vanish outside (linear extrapolation with the end slope instead).
    c = jnp.where(below | above, 0.0, (a**3 - a) * h**2 / 6.0)
    d = jnp.where(below | above, 0.0, (b**3 - b) * h**2 / 6.0)
    lin_below = -(t - knots[0]) * (knots[1] - knots[0]) / 6.0
    lin_above = (t - knots[-1]) * (knots[-1] - knots[-2]) / 6.0
    eye = jnp.eye(n, dtype=t.dtype)
    rows = a[..., None] * eye[q] + b[..., None] * eye[q + 1]
    rows = rows + c[..., None] * curvature[q] + d[..., None] * curvature[q + 1]
    rows = rows + jnp.where(below, lin_below, 0.0)[..., None] * curvature[1]
    rows = rows + jnp.where(above, lin_above, 0.0)[..., None] * curvature[n - 2]
    return rows
