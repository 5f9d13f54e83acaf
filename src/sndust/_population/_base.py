"""The extension point: a :class:`AbstractDustPopulation` says how dust (and anything else
that varies between host galaxies) is distributed over a sample of SNe Ia.

A population declares

* ``hyperpriors()`` — the population-level parameters and their priors, and
* ``dust_priors(h, host)`` — per-SN priors for A_V and R_V (optionally a magnitude offset
  δM0, an SED offset ΔW0 and the grey scatter σ0) as functions of the hyperparameters
  ``h`` and of host data (``host.log_mass``, ``host.z``, any numeric survey header field).

It does not say *how* to sample: :class:`sndust.HierarchicalModel` picks the
parameterisation from the distribution types (non-centred exponential A_V, inverse-CDF
truncated-normal R_V, non-centred distance and ε), so a short subclass samples as well as
a built-in.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .._custom_types import PerSN

__all__ = ["AbstractDustPopulation", "DustPopulation", "DustPriors", "HostData"]

#: A per-SN prior: a NumPyro distribution (batch shape () or (n_sn,)) or fixed values.
Prior = dist.Distribution | Float[ArrayLike, "..."]


class HostData(eqx.Module):
    """Per-SN host and redshift data a population may depend on (arrays of shape ``(n_sn,)``).

    Attributes:
        log_mass: log10 host stellar mass (NaN where the survey has none).
        z: CMB-frame (Hubble-flow) redshift.
        z_hel: heliocentric redshift.
        columns: every numeric header field present for all SNe (e.g. ``HOSTGAL_SFR``),
            by its survey name.
        survey: each SN's survey as an index into ``surveys`` (int, ``(n_sn,)``); use
            :meth:`in_survey` or :meth:`by_survey`.
        surveys: the survey names of the SNe (``Survey.survey_name``: the files'
            ``SURVEY``, or the names given to :meth:`sndust.Survey.concat`), in order
            of first appearance.
    """

    log_mass: PerSN
    z: PerSN
    z_hel: PerSN
    columns: dict[str, PerSN]
    survey: Int[Array, " n_sn"] | None = None
    surveys: tuple[str, ...] = eqx.field(static=True, default=())

    def in_survey(self, name: str) -> Bool[Array, " n_sn"]:
        """Which SNe belong to survey ``name`` (a ConfigError naming the surveys there
        are if none is called so)."""
        return self.survey == self._survey_index(name)

    def by_survey(self, values: dict[str, Any]) -> Array:
        """Per-SN values chosen by survey: ``values`` maps each survey name to a value
        (a hyperparameter, a number); every survey of the SNe must be named, e.g.
        ``host.by_survey({"FOUNDATION": h["tau_A_F"], "DES": h["tau_A_D"]})``."""
        missing = [name for name in self.surveys if name not in values]
        for name in values:
            self._survey_index(name)
        if missing:
            from .._errors import ConfigError

            raise ConfigError(
                f"no value for the SNe of survey(s) {', '.join(map(repr, missing))}",
                field="survey",
            )
        table = jnp.stack([jnp.asarray(values[name]) for name in self.surveys])
        return table[self.survey]

    def _survey_index(self, name: str) -> int:
        if name not in self.surveys:
            from .._errors import ConfigError

            there = ", ".join(map(repr, self.surveys)) or "none (no SURVEY in the files)"
            raise ConfigError(f"no survey {name!r}; the SNe's surveys: {there}", field="survey")
        return self.surveys.index(name)

    def __getitem__(self, name: str) -> PerSN:
        if name in ("log_mass", "z", "z_hel"):
            return getattr(self, name)
        try:
            return self.columns[name]
        except KeyError:
            from .._errors import ConfigError

            raise ConfigError(
                f"no host column {name!r}; available: log_mass, z, z_hel, "
                + ", ".join(sorted(self.columns)),
                field=name,
            ) from None

    @classmethod
    def from_prepared(cls, prepared) -> HostData:
        """Host data of the SNe of a :class:`sndust.PreparedSurvey`, in its order."""
        dtype = prepared.z_cmb.dtype
        meta = [prepared.info.survey.meta[i] for i in np.asarray(prepared.info.survey_index)]
        columns = {}
        for key in sorted(set.intersection(*(set(m) for m in meta)) if meta else ()):
            try:
                values = np.array([float(m[key]) for m in meta])
            except (TypeError, ValueError):
                continue
            columns[key] = jnp.asarray(values, dtype)
        names = [
            prepared.info.survey.survey_name[i] for i in np.asarray(prepared.info.survey_index)
        ]
        surveys = tuple(dict.fromkeys(names))
        return cls(
            log_mass=prepared.log_mass,
            z=prepared.z_cmb,
            z_hel=prepared.z_hel,
            columns=columns,
            survey=jnp.asarray([surveys.index(n) for n in names], jnp.int32),
            surveys=surveys,
        )


class DustPriors(eqx.Module):
    """Per-SN priors returned by :meth:`AbstractDustPopulation.dust_priors`.

    Attributes:
        A_V: host-galaxy V-band extinction prior (mag) — usually
            ``numpyro.distributions.Exponential(1 / tau_A)``; or fixed values.
        R_V: host R_V prior — usually :class:`sndust.TruncatedNormal` with ``low=1.2``;
            or fixed values (a global R_V).
        delta_M: intrinsic magnitude offset δM0 added to M0 (e.g. a mass step), per SN.
        delta_W0: offset to the intrinsic SED surface W0, ``(n_sn, n_lknot, n_tknot)`` or
            one surface for all (BayeSN's mass-split SED model).
        sigma0: per-SN grey residual scatter σ0. ``None`` (default) means one global σ0
            with BayeSN's HalfCauchy(0.1) prior, added by the framework unless the
            population's hyperpriors name a ``"sigma0"`` of their own.
    """

    A_V: Any
    R_V: Any
    delta_M: Any = 0.0
    delta_W0: Any = None
    sigma0: Any = None


class AbstractDustPopulation(eqx.Module):
    """Base class of every dust population (see module docstring).

    Subclass it and implement :meth:`hyperpriors` and :meth:`dust_priors`. Hyperparameter
    values arrive as a dict of JAX scalars (or arrays, for vector hyperparameters); all
    per-SN arithmetic is vectorised over SNe.

    Class attributes a subclass may set:
        host_fields: host fields that must be finite for every SN (``("log_mass",)`` for
            mass splits); missing values are reported by SN name before any fitting.
        distance_prior: ``"hubble"`` (default; D_s ~ N(μ̂(z), √(σ_μ̂² + σ0²)), BayeSN's
            hierarchical models) or ``"free"`` (D_s ~ N(μ̂, √(5² + σ0²)), BayeSN's fits).
        free_tmax: sample each SN's time of maximum, U(−10, 10) rest-frame days.
    """

    host_fields: ClassVar[tuple[str, ...]] = ()
    distance_prior: ClassVar[str] = "hubble"
    free_tmax: ClassVar[bool] = False

    @abc.abstractmethod
    def hyperpriors(self) -> dict[str, Any]:
        """Population-level priors, by name, in sampling order.

        Values are NumPyro distributions, or callables ``h -> distribution`` for a prior
        that depends on hyperparameters listed before it.
        """

    def derived(self, h: dict[str, Array]) -> dict[str, Array]:
        """Quantities of the hyperparameters ``h`` (scalars, by name) that summaries show
        beside them, e.g. the mean and sd of R_V's truncated normal, or a step between
        mass bins; evaluated for every posterior draw (``posterior[name]``) and shown by
        :meth:`sndust.Posterior.summary`, ``sndust summarize`` and the fit's printout.
        Default: none. A subclass declares its own (extending ``super().derived(h)``);
        names must differ from the hyperparameters'."""
        return {}

    @abc.abstractmethod
    def dust_priors(self, h: dict[str, Array], host: HostData) -> DustPriors:
        """Per-SN priors given hyperparameters ``h`` and host data (vectorised over SNe)."""

    def bind(self, sed) -> AbstractDustPopulation:
        """Called once by :class:`sndust.HierarchicalModel` with the SED model. Populations
        that need its trained values or shapes return a completed copy; most return self."""
        return self


DustPopulation = AbstractDustPopulation
