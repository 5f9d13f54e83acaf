"""Simulate surveys from the model itself (known truths for recovery tests and demos)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import jax
import numpy as np

from ._compile import jit_once
from ._errors import ConfigError
from ._survey import Survey

__all__ = ["SurveyDesign", "simulate_survey", "simulate_surveys"]

_PS1 = ("g_PS1", "r_PS1", "i_PS1", "z_PS1")
_PHASES = tuple(float(p) for p in np.linspace(-8.0, 35.0, 10))  # bayesn's benchmark cadence
_MAG_TO_FLUX = float(np.log(10.0) / 2.5)
_ZP = 27.5  # FLUXCAL zero point


@dataclasses.dataclass(frozen=True)
class SurveyDesign:
    """How a simulated survey finds and observes its supernovae.

    Redshifts: ``z_cmb = z_hel`` drawn in ``z_range``, uniformly or (``z_distribution =
    "volumetric"``) with density ∝ dV_c/dz / (1 + z) (a constant rate per comoving volume
    and observer time; flat ΛCDM, Ω_m = 0.28). Epochs: either the rest-frame ``phases``
    in every band (each jittered by ±0.5 d), or, when ``phases`` is None, visits every
    ``cadence`` observer-frame days in each band (a random start per band) across the
    rest-frame ``phase_range`` (default None: the SED model's own phase range, −10…40 d
    for T21/W22/M20 and −10…85 d for G25_85day), each missed with probability
    ``p_miss``. Epochs outside the SED model's phase range are never kept. Bands whose
    transmission falls outside the SED model's rest-frame range at an SN's redshift are
    not observed for that SN.

    Noise (FLUXCAL, zero point 27.5): σ² = σ_sky² + F / ``gain`` + (``mag_err`` · ln10/2.5 ·
    F)², with σ_sky = F(``depth``) / 5 (``depth``: 5σ limiting magnitude, one value or one
    per band; None for no sky term) and ``gain`` in photo-electrons per FLUXCAL unit (None
    for no Poisson term). ``mag_err`` alone (the default design) is a constant fractional
    error.

    Hosts and foreground: Milky Way E(B−V) ~ U(0, ``mwebv_max``); log10 host mass uniform
    in ``log_mass_range``, or normal(``log_mass_mean``, ``log_mass_sd``) truncated to it.

    Presets: :meth:`foundation`, :meth:`des`, :meth:`ps1md`, :meth:`lsst`
    (``SurveyDesign.preset(name)``).
    Their depths, cadences and host-mass distributions are round numbers chosen to look
    like those surveys' low- and high-redshift samples, not fits to them; no selection
    (detection) cut is applied, so a simulated survey has no Malmquist bias.
    """

    name: str = "simple"
    bands: Sequence[str] = _PS1
    z_range: tuple[float, float] = (0.015, 0.08)
    z_distribution: str = "uniform"
    phases: Sequence[float] | None = _PHASES
    cadence: float = 5.0
    phase_range: tuple[float, float] | None = None
    p_miss: float = 0.0
    depth: float | dict | None = None
    gain: float | None = None
    mag_err: float = 0.03
    mwebv_max: float = 0.1
    log_mass_range: tuple[float, float] = (8.5, 11.5)
    log_mass_mean: float | None = None
    log_mass_sd: float = 0.6
    z_err: float = 1e-4

    def __post_init__(self):
        def number(name, value, low=None, positive=False):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (np.isfinite(value))
            ):
                raise ConfigError(f"expected a finite number, got {value!r}", field=name)
            if (positive and value <= 0) or (low is not None and value < low):
                bound = "> 0" if positive else f">= {low}"
                raise ConfigError(f"expected a number {bound}, got {value!r}", field=name)
            return float(value)

        def pair(name, value, low=None):
            if not isinstance(value, tuple | list) or len(value) != 2:
                raise ConfigError(f"expected [low, high], got {value!r}", field=name)
            lo, hi = (number(name, v, low) for v in value)
            if not lo < hi:
                raise ConfigError(f"expected low < high, got {value!r}", field=name)
            object.__setattr__(self, name, (lo, hi))

        if isinstance(self.bands, str) or not self.bands:
            raise ConfigError(f"expected a list of band names, got {self.bands!r}", field="bands")
        object.__setattr__(self, "bands", tuple(str(b) for b in self.bands))
        pair("z_range", self.z_range)
        if self.z_range[0] <= 0:
            raise ConfigError(f"redshifts must be > 0, got {self.z_range!r}", field="z_range")
        if self.z_distribution not in ("uniform", "volumetric"):
            raise ConfigError(
                f"expected 'uniform' or 'volumetric', got {self.z_distribution!r}",
                field="z_distribution",
            )
        if self.phases is not None:
            if (
                not isinstance(self.phases, Sequence)
                or isinstance(self.phases, str)
                or not len(self.phases)
            ):
                raise ConfigError(f"expected a list of phases, got {self.phases!r}", field="phases")
            object.__setattr__(self, "phases", tuple(number("phases", p) for p in self.phases))
        number("cadence", self.cadence, positive=True)
        if self.phase_range is not None:
            pair("phase_range", self.phase_range)
        if not 0 <= number("p_miss", self.p_miss) < 1:
            raise ConfigError(f"expected 0 <= p_miss < 1, got {self.p_miss!r}", field="p_miss")
        if isinstance(self.depth, dict):
            missing = sorted(set(self.bands) - set(self.depth))
            if missing:
                raise ConfigError(f"no depth for bands {missing}", field="depth")
            for v in self.depth.values():
                number("depth", v)
        elif self.depth is not None:
            number("depth", self.depth)
        if self.gain is not None:
            number("gain", self.gain, positive=True)
        number("mag_err", self.mag_err, low=0.0)
        if self.depth is None and self.gain is None and self.mag_err == 0:
            raise ConfigError("no noise: give depth, gain or mag_err > 0", field="mag_err")
        number("mwebv_max", self.mwebv_max, low=0.0)
        pair("log_mass_range", self.log_mass_range)
        if self.log_mass_mean is not None:
            number("log_mass_mean", self.log_mass_mean)
        number("log_mass_sd", self.log_mass_sd, positive=True)
        number("z_err", self.z_err, low=0.0)

    # ------------------------------------------------------------------ presets
    @classmethod
    def foundation(cls) -> SurveyDesign:
        """Foundation-like: Pan-STARRS griz, 0.015 < z < 0.08 (uniform, a stand-in for
        the magnitude-limited sample's redshifts), a visit every ~6 days, single-epoch
        depth ~21.5 mag, 1.5% error floor, massive hosts."""
        return cls(
            name="foundation", bands=_PS1, z_range=(0.015, 0.08),
            z_distribution="uniform", phases=None, cadence=6.0, p_miss=0.15,
            depth=21.5, gain=25.0, mag_err=0.015, mwebv_max=0.15,
            log_mass_range=(7.5, 12.0), log_mass_mean=10.3, log_mass_sd=0.6,
        )  # fmt: skip

    @classmethod
    def des(cls) -> SurveyDesign:
        """DES-like: DECam griz, 0.1 < z < 0.6, weekly visits, depth ~23.5 mag."""
        return cls(
            name="des", bands=("g_DES", "r_DES", "i_DES", "z_DES"), z_range=(0.1, 0.6),
            z_distribution="volumetric", phases=None, cadence=7.0, p_miss=0.1,
            depth=23.5, gain=25.0, mag_err=0.01, mwebv_max=0.05,
            log_mass_range=(7.0, 12.0), log_mass_mean=9.9, log_mass_sd=0.8,
        )  # fmt: skip

    @classmethod
    def ps1md(cls) -> SurveyDesign:
        """PS1 Medium Deep-like: Pan-STARRS griz, 0.05 < z < 0.5, a visit per band every
        ~4 days (the fields' rotation, weather lost), nightly-stack depth ~23 mag."""
        return cls(
            name="ps1md", bands=_PS1, z_range=(0.05, 0.5),
            z_distribution="volumetric", phases=None, cadence=4.0, p_miss=0.3,
            depth=23.0, gain=25.0, mag_err=0.01, mwebv_max=0.05,
            log_mass_range=(7.0, 12.0), log_mass_mean=10.0, log_mass_sd=0.8,
        )  # fmt: skip

    @classmethod
    def lsst(cls) -> SurveyDesign:
        """LSST-like (wide-fast-deep): ugrizy, 0.05 < z < 0.5, a visit per band every
        ~10 days, single-visit depths of the LSST science book."""
        depth = {"u_LSST": 23.9, "g_LSST": 25.0, "r_LSST": 24.7, "i_LSST": 24.0,
                 "z_LSST": 23.3, "y_LSST": 22.1}  # fmt: skip
        return cls(
            name="lsst", bands=tuple(depth), z_range=(0.05, 0.5),
            z_distribution="volumetric", phases=None, cadence=10.0, p_miss=0.1,
            depth=depth, gain=25.0, mag_err=0.005, mwebv_max=0.1,
            log_mass_range=(7.0, 12.0), log_mass_mean=9.9, log_mass_sd=0.9,
        )  # fmt: skip

    @classmethod
    def preset(cls, name: str) -> SurveyDesign:
        """The preset called ``name``: ``"foundation"``, ``"des"``, ``"ps1md"`` or
        ``"lsst"``."""
        presets = {"foundation": cls.foundation, "des": cls.des, "ps1md": cls.ps1md,
                   "lsst": cls.lsst}  # fmt: skip
        if name not in presets:
            raise ConfigError(
                f"unknown survey preset {name!r}; expected one of {sorted(presets)}",
                field="preset",
            )
        return presets[name]()

    # ------------------------------------------------------------------ draws
    def redshifts(self, rng, n: int) -> np.ndarray:
        lo, hi = self.z_range
        if self.z_distribution == "uniform":
            return rng.uniform(lo, hi, n)
        grid = np.linspace(lo, hi, 2049)
        dense = np.linspace(0.0, hi, 8193)
        inv_e = 1.0 / np.sqrt(0.28 * (1 + dense) ** 3 + 0.72)
        comoving = np.concatenate([[0.0], np.cumsum(0.5 * (inv_e[1:] + inv_e[:-1]))])
        comoving *= dense[1] - dense[0]
        d_c = np.interp(grid, dense, comoving)
        density = d_c**2 * np.interp(grid, dense, inv_e) / (1 + grid)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]))])
        return np.interp(rng.uniform(0.0, 1.0, n), cdf / cdf[-1], grid)

    def log_masses(self, rng, n: int) -> np.ndarray:
        lo, hi = self.log_mass_range
        if self.log_mass_mean is None:
            return rng.uniform(lo, hi, n)
        from scipy.stats import truncnorm

        mean, sd = self.log_mass_mean, self.log_mass_sd
        a, b = (lo - mean) / sd, (hi - mean) / sd
        return truncnorm.ppf(rng.uniform(size=n), a, b, loc=mean, scale=sd)

    def epochs(
        self, rng, z: float, bands, model_phase_range: tuple[float, float] = (-10.0, 40.0)
    ) -> tuple[np.ndarray, np.ndarray]:
        """Observer-frame days from peak, and the band of each observation
        (``model_phase_range``: the SED model's, used when ``phase_range`` is None)."""
        if self.phases is not None:
            rest = np.tile(np.asarray(self.phases), len(bands))
            rest = rest + rng.uniform(-0.5, 0.5, rest.size)
            return rest * (1 + z), np.repeat(np.asarray(bands), len(self.phases))
        phase_range = model_phase_range if self.phase_range is None else self.phase_range
        lo, hi = (p * (1 + z) for p in phase_range)
        days, names = [], []
        for band in bands:
            t = np.arange(lo + rng.uniform(0.0, self.cadence), hi, self.cadence)
            t = t[(t > lo) & (t < hi) & (rng.uniform(size=t.size) >= self.p_miss)]
            days.append(t)
            names += [band] * t.size
        return np.concatenate(days), np.asarray(names, dtype=str)

    def flux_error(self, flux: np.ndarray, bands: np.ndarray) -> np.ndarray:
        """1σ FLUXCAL error of true fluxes ``flux`` observed in ``bands``."""
        var = (self.mag_err * _MAG_TO_FLUX * flux) ** 2
        if self.gain is not None:
            var = var + np.abs(flux) / self.gain
        if self.depth is not None:
            depth = (
                np.vectorize(self.depth.__getitem__, otypes=[float])(bands)
                if isinstance(self.depth, dict)
                else self.depth
            )
            var = var + (10 ** (-0.4 * (np.asarray(depth) - _ZP)) / 5.0) ** 2
        return np.sqrt(var)


def simulate_survey(
    key,
    sed,
    population,
    *,
    n_sn: int = 50,
    hyper: dict | None = None,
    design: SurveyDesign | str | None = None,
    bands=None,
    phases=None,
    z_range=None,
    mwebv_max=None,
    log_mass_range=None,
    mag_err=None,
    dust=None,
    filters=None,
    cosmology=None,
    snid_prefix: str = "sim",
):
    """A survey drawn from ``population`` with the SED model, and its true parameters.

    ``design`` (a :class:`SurveyDesign` or a preset name: ``"foundation"``, ``"des"``,
    ``"ps1md"``, ``"lsst"``) sets redshifts, epochs, bands, noise and hosts; the default design is
    PS1 griz at 10 fixed rest-frame phases, 0.015 < z < 0.08 uniform, 3% errors. The
    keyword arguments ``bands``, ``phases``, ``z_range``, ``mwebv_max``,
    ``log_mass_range`` and ``mag_err`` override the design's fields of those names.
    Hyperparameters not given in ``hyper`` are drawn from their priors; per-SN parameters
    from the population's priors (θ ~ N(0,1), e ~ N(0,I), distances around μ̂(z) with
    the model's distance scatter). The same ``key`` gives the same survey. SNe are
    named ``<snid_prefix><k:05d>`` (give each survey of a combined set its own prefix).

    Returns:
        ``(survey, truth)``: a :class:`sndust.Survey` and a dict of the true physical values
        (the keys of :meth:`sndust.HierarchicalModel.constrain`).
    """
    if isinstance(design, str):
        design = SurveyDesign.preset(design)
    design = design or SurveyDesign()
    changes = {
        name: value
        for name, value in dict(
            bands=bands, phases=phases, z_range=z_range, mwebv_max=mwebv_max,
            log_mass_range=log_mass_range, mag_err=mag_err,
        ).items()
        if value is not None
    }  # fmt: skip
    design = dataclasses.replace(design, **changes)
    _check_count(n_sn)

    rng = np.random.default_rng(np.asarray(jax.random.key_data(key)).ravel()[-1])
    name = "simulated" if design.name == "simple" else f"simulated-{design.name}"
    template = _template(design, n_sn, rng, sed, filters, snid_prefix, name)
    return _observe(key, [(template, design, rng)], sed, population, hyper, dust, filters,
                    cosmology)  # fmt: skip


def simulate_surveys(
    key,
    sed,
    population,
    designs: Mapping[str, SurveyDesign | str],
    *,
    n_sn: int | Mapping[str, int] = 50,
    hyper: dict | None = None,
    dust=None,
    filters=None,
    cosmology=None,
):
    """Several surveys drawn together from one population, as a compilation combines
    them (Foundation-, DES- and PS1-like samples in one fit).

    ``designs`` maps each survey's name to its :class:`SurveyDesign` (or preset name);
    ``n_sn`` is one number for all or a number per survey. The hyperparameters (given in
    ``hyper``, others drawn from their priors) are shared, so the population sees one
    combined survey and may give each survey its own values through ``host.survey``.
    Each survey draws its SNe, epochs and noise from its own stream of ``key``; SNe are
    named ``<survey><k:05d>``.

    Returns:
        ``(survey, truth)``: the combined :class:`sndust.Survey` (``Survey.concat`` under
        the designs' names, so each SN carries its survey; ``survey.select`` by
        ``survey_name`` gives each back) and the true physical values.
    """
    if not isinstance(designs, Mapping) or not designs:
        raise ConfigError(
            f"expected a mapping of survey names to designs, got {designs!r}", field="designs"
        )
    counts = n_sn if isinstance(n_sn, Mapping) else dict.fromkeys(designs, n_sn)
    unknown = sorted(set(counts) ^ set(designs))
    if unknown:
        raise ConfigError(f"n_sn and designs name different surveys: {unknown}", field="n_sn")
    parts = []
    for k, (name, design) in enumerate(designs.items()):
        if isinstance(design, str):
            design = SurveyDesign.preset(design)
        _check_count(counts[name])
        part_key = np.asarray(jax.random.key_data(jax.random.fold_in(key, 100 + k)))
        rng = np.random.default_rng(part_key.ravel()[-1])
        parts.append((_template(design, counts[name], rng, sed, filters, str(name), str(name)),
                      design, rng))  # fmt: skip
    return _observe(key, parts, sed, population, hyper, dust, filters, cosmology)


def _check_count(n_sn) -> None:
    if isinstance(n_sn, bool) or not isinstance(n_sn, int | np.integer) or n_sn < 1:
        raise ConfigError(f"expected a positive whole number, got {n_sn!r}", field="n_sn")


def _template(design, n_sn, rng, sed, filters, snid_prefix, survey_name):
    """A survey of ``design``'s SNe with their epochs, bands, redshifts and hosts, and
    unit fluxes (to be replaced by the model's)."""
    from ._filters import as_filter_bank
    from ._forward._prepare import band_covered

    bank = as_filter_bank(filters)
    z = design.redshifts(rng, n_sn)
    lo_t, hi_t = sed.phase_range
    peak = 60000.0 + 3.0 * np.arange(n_sn)
    mjd, obs_band = [], []
    for k in range(n_sn):
        covered = [b for b in design.bands if band_covered(bank[b], sed.rest_wave, z[k])]
        if not covered:
            raise ConfigError(
                f"at z = {z[k]:.3f} none of the bands {list(design.bands)} lies inside the "
                "SED model's rest-frame wavelength range; narrow z_range or choose other "
                "bands",
                field="bands",
            )
        days, names = design.epochs(rng, z[k], covered, (lo_t, hi_t))
        inside = (days / (1 + z[k]) > lo_t) & (days / (1 + z[k]) < hi_t)
        mjd.append(peak[k] + days[inside])
        obs_band.append(names[inside])
    ones = [np.ones(t.size) for t in mjd]
    return Survey.from_arrays(
        [f"{snid_prefix}{k:05d}" for k in range(n_sn)],
        mjd,
        obs_band,
        ones,
        ones,
        z_hel=z,
        z_cmb=z,
        z_err=np.full(n_sn, design.z_err),
        peak_mjd=peak,
        mwebv=rng.uniform(0.0, design.mwebv_max, n_sn),
        log_mass=design.log_masses(rng, n_sn),
        survey=survey_name,
    )


def _observe(key, parts, sed, population, hyper, dust, filters, cosmology):
    """The survey of ``parts`` (template, design, its random stream) observed through
    the model at true parameters drawn with ``key``, each SN with its design's noise."""
    from ._model import HierarchicalModel

    templates = [template for template, _, _ in parts]
    if len(parts) == 1:
        template = templates[0]
    else:
        template = Survey.concat(*templates, names=[t.survey_name[0] for t in templates])
    model = HierarchicalModel(
        sed=sed,
        survey=template,
        population=population,
        dust=dust,
        filters=filters,
        cosmology=cosmology,
    )
    if model.n_sn != template.n_sn or not np.array_equal(
        np.asarray(model.prepared.observed_mask()), template.mask
    ):
        raise ConfigError(  # the epochs and bands chosen above avoid this
            "the model drops simulated observations: " + model.prepared.report(),
            field="design",
        )
    truth_x = model.sample_prior(jax.random.fold_in(key, 1), fixed=hyper)
    truth, flux = _truth_and_flux(model, truth_x)
    flux = np.asarray(flux, np.float64)
    m = template.mask
    names = np.asarray(template.band_names)[template.band]
    noisy, err = np.ones_like(flux), np.ones_like(flux)
    start = 0
    for part, design, rng in parts:
        rows = slice(start, start + part.n_sn)
        start += part.n_sn
        err[rows] = np.where(m[rows], design.flux_error(flux[rows], names[rows]), 1.0)
        noisy[rows] = flux[rows] + err[rows] * rng.standard_normal(flux[rows].shape)
    survey = dataclasses.replace(
        template,
        fluxcal=np.where(m, noisy, template.fluxcal),
        fluxcal_err=np.where(m, err, template.fluxcal_err),
    )
    return survey, {k: np.asarray(v) for k, v in truth.items()}


_truth_and_flux = jit_once(lambda model, x: (model.constrain(x), model.predict_fluxcal(x)))
