"""Sampler classes: thin Equinox shells over BlackJAX kernels.

Every sampler exposes the same per-chain pieces, which :mod:`._run` vmaps over chains,
shards over devices, runs in checkpointed batches and turns into a :class:`Posterior`:

- ``warmup_init(logdensity, position, key, metric) -> carry`` (``metric``: the starting
  inverse mass matrix as a :class:`~._metric.BlockMetric`, shared by all chains; diagonal
  samplers take its diagonal; ``carry[0]`` is the BlackJAX chain state, whose
  ``logdensity`` is how the driver checks each chain's start)
- ``staged`` samplers (NUTS, AdjustedMCLMC) run warm-up and sampling through one
  compiled program, batch by batch (checkpointable after every batch): ``advance`` (one
  kernel step, adapting or not), ``stages`` (the warm-up's stages; between stages the
  driver may pool statistics over all chains: ``begin_stage``, ``pool``) and ``tuned``
  (the tuned parameters); see :meth:`AbstractSampler.advance`;
- the others (MCLMC) tune in one call, ``tune(logdensity, carry, key) -> (state,
  params)``, then sample with ``step(logdensity, state, params, key) -> (state, stats)``;
- tuned parameters (step size, inverse mass matrix, L) are runtime arrays, so tuning
  never recompiles the sampling loop; the per-draw statistics are named in
  ``stat_names`` (``lp`` always);
- ``needs_float64``: refuses float32 models while ``jax_enable_x64`` is on (BlackJAX's
  MCLMC pieces mix float64 constants into the chain state).
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError
from ._metric import BlockMetric, BlockWelford, blackjax

__all__ = ["AbstractSampler", "NUTS", "MCLMC", "AdjustedMCLMC", "warmup_schedule"]


class AbstractSampler(eqx.Module):
    """Base class of the samplers; see :meth:`run` for the interface they share."""

    num_warmup: eqx.AbstractVar[int]
    num_samples: eqx.AbstractVar[int]
    thin: eqx.AbstractVar[int]

    name: ClassVar[str]
    staged: ClassVar[bool] = False
    needs_float64: ClassVar[bool] = False
    stat_names: ClassVar[tuple[str, ...]]

    def __check_init__(self):
        for field in ("num_warmup", "num_samples", "thin"):
            value = getattr(self, field)
            low = 0 if field == "num_warmup" else 1
            if not isinstance(value, int | np.integer) or value < low:
                raise ConfigError(f"must be an integer ≥ {low}, got {value!r}", field=field)

    def config(self) -> dict:
        """The sampler's settings (what a checkpoint must match to be resumed)."""
        return {"sampler": self.name} | {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self)
        }

    @abc.abstractmethod
    def warmup_init(self, logdensity, position, key, metric): ...

    def tune(self, logdensity, carry, key):
        raise NotImplementedError

    def advance(self, logdensity, carry, key, index, adapting, avg):
        """For ``staged`` samplers: kernel step ``index`` (counted from the start of the
        phase) of one chain, adapting (warm-up) or not (sampling), ``(carry, stats)``.
        The warm-up and the sampling batches call this one function, so the kernel is
        compiled once per run. ``begin_stage(carry, pooled, use_pooled)`` starts a
        warm-up stage, ``pool(carry)`` pools the moments that all chains' carry keeps
        (NumPy, between batches), ``tuned(carry)`` gives the tuned parameters,
        ``stages()`` lists the warm-up stages (``steps``, ``avg``, ``pooled``) and
        ``sampling_stage()`` the sampling's ``avg``."""
        raise NotImplementedError

    def step(self, logdensity, state, params, key):
        """One sampling step with the tuned ``params`` (samplers that are not
        ``staged``)."""
        raise NotImplementedError

    def begin_stage(self, carry, pooled, use_pooled):
        """A ``staged`` sampler's carry at the start of a warm-up stage (default: as is)."""
        return carry

    @staticmethod
    def pool(carry) -> np.ndarray | None:
        """A metric pooled over all chains' ``carry`` for the next stage (default: none)."""
        return None

    def sampling_stage(self) -> dict:
        """The sampling phase's runtime switches for :meth:`advance` (default: ``avg``
        unused)."""
        return {"avg": 0.0}

    def run(self, model, key, **kwargs):
        """Sample a :class:`sndust.HierarchicalModel`.

        Args:
            model: the model (any population, hierarchical or per-SN fit).
            key: a JAX PRNG key; the same key gives the same draws (on CPU, bit for bit,
                whatever the number of devices, batches or interruptions).
            chains: number of chains (default 4), vmapped and spread over devices.
            init: ``"map"`` (default: the best of ``map_starts`` short MAP runs from
                random points, then ``jitter`` per chain),
                ``"prior"`` (each chain from its own prior draw), or an array of
                unconstrained starts, ``(dim,)`` (jittered per chain) or
                ``(chains, dim)``.
            map_starts: MAP runs for ``init="map"`` (default 4; the posterior of a
                hierarchical survey can have minor local maxima, and one start may end
                in one).
            jitter: standard deviation of the per-chain jitter around a single start,
                in Laplace standard deviations (default 0.5).
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

        Returns:
            a :class:`sndust.Posterior` (ArviZ InferenceData inside).
        """
        from ._run import run_sampler

        return run_sampler(self, model, key, **kwargs)


def _widest_float():
    return jax.dtypes.canonicalize_dtype(jnp.float64)


# ---------------------------------------------------------------------------- NUTS
def warmup_schedule(num_steps: int, initial: int = 75, first_window: int = 25, final: int = 50):
    """Stan's warm-up windows as an ``(num_steps, 2)`` int array of (slow, window_end).

    A fast stretch adapting only the step size, then slow windows (mass matrix and step
    size) doubling in length, the last one stretched to fill, then a final fast stretch.
    Short warm-ups scale the three parts to 15% / 75% / 10%.
    """
    out = np.zeros((num_steps, 2), np.int32)
    if num_steps < 20:
        return out
    if initial + first_window + final > num_steps:
        initial, final = int(0.15 * num_steps), int(0.1 * num_steps)
        first_window = num_steps - initial - final
    end_slow = num_steps - final
    start, size = initial, first_window
    while start < end_slow:
        if end_slow - (start + size) < 2 * size:  # the next window would not fit: stretch
            size = end_slow - start
        out[start : start + size, 0] = 1
        out[start + size - 1, 1] = 1
        start, size = start + size, 2 * size
    return out


class NUTS(AbstractSampler):
    """No-U-Turn sampler (BlackJAX) with Stan's windowed warm-up per chain.

    Args:
        num_warmup: warm-up steps (step size by dual averaging; mass matrix from the
            slow windows, see :func:`warmup_schedule`).
        num_samples: draws kept per chain.
        thin: kernel steps per kept draw.
        mass: ``"diag"`` (default), ``"dense"`` or ``"block"`` (a dense block per SN
            and a diagonal for the hyperparameters, see :mod:`sndust._sampling._metric`)
            inverse mass matrix.
        target_accept: dual-averaging target acceptance rate (default 0.9: on a
            simulated 30-SN survey, one chain of four at 0.8 stuck in a high-curvature
            corner with 96% divergences; 0.9 and 0.95 sampled it cleanly, at ~1.2× and
            ~1.4× the cost, see benchmarks/README.md).
        max_tree_depth: maximum number of trajectory doublings.
        initial_step_size: step size at the start of warm-up.
    """

    num_warmup: int = 1000
    num_samples: int = 1000
    thin: int = 1
    mass: str = "diag"
    target_accept: float = 0.9
    max_tree_depth: int = 10
    initial_step_size: float = 0.1

    name: ClassVar[str] = "NUTS"
    staged: ClassVar[bool] = True
    stat_names: ClassVar[tuple[str, ...]] = (
        "lp",
        "diverging",
        "acceptance_rate",
        "n_steps",
        "tree_depth",
        "energy",
        "step_size",
    )

    def __check_init__(self):
        if self.mass not in ("block", "diag", "dense"):
            raise ConfigError(
                f"mass must be 'block', 'diag' or 'dense', got {self.mass!r}", field="mass"
            )
        if not 0 < self.target_accept < 1:
            raise ConfigError("target_accept must be in (0, 1)", field="target_accept")

    def _adaptation(self):
        return blackjax().adaptation.step_size.dual_averaging_adaptation(self.target_accept)

    def _welford(self):
        """BlackJAX's diagonal or dense mass-matrix adaptation (init, update, final)."""
        return blackjax().adaptation.mass_matrix.mass_matrix_adaptation(self.mass == "diag")

    def _mass_init(self, position, metric: BlockMetric):
        """(Welford state, inverse mass matrix) at the start of warm-up."""
        if self.mass == "block":
            return BlockWelford.empty(metric), metric
        mm_init, _, _ = self._welford()
        diag = metric.diagonal()
        mm = mm_init(position.shape[-1], diag if self.mass == "diag" else jnp.diag(diag))
        return mm, mm.inverse_mass_matrix

    def _mass_update(self, mm, imm, position):
        if self.mass == "block":
            return mm.update(imm, position)
        return self._welford()[1](mm, position)

    def _mass_final(self, mm, imm):
        """The window's estimate, and a fresh accumulator for the next window."""
        if self.mass == "block":
            new = mm.metric(imm)
            return BlockWelford.empty(new), new
        mm = self._welford()[2](mm)  # (BlackJAX's regularisation promotes to the widest float)
        new = mm.inverse_mass_matrix.astype(imm.dtype)
        return mm._replace(inverse_mass_matrix=new), new

    def _step(self, key, state, logdensity, step_size, imm):
        metric = imm.as_blackjax() if isinstance(imm, BlockMetric) else imm
        return blackjax().nuts.build_kernel()(
            key, state, logdensity, step_size, metric, max_num_doublings=self.max_tree_depth
        )

    def warmup_init(self, logdensity, position, key, metric):
        da_init, _, _ = self._adaptation()
        state = blackjax().nuts.init(position, logdensity)
        mm, imm = self._mass_init(position, metric)
        # dual averaging in JAX's widest float whatever the model's dtype (its state
        # mixes Python floats); the step size is cast to the position's dtype when used
        da = da_init(jnp.asarray(self.initial_step_size, _widest_float()))
        return state, da, mm, imm

    def stages(self) -> list[dict]:
        """Stan's windows (:func:`warmup_schedule`) run inside one stage: they close
        step by step in :meth:`advance`, with nothing pooled between chains."""
        if self.num_warmup == 0:
            return []
        return [{"steps": self.num_warmup, "avg": 0.0, "pooled": False}]

    def advance(self, logdensity, carry, key, index, adapting, avg):
        """One NUTS transition, warm-up step ``index`` while ``adapting`` (dual averaging
        and the windows' mass-matrix estimates updated, see :func:`warmup_schedule`),
        otherwise at the tuned step size (dual averaging's average) and metric."""
        da_init, da_update, da_final = self._adaptation()
        state, da, mm, imm = carry
        log_step = jnp.where(adapting, da.log_step_size, da.log_step_size_avg)
        step_size = jnp.exp(log_step).astype(state.position.dtype)
        state, info = self._step(key, state, logdensity, step_size, imm)

        def adapt(args):
            da, mm, imm = args
            # (one row at least: traced, never run, without warm-up)
            schedule = jnp.asarray(warmup_schedule(max(self.num_warmup, 1)))
            slow, window_end = schedule[index, 0] == 1, schedule[index, 1] == 1
            da = da_update(da, info.acceptance_rate)
            mm = jax.lax.cond(
                slow, lambda m: self._mass_update(m, imm, state.position), lambda m: m, mm
            )

            def close_window(args):
                da, mm, imm = args
                mm, imm = self._mass_final(mm, imm)
                return da_init(da_final(da)), mm, imm

            return jax.lax.cond(window_end, close_window, lambda a: a, (da, mm, imm))

        da, mm, imm = jax.lax.cond(adapting, adapt, lambda a: a, (da, mm, imm))
        return (state, da, mm, imm), {
            "lp": state.logdensity,
            "diverging": info.is_divergent,
            "acceptance_rate": info.acceptance_rate,
            "n_steps": info.num_integration_steps,
            "tree_depth": info.num_trajectory_expansions,
            "energy": info.energy,
            "step_size": step_size,
        }

    def tuned(self, carry):
        """The tuned step size (dual averaging's average) and inverse mass matrix."""
        state, da, _, imm = carry
        step_size = jnp.exp(da.log_step_size_avg).astype(state.position.dtype)
        return {"step_size": step_size, "inverse_mass_matrix": imm}


# ---------------------------------------------------------------------------- MCLMC
def _tuned(state, params):
    """The chain state and BlackJAX's tuned MCLMC parameters as runtime arrays."""
    dim = state.position.shape[-1]
    imm = jnp.broadcast_to(jnp.asarray(params.inverse_mass_matrix), (dim,))
    return state, {"L": params.L, "step_size": params.step_size, "inverse_mass_matrix": imm}


def _isokinetic_mclachlan(logdensity_fn, inverse_mass_matrix=1.0):
    """BlackJAX's isokinetic McLachlan step (momentum B(b₁ε) A(ε/2) B(b₂ε) A(ε/2) B(b₁ε),
    b₂ = 1 − 2b₁) with its two position-and-gradient stages as a two-iteration loop, so
    the compiled kernel holds one copy of the model's gradient instead of two.

    Same arithmetic as ``blackjax.mcmc.integrators.isokinetic_mclachlan`` (trajectories
    agree to ~10⁻¹² on the 5-SN benchmark model); the kernel programs of a 5-SN run
    compile in about 30% less time (benchmarks/README.md).
    """
    integrators = blackjax().mcmc.integrators
    momentum_update = integrators.esh_dynamics_momentum_update_one_step(inverse_mass_matrix)
    position_update = integrators.euclidean_position_update_fn(logdensity_fn)
    b1, a1, b2 = integrators.mclachlan_coefficients[:3]

    def one_step(state, step_size):
        dtype = jnp.result_type(state.logdensity)

        def stage(carry, b):
            position, momentum, _, grad, kinetic = carry
            momentum, velocity, kinetic = momentum_update(momentum, grad, step_size, b, kinetic)
            position, logdensity, grad, _ = position_update(position, velocity, step_size, a1)
            return (position, momentum, logdensity, grad, kinetic), None

        carry = (*state, jnp.zeros((), dtype))
        carry, _ = jax.lax.scan(stage, carry, jnp.asarray([b1, b2], dtype))
        position, momentum, logdensity, grad, kinetic = carry
        momentum, _, kinetic = momentum_update(momentum, grad, step_size, b1, kinetic)
        return integrators.IntegratorState(position, momentum, logdensity, grad), kinetic

    return one_step


def _initial_params(metric, step_fraction):
    """BlackJAX's default starting L and step size (√d, fraction·√d, in preconditioned
    units), with the starting metric's diagonal as the starting preconditioner."""
    dim = metric.shape[-1]
    root = jnp.sqrt(jnp.asarray(dim, metric.dtype))
    state = blackjax().adaptation.mclmc_adaptation.MCLMCAdaptationState
    return state(root, step_fraction * root, inverse_mass_matrix=metric)


class MCLMC(AbstractSampler):
    """Microcanonical Langevin Monte Carlo (BlackJAX; Robnik+23), unadjusted.

    Warm-up is BlackJAX's ``mclmc_find_L_and_step_size``: step size from the energy
    error, diagonal preconditioning, then L from the chain's autocorrelation; the three
    stages take 40/40/20% of ``num_warmup`` steps. Unadjusted: the bias is set by
    ``desired_energy_var`` (energy-error variance per dimension).

    Not for hierarchical surveys: on a simulated 30-SN ``SinglePopulation`` survey its
    tuner leaves R-hat 1.25 (μ_R); given AdjustedMCLMC's pooled metric, the step that
    mixes (R-hat ≤ 1.01) halves σ_R's posterior mean and cuts its sd by 40%, every R-hat fine
    (benchmarks/README.md). Use :class:`AdjustedMCLMC` (exact, faster) or :class:`NUTS`.

    Args:
        num_warmup: tuning steps.
        num_samples: draws kept per chain.
        thin: integrator steps per kept draw.
        diagonal_preconditioning: tune a diagonal preconditioner.
        desired_energy_var: target energy-error variance per dimension.
    """

    num_warmup: int = 2000
    num_samples: int = 2000
    thin: int = 1
    diagonal_preconditioning: bool = True
    desired_energy_var: float = 5e-4

    name: ClassVar[str] = "MCLMC"
    needs_float64: ClassVar[bool] = True
    stat_names: ClassVar[tuple[str, ...]] = (
        "lp",
        "diverging",
        "energy_change",
        "n_steps",
        "step_size",
        "L",
    )

    def _kernel(self):
        return blackjax().mcmc.mclmc.build_kernel(
            integrator=_isokinetic_mclachlan, desired_energy_var=self.desired_energy_var
        )

    def warmup_init(self, logdensity, position, key, metric):
        return blackjax().mcmc.mclmc.init(position, logdensity, key), metric.diagonal()

    def tune(self, logdensity, carry, key):
        state, metric = carry
        if self.num_warmup == 0:  # untuned: BlackJAX's starting L and step size
            return _tuned(state, _initial_params(metric, 0.25))
        state, params, _ = blackjax().mclmc_find_L_and_step_size(
            mclmc_kernel=self._kernel(),
            num_steps=self.num_warmup,
            state=state,
            params=_initial_params(metric, 0.25),
            rng_key=key,
            logdensity_fn=logdensity,
            frac_tune1=0.4,
            frac_tune2=0.3,
            frac_tune3=0.2,
            desired_energy_var=self.desired_energy_var,
            diagonal_preconditioning=self.diagonal_preconditioning,
        )
        return _tuned(state, params)

    def step(self, logdensity, state, params, key):
        state, info = self._kernel()(
            key,
            state,
            logdensity,
            params["inverse_mass_matrix"],
            params["L"],
            params["step_size"],
        )
        return state, {
            "lp": state.logdensity,
            "diverging": ~info.nonans,
            "energy_change": info.energy_change,
            "n_steps": jnp.asarray(1, jnp.int32),
            "step_size": params["step_size"],
            "L": params["L"],
        }


class AdjustedMCLMC(AbstractSampler):
    """Metropolis-adjusted MCLMC (BlackJAX ``adjusted_mclmc_dynamic``; Robnik+25):
    isokinetic trajectories of random length (mean L / step size, two gradients per
    McLachlan integration step) with an accept/reject step, so it is asymptotically
    exact.

    Warm-up (``num_warmup`` kernel steps; see ``_plan``): dual averaging of the step size
    towards ``target_accept`` throughout, in four stages that all chains run together —
    10% at 2-step trajectories (cheap: finds the scale of the step), then 20%, 40% and
    30% at ``integration_steps``. The first two start from the Laplace variances; each of
    the last two starts from the positions' variance over the previous stage pooled
    across every chain (within-chain plus between-chain), so all chains share one
    metric and a chain that wandered off widens it rather than tuning itself to its own
    corner. BlackJAX's tuner, run per chain, took 1.6 × ``num_warmup`` steps and
    estimated each chain's metric from that chain alone (benchmarks/README.md). The
    warm-up runs in the same checkpointed batches, and the same compiled program, as the
    sampling (:meth:`advance`), so the kernel is compiled once per run.

    Args:
        num_warmup: warm-up kernel steps.
        num_samples: draws kept per chain.
        thin: kernel steps per kept draw.
        target_accept: target acceptance rate.
        integration_steps: mean integration steps per proposal (L = integration_steps ×
            step size). BlackJAX's default, 2, makes the sampler MALA-like: on a simulated
            5-SN ``SinglePopulation`` survey it left σ_R at R-hat 1.47 after 4 × (1000 +
            1000); 32 gave R-hat 1.00 and a minimum hyperparameter ESS of 1708 from 4000
            draws (benchmarks/README.md).
        diagonal_preconditioning: replace the Laplace variances by the pooled variances
            of the warm-up draws (False: keep the Laplace variances).
    """

    num_warmup: int = 500
    num_samples: int = 1000
    thin: int = 1
    target_accept: float = 0.9
    integration_steps: float = 32.0
    diagonal_preconditioning: bool = True

    name: ClassVar[str] = "AdjustedMCLMC"
    needs_float64: ClassVar[bool] = True
    staged: ClassVar[bool] = True
    stat_names: ClassVar[tuple[str, ...]] = (
        "lp",
        "diverging",
        "acceptance_rate",
        "n_steps",
        "energy",
        "step_size",
        "L",
    )

    def __check_init__(self):
        if not 0 < self.target_accept < 1:
            raise ConfigError("target_accept must be in (0, 1)", field="target_accept")
        steps = self.integration_steps
        if isinstance(steps, bool) or not isinstance(steps, int | float) or not steps >= 1.2:
            raise ConfigError(  # random lengths ⌈u · 2 · mean⌉ need a mean above one step
                f"integration_steps must be a number ≥ 1.2, got {steps!r}",
                field="integration_steps",
            )

    def _kernel(self):
        dynamic = blackjax().mcmc.adjusted_mclmc_dynamic
        return dynamic.build_kernel(
            integration_steps_fn=dynamic.make_random_trajectory_length_fn(True),
            integrator=_isokinetic_mclachlan,
        )

    def warmup_init(self, logdensity, position, key, metric):
        dynamic = blackjax().mcmc.adjusted_mclmc_dynamic
        state = dynamic.init(position, logdensity, jax.random.key_data(key))
        imm = metric.diagonal()
        step = _initial_params(imm, 0.2).step_size
        zeros = jnp.zeros_like(position)
        da_init = blackjax().adaptation.step_size.dual_averaging_adaptation(self.target_accept)[0]
        # dual averaging in JAX's widest float (its state mixes Python floats); the step
        # size is cast to the position's dtype when used
        adaptation = {
            "da": da_init(step.astype(_widest_float())),
            "step": step,
            "imm": imm,
            "mean": zeros,
            "m2": zeros,
            "count": zeros[0],
        }
        return state, adaptation

    def _plan(self):
        """Warm-up stages: kernel steps, mean integration steps per trajectory, and
        whether the stage takes the previous stage's pooled variances as its metric."""
        n, k = self.num_warmup, float(self.integration_steps)
        search, first, second = n // 10, n // 5, 2 * n // 5
        return {
            "steps": np.array([search, first, second, n - search - first - second], np.int32),
            "avg": np.array([min(2.0, k), k, k, k]),
            "pooled": np.array([False, False, True, True]) & self.diagonal_preconditioning,
        }

    def stages(self) -> list[dict]:
        """The warm-up as stages (see :meth:`_plan`); zero-length ones are dropped."""
        plan = self._plan()
        return [
            {"steps": int(n), "avg": float(a), "pooled": bool(p)}
            for n, a, p in zip(plan["steps"], plan["avg"], plan["pooled"])
            if n > 0
        ]

    def begin_stage(self, carry, pooled, use_pooled):
        """A fresh stage: dual averaging restarted from the current step size, the
        positions' running moments emptied, and the pooled metric taken if asked."""
        state, a = carry
        da_init = blackjax().adaptation.step_size.dual_averaging_adaptation(self.target_accept)[0]
        zeros = jnp.zeros_like(a["mean"])
        return state, a | {
            "da": da_init(a["step"].astype(_widest_float())),
            "imm": jnp.where(use_pooled, pooled.astype(a["imm"].dtype), a["imm"]),
            "mean": zeros,
            "m2": zeros,
            "count": zeros[0],
        }

    def advance(self, logdensity, carry, key, index, adapting, avg):
        """One kernel step at ``avg`` mean integration steps. While ``adapting``, the step
        size is dual averaging's current iterate, updated towards ``target_accept``, and
        the positions' running mean and variance (Welford) are kept for the next stage's
        metric; otherwise the tuned step size is used and nothing adapts."""
        _, da_update, da_final = blackjax().adaptation.step_size.dual_averaging_adaptation(
            self.target_accept
        )
        state, a = carry
        dtype = state.position.dtype
        avg = avg.astype(dtype)
        step = jnp.where(adapting, jnp.exp(a["da"].log_step_size).astype(dtype), a["step"])
        state, info = self._kernel()(
            key,
            state,
            logdensity,
            step,
            inverse_mass_matrix=a["imm"],
            integration_steps_params=(avg,),
        )
        accept = info.acceptance_rate
        da = da_update(a["da"], jnp.where(jnp.isfinite(accept), accept, 0.0))
        count = a["count"] + 1
        delta = state.position - a["mean"]
        mean = a["mean"] + delta / count
        adapted = a | {
            "da": da,
            "step": da_final(da).astype(dtype),
            "mean": mean,
            "m2": a["m2"] + delta * (state.position - mean),
            "count": count,
        }
        a = jax.tree_util.tree_map(lambda new, old: jnp.where(adapting, new, old), adapted, a)
        return (state, a), {
            "lp": state.logdensity,
            "diverging": info.is_divergent,
            "acceptance_rate": accept,
            "n_steps": info.num_integration_steps,
            "energy": info.energy,
            "step_size": step,
            "L": avg * step,
        }

    @staticmethod
    def pool(carry) -> np.ndarray | None:
        """The chains' pooled diagonal variance (``carry`` of all chains): the mean
        within-chain variance plus the variance of the chain means (a chain away from
        the others widens the metric rather than being averaged away), shrunk towards
        10⁻³ as in Stan's windows; None before any step was counted."""
        a = carry[1]
        counts = np.asarray(a["count"], np.float64)
        if not np.sum(counts) > 0:
            return None
        means = np.asarray(a["mean"], np.float64)
        variances = np.asarray(a["m2"], np.float64) / np.maximum(counts, 1.0)[:, None]
        total = np.mean(variances, axis=0) + np.var(means, axis=0)
        n = np.sum(counts)
        return (n / (n + 5.0)) * total + 1e-3 * (5.0 / (n + 5.0))

    def sampling_stage(self) -> dict:
        """The sampling phase's ``avg`` (mean integration steps per trajectory)."""
        return {"avg": float(self.integration_steps)}

    def tuned(self, carry):
        """The tuned parameters of a carry (per chain)."""
        _, a = carry
        k = jnp.asarray(self.integration_steps, a["step"].dtype)
        return {"L": k * a["step"], "step_size": a["step"], "inverse_mass_matrix": a["imm"]}
