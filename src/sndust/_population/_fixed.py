"""Per-SN fitting as a population: BayeSN's fit mode (bayesn ``fit_model_globalRV`` and
``fit_model_popRV``) with every population parameter fixed at the SED model's trained
values, so SNe are independent and a survey is many small problems in one call."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import numpyro.distributions as dist

from .._errors import ConfigError
from ._base import AbstractDustPopulation, DustPriors
from ._builtin import RV_LOW
from ._distributions import TruncatedNormal

__all__ = ["FixedPopulation"]


class FixedPopulation(AbstractDustPopulation):
    """Fit each SN on its own with the trained population held fixed (BayeSN's fit mode).

    Per SN: θ ~ N(0, 1), A_V ~ Exp(1/τ_A), ε ~ N(0, L_Σ L_Σᵀ), time of maximum
    t_max ~ U(−10, 10) rest-frame days (unless ``free_tmax=False``), and
    D = μ + δM ~ N(μ̂, √(5² + σ0²)) — a near-flat distance prior; :meth:`sndust.
    HierarchicalModel.distances` then separates μ and δM as BayeSN does.

    Args:
        R_V: ``"global"`` (the model's trained R_V), ``"population"`` (R_V per SN from
            the trained truncated normal N(μ_R, σ_R) on (1.2, ∞)), or ``"auto"`` (the
            default: ``"global"`` for models trained with one R_V — T21, W22, M20 — and
            ``"population"`` for population-R_V models such as G25_85day, which have
            ``R_V = None`` and ``mu_R``/``sigma_R`` instead).
        free_tmax: fit each SN's time of maximum (default True, like bayesn).
        tau_A, sigma0, R_V_value, mu_R, sigma_R: override the trained values.
    """

    R_V: str = eqx.field(static=True, default="auto")
    free_tmax: bool = eqx.field(static=True, default=True)
    tau_A: float | None = None
    sigma0: float | None = None
    R_V_value: float | None = None
    mu_R: float | None = None
    sigma_R: float | None = None
    distance_prior: ClassVar[str] = "free"

    def __check_init__(self):
        if self.R_V not in ("global", "population", "auto"):
            raise ConfigError(
                f"R_V must be 'global', 'population' or 'auto', got {self.R_V!r}", field="R_V"
            )
        for name in ("tau_A", "sigma0", "R_V_value", "sigma_R"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be positive, got {value}", field=name)

    def bind(self, sed):
        def pick(value, name):
            if value is not None:
                return float(value)
            trained = getattr(sed, name, None)
            if trained is None:
                return None
            return float(trained)

        mode = self.R_V
        if mode == "auto":  # the model's own kind of R_V (an explicit R_V_value: global)
            trained_global = getattr(sed, "R_V", None) is not None
            mode = "global" if trained_global or self.R_V_value is not None else "population"
        bound = FixedPopulation(
            R_V=mode,
            free_tmax=self.free_tmax,
            tau_A=pick(self.tau_A, "tau_A"),
            sigma0=pick(self.sigma0, "sigma0"),
            R_V_value=pick(self.R_V_value, "R_V"),
            mu_R=pick(self.mu_R, "mu_R"),
            sigma_R=pick(self.sigma_R, "sigma_R"),
        )
        needed = ["tau_A", "sigma0"] + (["R_V_value"] if mode == "global" else ["mu_R", "sigma_R"])
        missing = [n for n in needed if getattr(bound, n) is None]
        if missing:
            raise ConfigError(
                f"the SED model has no trained {', '.join(missing)}; pass them to "
                "FixedPopulation(...)",
                field=missing[0],
            )
        return bound

    def hyperpriors(self):
        return {}

    def dust_priors(self, h, host):
        if self.R_V == "global":
            R_V = self.R_V_value
        else:
            R_V = TruncatedNormal(self.mu_R, self.sigma_R, low=RV_LOW)
        return DustPriors(A_V=dist.Exponential(1.0 / self.tau_A), R_V=R_V, sigma0=self.sigma0)
