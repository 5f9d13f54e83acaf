"""A BayeSN SED as an ``sncosmo.Source``, so sncosmo's models, fitters and plots
(``sncosmo.Model``, ``sncosmo.plot_lc``, ``model.bandmag``) work with BayeSN spectra.

The rest-frame spectral flux density is the one the forward model integrates:

    F(λ, t) = H(λ, t) · 10^(-0.4 [M0 + distmod + W0 + θ W1 + ε + A_V ξ(λ; R_V)])

with H the Hsiao template (linear in phase between whole days, as BayeSN), the W and ε
surfaces splined over the model's knots, and ξ the host dust law. Between the model's
wavelength grid points the flux is interpolated linearly. sncosmo supplies the redshift
(and its 1/(1+z) on the flux density); Milky Way dust is an sncosmo propagation effect
(``sncosmo.F99Dust``).
"""

from __future__ import annotations

import numpy as np

from ._errors import ConfigError
from ._forward._flux import template_at

__all__ = ["bandpass"]  # and BayeSNSource, built on first use (module __getattr__)


def _sncosmo():
    try:
        import sncosmo
    except ImportError:  # pragma: no cover - sncosmo is an optional dependency
        raise ConfigError(
            "sncosmo is not installed: pip install 'sndust[sncosmo]'", field="sncosmo"
        ) from None
    return sncosmo


def bandpass(name: str, filters=None):
    """The sndust filter ``name`` as an ``sncosmo.Bandpass`` (same curve, same name)."""
    from ._filters import as_filter_bank

    f = as_filter_bank(filters)[name]
    return _sncosmo().Bandpass(f.wave, f.trans, name=name)


def _source_class():
    sncosmo = _sncosmo()

    class BayeSNSource(sncosmo.Source):
        """A BayeSN SED model (T21/W22/M20 or any :class:`sndust.BayeSNModel`) as an
        ``sncosmo.Source``, with parameters ``theta``, ``AV``, ``RV`` and ``distmod``.

        Args:
            sed: the model (default: T21).
            dust: host dust law (default Fitzpatrick99).
            e: standard-normal residual components (``sed.n_eps``; default zeros, the
                mean SED).
            name, version: sncosmo's source name and version.

        Example::

            source = sd.BayeSNSource()
            model = sncosmo.Model(source)
            model.set(z=0.03, t0=57000.0, theta=0.5, AV=0.2, RV=2.6, distmod=35.5)
            model.bandmag(sd.bandpass("g_PS1"), "ab", 57010.0)
        """

        _param_names = ["theta", "AV", "RV", "distmod"]
        param_names_latex = [r"\theta", "A_V", "R_V", r"\mu"]

        def __init__(self, sed=None, dust=None, e=None, name="bayesn", version=None):
            from ._dust import Fitzpatrick99
            from ._sed import BayeSNModel

            self.name, self.version = name, version
            sed = BayeSNModel.load("T21") if sed is None else sed
            dust = Fitzpatrick99() if dust is None else dust
            e = np.zeros(sed.n_eps) if e is None else np.asarray(e, np.float64)
            if e.shape != (sed.n_eps,):
                raise ConfigError(f"e must have shape ({sed.n_eps},), got {e.shape}", field="e")
            self._sed = sed
            self._grid = sed.rest_wave
            self._wave_basis = sed.wave_basis()
            self._eps = np.asarray(sed.eps_from_e(e))
            self._dust = dust
            self._dust_pre = dust.precompute(self._grid)
            rv = sed.R_V if sed.R_V is not None else sed.mu_R  # the trained value
            self._parameters = np.array([0.0, 0.0, float(rv if rv is not None else 3.1), 0.0])

        def minphase(self):
            return self._sed.phase_range[0]

        def maxphase(self):
            return self._sed.phase_range[1]

        def minwave(self):
            return float(self._grid[0])

        def maxwave(self):
            return float(self._grid[-1])

        def spectrum_on_grid(self, phase):
            """Flux density on the model's wavelength grid, ``(n_phase, n_wave)``."""
            theta, av, rv, distmod = self._parameters
            sed = self._sed
            phase = np.atleast_1d(np.asarray(phase, np.float64))
            surfaces = sed.W0 + theta * sed.W1 + self._eps  # (nl, nt)
            w = self._wave_basis @ surfaces @ sed.phase_basis(phase).T  # (n_wave, n_phase)
            dust = av * np.asarray(self._dust.curve_from(self._dust_pre, rv, np))  # (n_wave,)
            rows = np.arange(self._grid.size)[None, :]
            template = template_at(sed.hsiao_flux, sed.hsiao_phase[0], rows, phase[None], np)[0].T
            mag = w + dust[:, None] + sed.M0 + distmod
            return (template * 10 ** (-0.4 * mag)).T

        def _flux(self, phase, wave):
            grid = self.spectrum_on_grid(phase)
            wave = np.asarray(wave, np.float64)
            return np.stack([np.interp(wave, self._grid, row) for row in grid])

    return BayeSNSource


def __getattr__(name):
    if name == "BayeSNSource":  # built on first use: sncosmo is optional
        cls = _source_class()
        globals()["BayeSNSource"] = cls
        return cls
    raise AttributeError(name)
