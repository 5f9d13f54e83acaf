"""The abstract SED model (private: :func:`sndust.prepare` needs BayeSN's W0/W1/L_Σ
spline structure, so :class:`sndust.BayeSNModel` is the one SED model users pass; a second
kind of SED model would first define here the hooks ``prepare`` calls)."""

from __future__ import annotations

import abc

import equinox as eqx
import numpy as np


class AbstractSEDModel(eqx.Module):
    """A spectral-energy-distribution model of SNe Ia on a fixed rest-frame grid.

    Concrete models expose the rest wavelength grid (Å), the phase range in which they are
    defined (rest-frame days), and the mean template on the grid; the per-SN latent
    parameters they accept are documented by each subclass.
    """

    @property
    @abc.abstractmethod
    def rest_wave(self) -> np.ndarray:
        """Rest-frame wavelength grid, Å, shape ``(n_wave,)``."""

    @property
    @abc.abstractmethod
    def phase_range(self) -> tuple[float, float]:
        """Rest-frame phases (days from B maximum) in which the model is defined."""
