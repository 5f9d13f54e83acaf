"""BayeSN's dust populations (Mandel+22, Thorp+21, Grayling+24) as subclasses.

Each is the model of the same name in bayesn 0.4.0 (its ``SEDmodel`` dust and fit models),
except that each SN here gets parameters only for the prior it uses: bayesn samples A_V and
R_V of *both* mass bins for every SN and lets a flag pick one, leaving half of them as
prior-only dimensions.

Half-Cauchy scales (σ0 ~ HalfCauchy(0.1), τ_A ~ HalfCauchy(1)) are BayeSN's ``c·tan(U(0,
π/2))`` priors; they are the same densities, sampled here on a log scale.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpyro.distributions as dist

from ._base import AbstractDustPopulation, DustPriors, HostData
from ._distributions import TruncatedNormal

__all__ = ["MassSplit", "MassSplitSED", "RedshiftLinear", "SinglePopulation"]

#: BayeSN's lower truncation of the R_V distribution.
RV_LOW = 1.2


def _dust_hyperpriors(suffix: str = "") -> dict:
    return {
        f"mu_R{suffix}": dist.Uniform(RV_LOW, 6.0),
        f"sigma_R{suffix}": dist.HalfNormal(2.0),
        f"tau_A{suffix}": dist.HalfCauchy(1.0),
    }


def rv_moments(h: dict, suffix: str = "", low: float = RV_LOW) -> dict:
    """Mean and sd of R_V's prior, Normal(μ_R, σ_R) truncated below at ``low`` (the
    population's "E[R_V]" and "√Var[R_V]", Grayling+24 App. C): ``RV_mean{suffix}``,
    ``RV_sd{suffix}``."""
    prior = TruncatedNormal(h[f"mu_R{suffix}"], h[f"sigma_R{suffix}"], low=low)
    return {f"RV_mean{suffix}": prior.mean, f"RV_sd{suffix}": jnp.sqrt(prior.variance)}


class SinglePopulation(AbstractDustPopulation):
    """One dust population for all SNe (bayesn ``dust_model``; Thorp+21, Grayling+24).

    A_V ~ Exp(1/τ_A), R_V ~ N(μ_R, σ_R²) truncated at 1.2; μ_R ~ U(1.2, 6),
    σ_R ~ HalfNormal(2), τ_A ~ HalfCauchy(1); global σ0 ~ HalfCauchy(0.1).
    """

    def hyperpriors(self):
        return _dust_hyperpriors()

    def derived(self, h):
        """E[R_V] and √Var[R_V] of the truncated normal (``RV_mean``, ``RV_sd``)."""
        return rv_moments(h)

    def dust_priors(self, h, host):
        return DustPriors(
            A_V=dist.Exponential(1.0 / h["tau_A"]),
            R_V=TruncatedNormal(h["mu_R"], h["sigma_R"], low=RV_LOW),
        )


class _MassBins(AbstractDustPopulation):
    """Shared machinery of the mass-split populations: two bins, high (``_HM``: log mass >
    ``split``) and low (``_LM``), each with its own μ_R, σ_R, τ_A and σ0."""

    split: eqx.AbstractVar[float]
    host_fields: ClassVar[tuple[str, ...]] = ("log_mass",)

    def _bins(self, with_sigma0=True):
        priors = {**_dust_hyperpriors("_HM"), **_dust_hyperpriors("_LM")}
        if with_sigma0:
            priors |= {"sigma0_HM": dist.HalfCauchy(0.1), "sigma0_LM": dist.HalfCauchy(0.1)}
        return priors

    def derived(self, h):
        """Each bin's E[R_V] and √Var[R_V] (``RV_mean_HM``, ``RV_sd_HM``, ``_LM``) and the
        bins' differences (high − low) ``Delta_mu_R``, ``Delta_tau_A``, ``Delta_sigma0``."""
        out = rv_moments(h, "_HM") | rv_moments(h, "_LM")
        for name in ("mu_R", "tau_A", "sigma0"):
            if f"{name}_HM" in h and f"{name}_LM" in h:
                out[f"Delta_{name}"] = h[f"{name}_HM"] - h[f"{name}_LM"]
        return out

    def _high(self, host: HostData):
        return host.log_mass > self.split

    def _pick(self, h, name, host):
        return jnp.where(self._high(host), h[f"{name}_HM"], h[f"{name}_LM"])

    def _dust(self, h, host, **extra):
        return DustPriors(
            A_V=dist.Exponential(1.0 / self._pick(h, "tau_A", host)),
            R_V=TruncatedNormal(
                self._pick(h, "mu_R", host), self._pick(h, "sigma_R", host), low=RV_LOW
            ),
            sigma0=self._pick(h, "sigma0", host),
            **extra,
        )


class MassSplit(_MassBins):
    """Dust and grey scatter split by host mass, plus a magnitude step (bayesn
    ``dust_model_split_mag``; Grayling+24). Each bin b ∈ {HM, LM}: μ_R,b, σ_R,b, τ_A,b,
    σ0,b as :class:`SinglePopulation`, and M_step,b ~ U(−0.2, 0.2) added to M0.

    Args:
        split: log10 stellar mass dividing the bins (bayesn hard-codes 10).
    """

    split: float = 10.0

    def hyperpriors(self):
        steps = {"M_step_HM": dist.Uniform(-0.2, 0.2), "M_step_LM": dist.Uniform(-0.2, 0.2)}
        return self._bins() | steps

    def derived(self, h):
        """As the other mass splits, and the mass step ΔM0 = M_step,HM − M_step,LM
        (``Delta_M0``)."""
        return super().derived(h) | {"Delta_M0": h["M_step_HM"] - h["M_step_LM"]}

    def dust_priors(self, h, host):
        return self._dust(h, host, delta_M=self._pick(h, "M_step", host))


class MassSplitSED(_MassBins):
    """Dust and grey scatter split by host mass, plus a per-bin offset ΔW0,b of the whole
    intrinsic SED surface, ΔW0,b ~ N(0, 0.1 I) (bayesn ``dust_model_split_sed``; Grayling+24).

    Args:
        split: log10 stellar mass dividing the bins (default 10).
        shape: ``(n_lknot, n_tknot)`` of the SED model's W0; filled in by
            :class:`sndust.HierarchicalModel`.
    """

    split: float = 10.0
    shape: tuple[int, int] | None = eqx.field(static=True, default=None)

    def bind(self, sed):
        return MassSplitSED(split=self.split, shape=tuple(int(n) for n in sed.W0.shape))

    def hyperpriors(self):
        if self.shape is None:
            from .._errors import ConfigError

            raise ConfigError(
                "MassSplitSED needs the SED surface shape: use it through "
                "HierarchicalModel, or pass shape=sed.W0.shape",
                field="shape",
            )
        offset = dist.Normal(jnp.zeros(self.shape), jnp.sqrt(0.1)).to_event(2)
        return self._bins() | {"delta_W0_HM": offset, "delta_W0_LM": offset}

    def dust_priors(self, h, host):
        high = self._high(host)[:, None, None]
        return self._dust(h, host, delta_W0=jnp.where(high, h["delta_W0_HM"], h["delta_W0_LM"]))


class RedshiftLinear(AbstractDustPopulation):
    """Dust population evolving linearly with redshift (bayesn ``dust_redshift_model``).

    μ_R(z) = μ_R,0 + z·g_R and τ_A(z) = τ_A + z·g_τ, with μ_R,0 ~ U(1.2, 6),
    g_R ~ U(1.2 − μ_R,0, 6 − μ_R,0) (so μ_R(1) stays in (1.2, 6)), g_τ ~ U(−0.5, 0.5),
    σ_R ~ HalfNormal(2), τ_A ~ HalfCauchy(1). ``z`` is the CMB-frame redshift.

    R_V is truncated at 1.2 at every redshift (the paper's definition). bayesn 0.4.0 instead
    computes the truncation point from μ_R,0 and then shifts the mean, so its R_V is
    truncated at 1.2 + z·g_R; ``truncation="bayesn"`` reproduces that for comparisons.
    SNe where τ_A(z) ≤ 0 have zero prior density (bayesn leaves this undefined).
    """

    truncation: str = eqx.field(static=True, default="paper")

    def __check_init__(self):
        if self.truncation not in ("paper", "bayesn"):
            from .._errors import ConfigError

            raise ConfigError(
                f"truncation must be 'paper' or 'bayesn', got {self.truncation!r}",
                field="truncation",
            )

    def hyperpriors(self):
        return {
            "mu_R": dist.Uniform(RV_LOW, 6.0),
            "sigma_R": dist.HalfNormal(2.0),
            "mu_R_grad": lambda h: dist.Uniform(RV_LOW - h["mu_R"], 6.0 - h["mu_R"]),
            "tau_A": dist.HalfCauchy(1.0),
            "tau_A_grad": dist.Uniform(-0.5, 0.5),
        }

    def derived(self, h):
        """E[R_V] and √Var[R_V] at z = 0 (``RV_mean_z0``, ``RV_sd_z0``) and the slopes
        under the paper's names, η_R = dμ_R/dz (``eta_R``) and η_τ = dτ_A/dz
        (``eta_tau``)."""
        moments = rv_moments(h)
        return {
            "RV_mean_z0": moments["RV_mean"],
            "RV_sd_z0": moments["RV_sd"],
            "eta_R": h["mu_R_grad"],
            "eta_tau": h["tau_A_grad"],
        }

    def dust_priors(self, h, host):
        mu_R = h["mu_R"] + host.z * h["mu_R_grad"]
        tau_A = h["tau_A"] + host.z * h["tau_A_grad"]
        low = RV_LOW if self.truncation == "paper" else RV_LOW + host.z * h["mu_R_grad"]
        return DustPriors(
            A_V=dist.Exponential(1.0 / tau_A),
            R_V=TruncatedNormal(mu_R, h["sigma_R"], low=low),
        )
