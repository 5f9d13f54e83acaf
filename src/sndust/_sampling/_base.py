"""The sampler protocol: what every sampler gives the driver (``_driver.py``), which runs
it over chains and devices, in checkpointed batches, and turns its draws into a
:class:`sndust.Posterior`.

A run is a sequence of :class:`Stage` s: warm-up stages, in which the sampler adapts,
then one sampling stage. The driver runs every stage through one compiled program,
calling, per chain,

- ``init(logdensity, position, key, metric) -> Carry`` once, at the start of the run
  (``metric``: the starting inverse mass matrix, a :class:`~._metric.BlockMetric` shared by
  all chains; a diagonal sampler takes ``metric.diagonal()``);
- ``begin_stage(carry, pooled, use_pooled) -> Carry`` at the start of each warm-up stage
  (``pooled``: the array :meth:`pool` made from every chain's carry at the end of the
  previous stage, used where ``use_pooled``);
- ``step(logdensity, carry, key, index, control) -> (Carry, Stats)`` for each kernel
  step: ``key`` is the chain's key for the phase (warm-up or sampling) and ``index`` the
  step's number in it; the step's randomness is ``fold_in(key, index)`` (:func:`step_key`),
  so a run cut into batches, resumed or spread over devices draws the same numbers;
  ``control`` is the stage's runtime form (``Control``, defined by the driver beside
  ``REQUIRED_STATS``, the statistics it reads);
- ``extension() -> tuple[Stage, ...]`` (optional): warm-up stages appended, up to
  ``run(extend_warmup=)`` times, while the chains disagree at the end of warm-up;
- ``tuned(carry) -> dict`` at the end of warm-up (step size, inverse mass matrix, L, …);
- ``pool(carries) -> array | None`` between stages, on all chains' carries (NumPy).

Tuned quantities live in the carry as arrays, so tuning never recompiles; the stages'
settings reach :meth:`AbstractSampler.step` as arrays too, so warm-up and sampling are
one program. A new sampler is one file (a final subclass implementing these methods and
declaring its ``Stats``), its registration in ``sndust/_sampling/__init__.py`` and the
package's ``__init__``, and its tests.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array

from .._errors import ConfigError
from ._driver import REQUIRED_STATS, Control, run_sampler

__all__ = ["AbstractSampler", "Carry", "Control", "Stage", "REQUIRED_STATS", "step_key"]


class Stage(NamedTuple):
    """A stretch of a run with the same settings.

    Attributes:
        steps: kernel steps in the stage.
        adapting: the sampler adapts (warm-up) or not (sampling).
        pooled: the stage starts from the array :meth:`AbstractSampler.pool` makes of all
            chains' carries at its start.
        knob: a number the sampler reads at run time (:class:`Control`), e.g.
            AdjustedMCLMC's mean integration steps.
        settle: a warm-up stage that settles the values sampling will use rather than
            exploring (AdjustedMCLMC's last stage: a step size whose own acceptance meets
            the target, where dual averaging's explores).
    """

    steps: int
    adapting: bool = True
    pooled: bool = False
    knob: float = 0.0
    settle: bool = False


class Carry(NamedTuple):
    """One chain's state between kernel steps.

    Attributes:
        state: the BlackJAX chain state (``.position``, ``.logdensity`` are read by the
            driver: the draw, and the start check).
        adaptation: the sampler's tuning state and tuned values (its own NamedTuple).
    """

    state: Any
    adaptation: Any


#: the shortest warm-up the built-in samplers extend: an extension is half of it, and one
#: under 100 steps left a worse tuning than it replaced (benchmarks/README.md)
MIN_EXTENDED_WARMUP = 200


def step_key(key, index):
    """The randomness of kernel step ``index`` of a phase whose chain key is ``key``."""
    return jax.random.fold_in(key, index)


class AbstractSampler(eqx.Module):
    """Base class of the samplers (the protocol is in the module docstring); see
    :meth:`run` for the interface they share.

    Subclasses declare ``name``, ``Stats`` (a NamedTuple with at least
    :data:`REQUIRED_STATS`) and ``needs_float64`` (True where the kernel mixes float64
    constants into a float32 chain state while ``jax_enable_x64`` is on).
    """

    num_warmup: eqx.AbstractVar[int]
    num_samples: eqx.AbstractVar[int]
    thin: eqx.AbstractVar[int]

    name: eqx.AbstractClassVar[str]
    Stats: eqx.AbstractClassVar[type]
    needs_float64: ClassVar[bool] = False

    def __check_init__(self):
        for field in ("num_warmup", "num_samples", "thin"):
            value = getattr(self, field)
            low = 0 if field == "num_warmup" else 1
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
                raise ConfigError(f"must be an integer ≥ {low}, got {value!r}", field=field)

    def config(self) -> dict:
        """The sampler's settings (what a checkpoint must match to be resumed)."""
        return {"sampler": self.name} | {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self)
        }

    def sampling(self, knob: float = 0.0) -> Stage:
        """The sampling stage: ``num_samples × thin`` kernel steps, not adapting."""
        return Stage(self.num_samples * self.thin, adapting=False, knob=knob)

    @abc.abstractmethod
    def init(self, logdensity, position, key, metric) -> Carry:
        """One chain's carry at ``position`` before warm-up."""

    @abc.abstractmethod
    def stages(self) -> tuple[Stage, ...]:
        """The run: warm-up stages (``adapting``), then :meth:`sampling`."""

    def extension(self) -> tuple[Stage, ...]:
        """Warm-up stages run once more when the chains still disagree at the end of
        warm-up (R-hat of their log densities or hyperparameters over the last half of
        the segment above ``WARMUP_RHAT_MAX``; see ``run(extend_warmup=)``); ``()``, the
        default, never extends. The built-ins extend no warm-up shorter than
        :data:`MIN_EXTENDED_WARMUP`. Their ``step`` indices continue the warm-up's, and
        ``control.start`` is where each stage began."""
        return ()

    @abc.abstractmethod
    def begin_stage(self, carry: Carry, pooled, use_pooled) -> Carry:
        """The carry at the start of a warm-up stage (``pooled``: see :meth:`pool`)."""

    @abc.abstractmethod
    def step(self, logdensity, carry: Carry, key, index, control: Control) -> tuple[Carry, Any]:
        """Kernel step ``index`` of the phase (randomness: :func:`step_key`)."""

    @abc.abstractmethod
    def tuned(self, carry: Carry) -> dict[str, Array]:
        """The tuned parameters of one chain's carry (recorded in the posterior)."""

    @abc.abstractmethod
    def pool(self, carries: Carry) -> np.ndarray | None:
        """An array made from every chain's carry (leading axis: chains) for the next
        stage, or None."""

    def run(self, model, key, **kwargs):
        """Sample a :class:`sndust.HierarchicalModel`.

        Args:
            model: the model (any population, hierarchical or per-SN fit).
            key: a JAX PRNG key; the same key gives the same draws (on CPU, bit for bit,
                whatever the number of devices, batches or interruptions).
            chains: number of chains (default 4), vmapped and spread over devices.
            init: ``"per_sn"`` (default: per-SN fits, then the population fitted to
                them — an estimate of the hyperparameters' marginal posterior, see
                ``sndust/_sampling/_population_start.py`` — and each chain from its own
                draw of the hyperparameters from that estimate, the SNe fitted there;
                the run samples R_V in the informed coordinates the fits measure,
                ``HierarchicalModel.with_anchors``),
                ``"map"`` (the best of ``map_starts`` short joint MAP runs from random
                points; the joint mode puts σ0 and σ_R far from their posteriors),
                ``"prior"`` (each chain from its own prior draw), or an array of
                unconstrained starts, ``(dim,)`` (jittered per chain) or
                ``(chains, dim)``; None with ``resume``: the starts the checkpoint holds,
                whatever made them.
            map_starts: random starts of the MAP for ``init="map"``, and of each SN's
                first fit for ``"per_sn"`` (default 4; the posterior of a hierarchical
                survey can have minor local maxima, and one start may end in one).
            jitter: standard deviation of the per-chain jitter around a single start
                (``"map"`` or one given point), in Laplace standard deviations (default
                0.5).
            precondition: ``"metric"`` (default): model coordinates, the Laplace
                approximation at the start as the starting metric (its variances; its
                per-SN blocks for ``NUTS(mass="block")``); ``True``: sample in
                Laplace-whitened coordinates built at the start (see
                ``sndust/_sampling/_precondition.py``); ``False``: model coordinates,
                unit starting metric.
            checkpoint: an HDF5 path written atomically after every batch.
            resume: continue the run in ``checkpoint`` (``True``) or in the given path;
                warm-up is not repeated, and the draws equal those of an uninterrupted
                run.
            batch: steps per batch (checkpoint and progress cadence; default 100).
            progress: show a progress bar (default True; False for scripts).
            devices: ``"chains"`` (default: chains spread over all local devices),
                ``"sn"`` (the survey's SN axis sharded over devices, for surveys too
                large for one), or an explicit list of devices for the chains.
            chain_method: ``"auto"`` (sequential on CPU, vectorized on accelerators),
                ``"vectorized"`` (vmap) or ``"sequential"`` chains within a device.
            extend_warmup: at most this many extensions of warm-up (default 0: none)
                while the chains disagree at its end (split R-hat of their log
                densities or hyperparameters over the second half of the last warm-up
                segment above 1.1: a chain stuck apart, or still on its way); each
                extension is the sampler's :meth:`extension`, and is recorded in the
                checkpoint and the posterior (``warmup_extensions``). Off by default:
                on a 4-SN survey whose chains mix slowly it did not improve the
                sampled chains (benchmarks/README.md, "Extending a warm-up").

        Returns:
            a :class:`sndust.Posterior` (an ArviZ 1.x :class:`xarray.DataTree` inside).
        """
        return run_sampler(self, model, key, **kwargs)
