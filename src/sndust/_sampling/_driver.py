"""The sampling driver shared by every sampler (the protocol is in ``_base.py``): starts,
the run's stages in checkpointed batches through one compiled program, devices.

Keys never depend on how the run is cut up: chain ``c`` of phase ``p`` uses
``fold_in(split(fold_in(key, p), chains)[c], step)`` for each step, so a run in batches of
any size, resumed after a kill or spread over any number of devices draws the same
random numbers as one uninterrupted call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P
from jaxtyping import Array, Bool, Int

from .._compile import jit_once
from .._custom_types import Scalar
from .._errors import ConfigError
from ._checkpoint import Checkpoint, model_fingerprint
from ._devices import Placement
from ._metric import BlockMetric
from ._precondition import Identity, Whitened, whiten
from ._progress import Progress
from ._starts import check_starts, initial_positions, jittered, laplace_metric, unit_metric

__all__ = ["Control", "REQUIRED_STATS", "run_sampler"]

_PHASE_INIT, _PHASE_WARMUP, _PHASE_SAMPLING = 0, 1, 2

#: statistics every sampler's ``Stats`` declares (the driver reads them); ``lp`` is the
#: chain's log density, ``n_steps`` the gradient evaluations of the step
REQUIRED_STATS = ("lp", "diverging", "n_steps", "step_size")


class Control(NamedTuple):
    """A stage as :meth:`AbstractSampler.step` sees it: runtime arrays, so that every
    stage runs in the same compiled program. ``start``: the phase's kernel step at which
    the stage began (``index - start`` counts steps within it); ``settle``: the stage's
    ``Stage.settle``."""

    adapting: Bool[Array, ""]
    knob: Scalar
    start: Int[Array, ""]
    settle: Bool[Array, ""]


def _chain_keys(key, phase: int, chains: int):
    return jax.random.split(jax.random.fold_in(key, phase), chains)


# ---------------------------------------------------------------------------- jitted pieces
def _over_chains(f, shared, chain_args, how):
    """``f(shared, *args_of_one_chain)`` for every chain (leading axis of ``chain_args``).

    ``how = (method, mesh)``: chains of one device are vmapped (``"vectorized"``) or run
    one after another (``"sequential"``: on CPU each chain then runs at single-chain
    speed, and a NUTS chain never waits for another's longer trajectory); with a mesh the
    chain axis is split over its devices by ``shard_map``, each running its own chains
    independently, so the per-chain program is the same on any number of devices.
    """
    method, mesh = how

    def local(shared, *args):
        if method == "vectorized":
            return jax.vmap(lambda *a: f(shared, *a))(*args)
        return jax.lax.map(lambda a: f(shared, *a), args)

    if mesh is None:
        return local(shared, *chain_args)
    specs = (P(),) + (P("d"),) * len(chain_args)
    return jax.shard_map(local, mesh=mesh, in_specs=specs, out_specs=P("d"), check_vma=False)(
        shared, *chain_args
    )


def _strong(tree):
    """``tree`` with no weakly typed arrays: a weak Python-scalar leaf (an adaptation
    counter's 0.0, say) would make the next program's inputs differ from its outputs
    and so compile every batch program twice."""
    return jax.tree_util.tree_map(
        lambda a: jnp.asarray(a, a.dtype) if isinstance(a, jax.Array) else a, tree
    )


@jit_once
def _init(sampler, target, positions, keys, metric, how):
    def f(shared, x, k):
        t, m = shared
        return sampler.init(t.logdensity, x, k, m)

    return _strong(_over_chains(f, (target, metric), (positions, keys), how))


def _skippable(step, active, blank):
    """``step`` for the slots numbered below ``active``; the others pass the carry
    through and return ``blank`` (a batch shorter than the program's needs no program of
    its own; ``active`` is unbatched, so under vmap this stays a branch, not a select)."""

    def body(c, i):
        return jax.lax.cond(i < active, lambda c: step(c, i), lambda c: (c, blank), c)

    return body


def _zeros_like_output(f, *args):
    return jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), jax.eval_shape(f, *args))


def _checked_stats(sampler, stats):
    """The statistics of a step, after checking that they declare what the driver reads."""
    missing = [name for name in REQUIRED_STATS if name not in getattr(stats, "_fields", ())]
    if missing:
        raise ConfigError(
            f"{type(sampler).__name__}.step must return its Stats NamedTuple with the fields "
            f"{', '.join(REQUIRED_STATS)}; missing {', '.join(missing)}",
            field="sampler",
        )
    return stats


@eqx.filter_jit
def _advance(sampler, target, carry, keys, start, active, control, pooled, n: int, how):
    """A batch of any stage, warm-up or sampling alike (one compiled program): ``n``
    slots of ``sampler.thin`` kernel steps, numbered from ``start``, of which only the
    first ``active`` run (the rest pass the carry through, so batches shorter than ``n``
    need no program of their own). ``control``: ``reset`` (begin a warm-up stage,
    taking ``pooled`` if ``use_pooled``) and the stage's :class:`Control`. Returns the
    carry and, per slot, the position and the statistics of its last step."""
    thin = sampler.thin

    def f(shared, carry, key):
        t, start, active, control, pooled = shared
        fresh = sampler.begin_stage(carry, pooled, control["use_pooled"])
        carry = jax.tree_util.tree_map(lambda a, b: jnp.where(control["reset"], a, b), fresh, carry)

        def kernel_step(c, j):
            c, stats = sampler.step(t.logdensity, c, key, start + j, control["stage"])
            return c, _checked_stats(sampler, stats)

        blank = _zeros_like_output(lambda c: kernel_step(c, 0)[1], carry)

        def run(inner, j):  # carries the last step's statistics along
            c, stats = kernel_step(inner[0], j)
            return (c, stats), stats

        one = _skippable(run, active, blank)

        def slot(c, i):
            (c, last), stats = jax.lax.scan(one, (c, blank), i * thin + jnp.arange(thin))
            last = last._replace(diverging=jnp.any(stats.diverging), n_steps=jnp.sum(stats.n_steps))
            return c, (t.to_x(c.state.position), last)

        return jax.lax.scan(slot, carry, jnp.arange(n))

    shared = (target, start, active, control, pooled)
    return _strong(_over_chains(f, shared, (carry, keys), how))


def _control(sampler, carry, stage, reset, start: int = 0):
    """The runtime inputs of one ``_advance`` call (fixed dtypes: one program for all);
    ``start``: the kernel step at which ``stage`` began."""
    dtype = carry.state.position.dtype
    pooled = sampler.pool(carry) if reset and stage.pooled else None
    control = {
        "reset": np.bool_(reset),
        "use_pooled": np.bool_(pooled is not None),
        "stage": Control(
            np.bool_(stage.adapting),
            np.asarray(stage.knob, dtype),
            np.int32(start),
            np.bool_(stage.settle),
        ),
    }
    if pooled is None:
        pooled = np.zeros(carry.state.position.shape[-1], dtype)
    return jax.tree_util.tree_map(jnp.asarray, control), jnp.asarray(pooled, dtype)


def _plan(sampler):
    """The warm-up stages and the sampling stage of ``sampler.stages()``, checked."""
    *warmup, sampling = sampler.stages()
    if any(not stage.adapting or stage.steps < 1 for stage in warmup) or sampling.adapting:
        raise ConfigError(
            f"{type(sampler).__name__}.stages() must list warm-up stages (adapting, at least "
            "one step each) and end with the sampling stage (sampler.sampling())",
            field="sampler",
        )
    if sampling.steps != sampler.num_samples * sampler.thin:
        raise ConfigError(
            f"{type(sampler).__name__}.stages(): the sampling stage has {sampling.steps} "
            f"steps, expected num_samples × thin = {sampler.num_samples * sampler.thin}",
            field="sampler",
        )
    return tuple(warmup), sampling


def warmup_segments(sampler, extensions: int) -> list[tuple]:
    """The warm-up as run: the planned stages, then ``extensions`` times
    ``sampler.extension()``; a list of segments, each a tuple of stages."""
    warmup, _ = _plan(sampler)
    extension = tuple(sampler.extension()) if extensions else ()
    if any(not stage.adapting or stage.steps < 1 for stage in extension):
        raise ConfigError(
            f"{type(sampler).__name__}.extension() must list warm-up stages (adapting, at "
            "least one step each)",
            field="sampler",
        )
    return [warmup] + [extension] * extensions


def _slots(stages, thin: int) -> int:
    """Warm-up statistics kept for ``stages``: one per slot of ``thin`` kernel steps (a
    batch never crosses a stage)."""
    return sum(-(-stage.steps // thin) for stage in stages)


def _warmup(sampler, target, carry, keys, how, n: int, stages, done: int = 0):
    """The warm-up ``stages`` from kernel step ``done``, in batches of at most
    ``n × thin`` steps that never cross a stage: yields ``(carry, draws, stats, done)``
    after each batch."""
    ends = np.cumsum([stage.steps for stage in stages], dtype=int)
    total = int(ends[-1]) if stages else 0
    thin = sampler.thin
    while done < total:
        s = int(np.searchsorted(ends, done, side="right"))
        stage = stages[s]
        begin = int(ends[s]) - stage.steps
        active = min(n * thin, int(ends[s]) - done)
        control, pooled = _control(sampler, carry, stage, reset=done == begin, start=begin)
        carry, out = _advance(
            sampler, target, carry, keys, _int(done), _int(active), control, pooled, n, how
        )
        done += active
        yield carry, *_first_slots(out, -(-active // thin)), done


def _int(value: int):
    return jnp.asarray(np.int32(value))


def _first_slots(tree, k: int):
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[:, :k], tree)


_tuned = jit_once(lambda sampler, carry: jax.vmap(sampler.tuned)(carry))


def _run_stages(sampler, target, carry, context: _Context):
    """Warm-up and sampling from the chains' initial ``carry``, one compiled program for
    both (:func:`_advance`); fills ``store`` and returns the tuned parameters.

    When the warm-up ends with the chains disagreeing (:func:`_disagree`)
    it is extended by ``sampler.extension()``, at most ``context.extend`` times; the
    extensions begun are kept in the checkpoint, so a resumed run takes the same path."""
    store, save, bar, placement, how, batch, warm_keys, sample_keys, extend, _ = context
    n = min(batch, sampler.num_samples)
    if store.carry is not None:
        carry = _restore(jax.tree_util.tree_structure(carry), store.carry, placement)
    _, sampling = _plan(sampler)
    if store.phase == "warmup":
        t_phase = time.perf_counter() - store.seconds["warmup"]
        while True:
            segments = warmup_segments(sampler, store.extensions)
            stages = tuple(stage for segment in segments for stage in segment)
            total = sum(stage.steps for stage in stages)
            if total:
                bar.start("warmup", store.done, total)
            batches = _warmup(sampler, target, carry, warm_keys, how, n, stages, store.done)
            for carry, draws, stats, done in batches:
                stats = stats._asdict()
                if store.version > 2:  # (a version-2 checkpoint kept none)
                    stats["hyper"] = np.asarray(draws[..., context.hyper])  # (on device)
                _warmup_batch_done(store, carry, stats, done, total, t_phase, save, bar)
            rhat = _disagree(store.warmup_stats, _slots(segments[-1], sampler.thin))
            if rhat is None or store.extensions >= extend or not sampler.extension():
                break
            store.extensions += 1
            save()
            steps = sum(stage.steps for stage in sampler.extension())
            bar.note(
                f"the chains disagree at the end of warm-up (R-hat {rhat:.2f} of their log "
                f"densities or hyperparameters): warm-up extended by {steps} steps "
                f"({store.extensions} of at most {extend})"
            )
        store.phase, store.done = "sampling", 0
        store.carry = [np.asarray(x) for x in jax.tree_util.tree_leaves(carry)]
        save()
    params = _tuned(sampler, carry)
    control, pooled = _control(sampler, carry, sampling, reset=False)
    t_phase = time.perf_counter() - store.seconds["sampling"]
    bar.start("sampling", store.done, sampler.num_samples)
    thin = sampler.thin
    while store.done < sampler.num_samples:
        k = min(n, sampler.num_samples - store.done)
        carry, (draws, stats) = _advance(
            sampler,
            target,
            carry,
            sample_keys,
            _int(store.done * thin),
            _int(k * thin),
            control,
            pooled,
            n,
            how,
        )
        draws, stats = _first_slots((draws, stats), k)
        _sampling_batch_done(store, carry, draws, stats, t_phase, save, bar, sampler, params)
    return params


def last_warmup_rhat(warmup_stats, slots: int) -> float | None:
    """:func:`~._posterior.warmup_rhat` of the last ``slots`` warm-up slots (the last
    segment of warm-up: its planned stages, or its last extension)."""
    from ._posterior import warmup_rhat

    if "lp" not in warmup_stats or slots < 1:
        return None
    lp = np.asarray(warmup_stats["lp"])[:, -slots:]
    hyper = warmup_stats.get("hyper")
    return warmup_rhat(lp, None if hyper is None else np.asarray(hyper)[:, -slots:])


def _disagree(warmup_stats, slots: int) -> float | None:
    """The chains' R-hat over the last warm-up segment where it exceeds
    ``WARMUP_RHAT_MAX`` (the chains are stuck apart or still on their way), else None."""
    from ._posterior import WARMUP_RHAT_MAX

    rhat = last_warmup_rhat(warmup_stats, slots)
    return rhat if rhat is not None and rhat > WARMUP_RHAT_MAX else None


def _warmup_batch_done(store, carry, stats, done, total, t_phase, save, bar):
    """Keep a warm-up batch: statistics, carry, time; write the checkpoint; progress."""
    _append(store.warmup_stats, stats)
    store.done = done
    store.carry = [np.asarray(x) for x in jax.tree_util.tree_leaves(carry)]
    store.seconds["warmup"] = time.perf_counter() - t_phase
    save()
    bar.update(
        done,
        total,
        float(np.mean(stats["step_size"][:, -1])),
        int(np.sum(store.warmup_stats["diverging"])),
    )


def _sampling_batch_done(store, carry, draws, stats, t_phase, save, bar, sampler, params):
    """Keep a batch of draws: draws, statistics, carry, time; write the checkpoint;
    progress."""
    draws = np.asarray(draws)
    store.draws = draws if store.draws is None else np.concatenate([store.draws, draws], 1)
    _append(store.stats, stats)
    store.done += draws.shape[1]
    store.carry = [np.asarray(x) for x in jax.tree_util.tree_leaves(carry)]
    store.seconds["sampling"] = time.perf_counter() - t_phase
    save()
    bar.update(
        store.done,
        sampler.num_samples,
        float(np.mean(np.asarray(params["step_size"]))),
        int(np.sum(store.stats["diverging"])),
    )


# ---------------------------------------------------------------------------- driver
def run_sampler(
    sampler,
    model,
    key,
    *,
    chains: int = 4,
    init="per_sn",
    jitter: float = 0.5,
    checkpoint=None,
    resume=False,
    batch: int = 100,
    progress: bool = True,
    devices="chains",
    precondition: bool | str = "metric",
    chain_method: str = "auto",
    map_starts: int = 4,
    extend_warmup: int = 0,
):
    from ._posterior import Posterior

    if not isinstance(chains, int | np.integer) or chains < 1:
        raise ConfigError(f"chains must be a positive integer, got {chains!r}", field="chains")
    if not isinstance(map_starts, int | np.integer) or map_starts < 1:
        raise ConfigError(
            f"map_starts must be a positive integer, got {map_starts!r}", field="map_starts"
        )
    if not isinstance(batch, int | np.integer) or batch < 1:
        raise ConfigError(f"batch must be a positive integer, got {batch!r}", field="batch")
    if isinstance(extend_warmup, bool) or not isinstance(extend_warmup, int | np.integer):
        extend_warmup = -1
    if extend_warmup < 0:
        raise ConfigError(
            f"extend_warmup must be an integer ≥ 0, got {extend_warmup!r}", field="extend_warmup"
        )
    if isinstance(resume, str | os.PathLike):
        if checkpoint is not None and os.fspath(checkpoint) != os.fspath(resume):
            raise ConfigError("checkpoint= and resume= name different files", field="resume")
        checkpoint, resume = resume, True
    if resume and checkpoint is None:
        raise ConfigError("resume=True needs checkpoint=PATH", field="resume")
    if init is None and not resume:
        raise ConfigError(
            "init=None (the starts of the checkpoint being resumed) needs resume=", field="init"
        )
    if precondition not in (True, False, "metric"):
        raise ConfigError(
            f"precondition must be True, False or 'metric', got {precondition!r}",
            field="precondition",
        )

    warmup, sampling = _plan(sampler)
    for phase, steps in (("warm-up", sum(s.steps for s in warmup)), ("sampling", sampling.steps)):
        if steps > np.iinfo(np.int32).max:  # kernel steps are counted in int32 (_int)
            raise ConfigError(
                f"{steps:,} {phase} kernel steps: more than a run can count "
                f"({np.iinfo(np.int32).max:,}); take fewer steps or thin less",
                field="num_warmup" if phase == "warm-up" else "num_samples",
            )
    wide = jax.dtypes.canonicalize_dtype(jnp.float64)
    if sampler.needs_float64 and model.prepared.obs_fluxcal.dtype != wide:
        raise ConfigError(
            f"{sampler.name} needs a {wide} model while jax_enable_x64 is on (BlackJAX's "
            "MCLMC tuning mixes float64 constants into the chain state); use NUTS, a "
            "float64 model, or turn jax_enable_x64 off for an all-float32 run",
            field="dtype",
        )
    config = sampler.config() | {
        "chains": int(chains),
        "init": init if isinstance(init, str) else _start_kind(init),
        "informed": _informed_names(model, init),
        "map_starts": int(map_starts),
        "extend_warmup": int(extend_warmup),
        "jitter": float(jitter),
        "precondition": str(precondition),
        "key": np.asarray(jax.random.key_data(key)).ravel().tolist(),
        "dtype": str(model.prepared.obs_fluxcal.dtype),
    }
    fingerprint = model_fingerprint(model)
    store = None
    if checkpoint is not None:
        exists = os.path.exists(checkpoint)
        if exists and resume:
            inherit = ("init", "informed") if init is None else ()
            store = Checkpoint.load(checkpoint, fingerprint, config, inherit)
            store.check_run(sampler, model, int(chains), precondition not in (False, "metric"))
        elif exists:
            raise ConfigError(
                "the checkpoint file exists: pass resume=True to continue it, or choose "
                "another path (nothing is overwritten)",
                file=checkpoint,
                field="checkpoint",
            )
        elif resume:
            raise ConfigError("no checkpoint to resume", file=checkpoint, field="resume")
        else:
            store = Checkpoint(checkpoint, fingerprint, config)
    else:
        store = Checkpoint(os.devnull, fingerprint, config)
    save = store.save if checkpoint is not None else (lambda: None)

    fresh = store.init is None
    if fresh:
        k_init, k_jitter = jax.random.split(jax.random.fold_in(key, _PHASE_INIT))
        starts, center, anchors = initial_positions(model, k_init, chains, init, jitter, map_starts)
        if anchors:  # the informed coordinates the starts are in
            model = model.with_anchors(anchors)
        target = whiten(model, center) if precondition else Identity(model)
        if starts.ndim == 1:
            starts = jittered(target, starts, k_jitter, chains, jitter)
        metric = unit_metric(model)
        if precondition == "metric":
            metric = laplace_metric(target)
            target = Identity(model)
        store.init = np.asarray(starts)
        store.precondition = (
            _precondition_arrays(target)
            | {
                "metric_" + name: np.asarray(getattr(metric, name))
                for name in ("chol", "hyper_var", "index", "hyper_index")
            }
            | _anchor_arrays(anchors)
        )
    else:
        anchors = _restore_anchors(store.precondition, store.config.get("informed", []))
        if anchors:
            model = model.with_anchors(anchors)
        target = _restore_target(model, store.precondition)
    dtype = model.prepared.obs_fluxcal.dtype
    metric = BlockMetric(
        **{
            name: jnp.asarray(
                store.precondition["metric_" + name], dtype if "index" not in name else None
            )
            for name in ("chol", "hyper_var", "index", "hyper_index")
        }
    )
    placement = Placement(devices, int(chains), target, model.prepared)
    placed = placement.put_model(target)
    bar = Progress(progress, sampler.name)
    positions = placement.put_chains(jax.vmap(target.to_z)(jnp.asarray(store.init)))
    how = (placement.chain_method(chain_method), placement.chain_mesh)

    warm_keys = placement.put_chains(_chain_keys(key, _PHASE_WARMUP, chains))
    sample_keys = placement.put_chains(_chain_keys(key, _PHASE_SAMPLING, chains))
    carry = _init(sampler, placed, positions, warm_keys, metric, how)
    if fresh:  # checked before anything is written
        check_starts(model, store.init, carry)
        save()
    else:
        store.check_carry(carry)
    extend = int(store.config["extend_warmup"])  # (0 for a run begun before extensions)
    hyper = np.asarray(model.layout.hyper_index())
    context = _Context(
        store, save, bar, placement, how, batch, warm_keys, sample_keys, extend, hyper
    )
    params = _run_stages(sampler, placed, carry, context)
    last = warmup_segments(sampler, store.extensions)[-1]

    return Posterior.from_run(
        model,
        sampler,
        store.draws,
        store.stats,
        params={k: np.asarray(v) for k, v in params.items()},
        seconds=dict(store.seconds),
        key=jax.random.fold_in(key, 3),
        devices=placement.describe(),
        warmup_rhat=last_warmup_rhat(store.warmup_stats, _slots(last, sampler.thin)),
        warmup_extensions=store.extensions,
    )


def _informed_names(model, init) -> list[str]:
    """The parameters a run from ``init`` samples in informed coordinates: those of a
    :class:`PopulationStart` made with ``informed=True`` (its anchors), and of the
    default per-SN start of a hierarchical model (it measures them:
    ``_population_start.anchors_from_fits``)."""
    from .._model._reparam import ANCHORED_KINDS
    from ._population_start import PopulationStart

    if isinstance(init, PopulationStart):
        return sorted(init.anchors)
    if isinstance(init, str) and init == "per_sn" and model.hyper_names:
        return sorted(name for name, kind in model.layout.dust_kinds if kind in ANCHORED_KINDS)
    return []


def _start_kind(init) -> str:
    from ._population_start import PopulationStart

    return "per_sn" if isinstance(init, PopulationStart) else "array"


class _Context(NamedTuple):
    """What the warm-up and sampling loops share: the checkpoint store and its writer,
    the progress bar, where the chains run, the batch size and the phases' keys."""

    store: Checkpoint
    save: Callable[[], None]
    bar: Progress
    placement: Placement
    how: tuple
    batch: int
    warm_keys: jax.Array
    sample_keys: jax.Array
    extend: int
    hyper: np.ndarray


_WHITENED = ("center", "chol", "gain", "hyper_chol", "index", "hyper_index")


def _precondition_arrays(target) -> dict:
    if isinstance(target, Identity):
        return {}
    return {name: np.asarray(getattr(target, name)) for name in _WHITENED}


def _anchor_arrays(anchors: dict) -> dict:
    """The informed coordinates' anchors as checkpoint arrays (``anchor_<name>_loc`` and
    ``_prec``): a resumed run samples in the coordinates it began in."""
    return {
        f"anchor_{name}_{part}": np.asarray(a)
        for name, pair in anchors.items()
        for part, a in zip(("loc", "prec"), pair, strict=True)
    }


def _restore_anchors(arrays: dict, names) -> dict:
    """The anchors of the parameters ``names`` (the configuration's ``informed``) from
    the checkpoint's arrays."""
    return {name: (arrays[f"anchor_{name}_loc"], arrays[f"anchor_{name}_prec"]) for name in names}


def _restore_target(model, arrays: dict):
    if "center" not in arrays:
        return Identity(model)
    return Whitened(model, **{k: jnp.asarray(arrays[k]) for k in _WHITENED})


def _append(target: dict, stats) -> None:
    """Append a batch's statistics (a NamedTuple or dict, ``(chains, slots, ...)``)."""
    stats = stats._asdict() if hasattr(stats, "_asdict") else stats
    for name, value in stats.items():
        value = np.asarray(value)
        target[name] = value if name not in target else np.concatenate([target[name], value], 1)


def _restore(treedef, leaves, placement):
    """The saved carry's ``leaves`` on the chains' devices (``Checkpoint.check_carry``
    has checked them against the fresh carry)."""
    restored = [jnp.asarray(a) for a in leaves]
    return placement.put_chains(jax.tree_util.tree_unflatten(treedef, restored))
