"""The sndust command: a demo, configured fits and simulations, posterior summaries.

    sndust demo [--n-sn 100] [--chains 2] [--warmup 200] [--samples 200] [--out DIR]
    sndust fit CONFIG.yaml [--set SECTION.KEY=VALUE ...] [--resume | --overwrite]
               [--require-convergence]
    sndust simulate CONFIG.yaml [--set SECTION.KEY=VALUE ...] [--overwrite]
    sndust config [NAME]
    sndust summarize RUN.nc
    sndust compare RUN.nc RUN.nc [...] [--names NAME ...] [--figure PNG] [--json FILE]
        [--pointwise] [--draws N] [--hyper-draws N] [--seed N]

``demo`` is the whole method on a survey with known answers: the built-in configuration
``demo`` (``sndust config demo`` prints it) run by ``sndust fit``: it simulates SNe from
the BayeSN T21 model under one dust population with chosen hyperparameters, fits each
SN and the population to those fits as the start, samples the posterior with NUTS
(chains spread over the CPU cores, checkpointed so an interrupted demo resumes with
``--resume``), prints truth against posterior, and writes the posterior (netCDF), the
per-SN distances (SNANA FITRES) and plots to ``--out``. ``fit`` does the same for the
survey, cuts, model and sampler a YAML file names (see ``sndust config`` for the
examples and every key); ``simulate`` writes a simulated survey as SNANA files with its
truths, or several surveys drawn together (``simulate.surveys``), a folder each, with a
metadata table as a compilation gives one.

An output folder holding an earlier run's results is refused unless ``--resume``
(continue its checkpoint) or ``--overwrite`` (replace them) says what to do, and nothing
in it is written before every check has passed. Every failure is one line on stderr
naming the file, line or key at fault, with exit status 2; Ctrl-C exits with 130 and
says which checkpoint holds the run and the command that continues it. A run whose
chains have not converged (R-hat ≤ 1.01 and bulk and tail ESS ≥ 400 for every
hyperparameter, written to ``summary.json``) says so, naming the parameters; with
``--require-convergence`` it then exits with status 3.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _flags_for_cores(chains: int) -> str | None:
    """XLA_FLAGS giving each chain a CPU core (fake host devices), or None when they are
    set already or there is nothing to spread."""
    flags = os.environ.get("XLA_FLAGS", "")
    n = min(chains, os.cpu_count() or 1)
    if "xla_force_host_platform_device_count" in flags or n < 2 or chains % n:
        return None
    return f"{flags} --xla_force_host_platform_device_count={n}".strip()


def _fail(message: str) -> int:
    print(f"sndust: error: {message}", file=sys.stderr)
    return 2


def demo(args) -> int:
    """``sndust fit demo`` with the demo's options as overrides."""
    overrides = [
        f"survey.simulate.n_sn={args.n_sn}",
        f"survey.simulate.seed={args.seed}",
        f"sampler.seed={args.seed}",
        f"sampler.chains={args.chains}",
        f"sampler.warmup={args.warmup}",
        f"sampler.samples={args.samples}",
        f"sampler.options.max_tree_depth={args.tree_depth}",
        f"output.dir={args.out}",
    ]
    args = argparse.Namespace(
        config="demo", set=overrides, resume=args.resume, overwrite=args.overwrite,
        quiet=args.quiet, require_convergence=args.require_convergence,
    )  # fmt: skip
    return fit(args)


def summarize(args) -> int:
    import sndust as sd

    path = Path(args.run)
    if not path.is_file():
        return _fail(f"{path}: no such file")
    try:
        post = sd.Posterior.from_netcdf(path)
    except sd.SndustError as err:
        return _fail(str(err))
    except (OSError, ValueError) as err:
        return _fail(f"{path}: not a sndust posterior file ({err})")
    print(post.report())
    return 0


def compare(args) -> int:
    import json

    import sndust as sd

    for run in args.runs:
        if not Path(run).is_file():
            return _fail(f"{run}: no such file")
    models = None
    if not args.pointwise:  # each run's model, from the config.yaml its fit wrote
        import jax

        from ._runs import model_of_run

        jax.config.update("jax_enable_x64", True)
        models = [model_of_run(run) for run in args.runs]
    try:
        result = sd.compare(
            args.runs, names=args.names, models=models, draws=args.draws,
            hyper_draws=args.hyper_draws,
            key=None if args.pointwise else jax.random.key(args.seed),
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )  # fmt: skip
    except (OSError, ValueError) as err:
        if isinstance(err, sd.SndustError):
            raise
        return _fail(f"not sndust posterior files ({err})")
    print(result.report())
    if args.figure:
        result.figure(args.figure)
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return 0


def _configured(args, command: str):
    """The validated configuration of ``fit``/``simulate``; sets up fake CPU devices for
    the chains before JAX starts."""
    from ._config import load_config

    overrides = list(args.set) + (["output.overwrite=true"] if args.overwrite else [])
    if getattr(args, "require_convergence", False):
        overrides.append("output.require_convergence=true")
    cfg = load_config(args.config, command, overrides)
    if command == "fit" and (flags := _flags_for_cores(cfg["sampler"]["chains"])):
        os.environ["XLA_FLAGS"] = flags
    if command == "simulate" or cfg["model"]["dtype"] == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    return cfg


def fit(args) -> int:
    from ._runs import run_fit

    run_fit(_configured(args, "fit"), resume=args.resume, quiet=args.quiet)
    return 0


def simulate(args) -> int:
    from ._runs import run_simulate

    run_simulate(_configured(args, "simulate"), quiet=args.quiet)
    return 0


def config(args) -> int:
    from ._schema import _REQUIRED, _SAMPLER_RESERVED, LISTS, SCHEMAS, example_configs

    def keys_of(keys: dict, indent: str) -> None:
        for name, key in keys.items():
            default = "required" if key.default is _REQUIRED else f"default {key.default!r}"
            print(f"{indent}{name:20s} {key.help} ({default})")

    examples = example_configs()
    if args.name is None:
        print("Example configurations (sndust config NAME prints one; sndust fit NAME runs it):")
        for name, path in sorted(examples.items()):
            print(f"  {name:24s} {path.read_text().splitlines()[0].lstrip('# ')}")
        for command, schema in SCHEMAS.items():
            print(f"\nKeys of a `sndust {command}` configuration:")
            for section, keys in schema.items():
                print(f"  {section}:")
                keys_of(keys, "    ")
            for where, (what, keys) in LISTS[command].items():
                print(f"  {where}: ({what}; a list, each entry:)")
                keys_of(keys, "    - ")
        for kind, key, what, reserved in (
            ("sampler", "sampler.options", "sampler", _SAMPLER_RESERVED),
            ("dust", "model.dust_options", "dust law", {}),
        ):
            print(f"\n{key} of each {what} (its keyword arguments, with their defaults):")
            for name, options in _options_of(kind, reserved).items():
                print(f"  {name}: {', '.join(options) or '(none)'}")
        return 0
    if args.name not in examples:
        return _fail(
            f"no example configuration {args.name!r}; there are {', '.join(sorted(examples))}"
        )
    print(examples[args.name].read_text(), end="")
    return 0


def _options_of(kind: str, reserved) -> dict[str, list[str]]:
    """The options each built-in of ``kind`` takes, as ``name=default`` strings."""
    import dataclasses

    from . import _registry

    out = {}
    for name in _registry.names(kind):
        cls = _registry.resolve(kind, name, kind)
        if cls is None:
            continue
        out[name] = [
            f"{f.name}={f.default!r}"
            for f in dataclasses.fields(cls)
            if f.name not in reserved and f.default is not dataclasses.MISSING
        ]
    return out


_REQUIRE = "exit with status 3 if the chains have not converged (results are written)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="sndust", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="simulate a survey, fit it, compare with the truth")
    p.add_argument("--n-sn", type=int, default=100, help="SNe to simulate (default 100)")
    p.add_argument("--chains", type=int, default=2, help="NUTS chains (default 2)")
    p.add_argument("--warmup", type=int, default=200, help="warm-up steps per chain")
    p.add_argument("--samples", type=int, default=200, help="draws per chain")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tree-depth", type=int, default=10, help="NUTS maximum tree depth")
    p.add_argument("--out", default="sndust-demo", help="output folder (default sndust-demo)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted demo")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier demo in --out")
    p.add_argument("--quiet", action="store_true", help="no progress or tables")
    p.add_argument("--require-convergence", action="store_true", help=_REQUIRE)
    p.set_defaults(handler=demo)
    for name, handler, text in (
        ("fit", fit, "fit the survey a YAML configuration names"),
        ("simulate", simulate, "simulate a survey and write it as SNANA files"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("config", help="a YAML file, or the name of an example (sndust config)")
        p.add_argument(
            "--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
            help="override a configuration value (YAML syntax; repeatable)",
        )  # fmt: skip
        if name == "fit":
            p.add_argument("--resume", action="store_true", help="continue from output.dir/run.h5")
            p.add_argument("--require-convergence", action="store_true", help=_REQUIRE)
        p.add_argument(
            "--overwrite", action="store_true", help="replace an earlier run's files in output.dir"
        )
        p.add_argument("--quiet", action="store_true", help="no progress or tables")
        p.set_defaults(handler=handler)
    p = sub.add_parser("config", help="list the example configurations and keys, or print one")
    p.add_argument("name", nargs="?", help="an example to print")
    p.set_defaults(handler=config)
    p = sub.add_parser("summarize", help="print the summary of a posterior netCDF file")
    p.add_argument("run", help="a file written by Posterior.to_netcdf (e.g. demo.nc)")
    p.set_defaults(handler=summarize)
    p = sub.add_parser(
        "compare", help="PSIS-LOO comparison of runs on the same SNe (which population fits)"
    )
    p.add_argument("runs", nargs="+", help="posterior netCDF files (two or more)")
    p.add_argument("--names", nargs="+", help="a name for each run (default: file names)")
    p.add_argument("--figure", help="write per-SN elpd differences vs mass and z here (PNG)")
    p.add_argument("--json", help="write the comparison as JSON here")
    p.add_argument(
        "--pointwise", action="store_true",
        help="PSIS-LOO of the per-SN likelihood stored with each run (fast; unreliable "
        "when most SNe's k-hat exceed 0.7) instead of integrating each SN's parameters "
        "out (which rebuilds each run's model from the config.yaml beside it)",
    )  # fmt: skip
    p.add_argument("--draws", type=int, default=2048, help="importance draws per SN (default 2048)")
    p.add_argument(
        "--hyper-draws", type=int, default=None,
        help="at most this many hyperparameter draws (default 2000; 100 where the "
        "hyperparameters reach the light curves other than as a magnitude offset)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the importance draws")
    p.set_defaults(handler=compare)
    args = parser.parse_args(argv)
    for name in ("n_sn", "chains", "warmup", "samples", "tree_depth", "draws", "hyper_draws"):
        low = 0 if name == "warmup" else (2 if name == "n_sn" else 1)
        value = getattr(args, name, None)  # None: not this command's, or its default
        if value is not None and value < low:
            return _fail(f"--{name.replace('_', '-')} must be at least {low}")
    if args.command == "demo" and (flags := _flags_for_cores(args.chains)):
        # read by JAX when its backends start (importing sndust does not start them); a
        # process that has already computed something keeps its devices
        os.environ["XLA_FLAGS"] = flags
    from .._errors import NotConverged, SndustError

    try:
        return args.handler(args)
    except NotConverged as err:
        print(f"sndust: not converged: {err}", file=sys.stderr)
        return 3
    except SndustError as err:
        return _fail(str(err))
    except KeyboardInterrupt as err:
        return _interrupted(getattr(err, "checkpoint", None), argv)
    except OSError as err:  # a file or folder the checks could not foresee
        where = f"{err.filename}: " if err.filename else ""
        return _fail(f"{where}{err.strerror or err}")
    except (OverflowError, MemoryError) as err:
        return _fail(f"out of range: {err or type(err).__name__}")


def _interrupted(checkpoint, argv) -> int:
    """Ctrl-C: one line that says what was kept and how to go on (exit status 130)."""
    import shlex

    if checkpoint is None:
        message = "interrupted before sampling began; this run wrote no checkpoint"
        print(f"sndust: {message}", file=sys.stderr)
    else:
        words = list(sys.argv[1:] if argv is None else argv)
        words = [w for w in words if w != "--overwrite"]
        again = shlex.join(["sndust", *words, *(["--resume"] if "--resume" not in words else [])])
        print(
            f"sndust: interrupted; {checkpoint} holds the run so far: continue it with {again}",
            file=sys.stderr,
        )
    return 130


if __name__ == "__main__":
    sys.exit(main())
