"""YAML run configurations for ``sndust fit`` and ``sndust simulate``.

A configuration is a YAML mapping checked against a schema before anything runs: an
unknown key (with the nearest known one suggested), a value of the wrong type, a missing
required key, a file that does not exist, an unknown SED model, population, dust law or
sampler (``_registry``), or an option those do not take is a :class:`ConfigError` naming
the file, the line and the dotted key. Command-line overrides (``--set sampler.chains=2``)
go through the same checks.

Relative paths in a configuration file are relative to that file's folder; paths given
on the command line, and paths in the built-in example configurations, are relative to
the working directory.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .._errors import ConfigError
from . import _registry
from ._registry import unknown as _unknown

__all__ = ["example_configs", "load_config"]

_REQUIRED = object()


@dataclasses.dataclass(frozen=True)
class _Key:
    """One configuration key: what it holds, its default, and how to check it."""

    kind: str  # int, number, str, bool, path, paths, pair, names, mapping, any
    default: Any = _REQUIRED
    help: str = ""
    choices: tuple | None = None
    nullable: bool = False
    low: int | float | None = None
    exists: bool = False  # paths: must exist (a glob must match something)


_SIMULATED = {
    "n_sn": _Key("int", 100, "supernovae to draw", low=1),
    "seed": _Key("int", 0, "random seed of the survey"),
    "design": _Key(
        "any",
        None,
        "preset name or a mapping of SurveyDesign fields (default: PS1 griz at 10 fixed phases)",
        nullable=True,
    ),  # fmt: skip
    "population": _Key("str", "SinglePopulation", "the population the SNe are drawn from"),
    "population_options": _Key("mapping", {}, "keyword arguments of that population"),
    "hyper": _Key("mapping", {}, "hyperparameter values (others drawn from their priors)"),
}
_SURVEY = {
    "path": _Key(
        "paths",
        None,
        "SNANA folder, .LIST, light-curve file(s) or a glob",
        nullable=True,
        exists=True,
    ),  # fmt: skip
    "simulate": _Key(
        "mapping",
        None,
        "instead of path: a survey simulated in memory (keys: "
        + ", ".join(_SIMULATED)
        + "), its truth printed against the posterior",
        nullable=True,
    ),  # fmt: skip
    "pattern": _Key("str", None, "glob of light-curve files inside a folder", nullable=True),
    "format": _Key("str", "snana", "light-curve format", choices=_registry.names("format")),
    "bands": _Key("mapping", None, "band names in the files -> sndust filter names", nullable=True),
    "missing": _Key("str", "raise", ".LIST entries without a file", choices=("raise", "drop")),
    "peak_mjd_key": _Key("str", "SEARCH_PEAKMJD", "header key of the peak date"),
    "peak_table": _Key(
        "str", None, "FITRES table of peak dates (a bare name: in the survey folder)", nullable=True
    ),
    "peak_column": _Key("str", "PKMJD", "its peak-date column"),
}
_CUTS = {
    "z_min": _Key("number", None, "keep z > z_min", nullable=True),
    "z_max": _Key("number", None, "keep z < z_max", nullable=True),
    "z_key": _Key("str", "z_cmb", "redshift the z cut uses", choices=("z_cmb", "z_hel")),
    "phase_window": _Key("pair", None, "rest-frame phase window (days)", nullable=True),
    "min_obs": _Key("int", None, "drop SNe with fewer observations", nullable=True, low=0),
    "bands": _Key("names", None, "keep only these bands", nullable=True),
    "exclude": _Key("names", None, "SNIDs to leave out", nullable=True),
    "snids": _Key("names", None, "keep only these SNIDs", nullable=True),
}
_MODEL = {
    "sed": _Key("str", "T21", "T21, W22, M20 or a BAYESN.YAML path"),
    "population": _Key(
        "str", "SinglePopulation", "a built-in population or 'module:Class' of your own"
    ),
    "population_options": _Key("mapping", {}, "keyword arguments of the population"),
    "dust": _Key(
        "str",
        "Fitzpatrick99",
        "host dust law: " + ", ".join(_registry.names("dust")) + " or 'module:Class'",
    ),  # fmt: skip
    "dust_options": _Key("mapping", {}, "keyword arguments of the dust law"),
    "dtype": _Key("str", "float64", "precision", choices=("float64", "float32")),
}
_SAMPLER = {
    "method": _Key(
        "str",
        "NUTS",
        "sampler: " + ", ".join(_registry.names("sampler")) + " or 'module:Class'",
    ),  # fmt: skip
    "chains": _Key("int", 4, "chains (spread over the CPU cores or GPUs)", low=1),
    "warmup": _Key("int", 500, "warm-up (tuning) steps per chain", low=0),
    "samples": _Key("int", 500, "draws kept per chain", low=1),
    "seed": _Key("int", 0, "random seed"),
    "init": _Key("str", "map", "chain starts", choices=("map", "prior")),
    "map_steps": _Key(
        "int", 300, "optimiser steps of the MAP start (and of method MAP)", low=1
    ),  # fmt: skip
    "map_starts": _Key(
        "int", 4, "random starts of that MAP; the best is kept (per SN in per-SN fits)", low=1
    ),  # fmt: skip
    "precondition": _Key("any", "metric", "metric, true or false", choices=("metric", True, False)),
    "mass": _Key("str", "diag", "NUTS mass matrix", choices=("diag", "dense", "block")),
    "batch": _Key("int", 100, "steps between checkpoints", low=1),
    "options": _Key(
        "mapping",
        {},
        "keyword arguments of the sampler class (NUTS: target_accept, "
        "max_tree_depth, initial_step_size; AdjustedMCLMC: target_accept, "
        "integration_steps, diagonal_preconditioning; MCLMC: desired_energy_var, "
        "diagonal_preconditioning; any: thin)",
    ),  # fmt: skip
}
#: sampler keyword arguments set by keys of their own
_SAMPLER_RESERVED = {
    "num_warmup": "sampler.warmup",
    "num_samples": "sampler.samples",
    "mass": "sampler.mass",
}
_OUTPUT = {
    "dir": _Key("path", _REQUIRED, "output folder (created)"),
    "checkpoint": _Key("bool", True, "write run.h5 after every batch (resumable)"),
    "plots": _Key("bool", True, "write PNG figures"),
    "light_curves": _Key("int", 6, "SNe to draw in light_curves.png", low=0),
    "name": _Key("str", "run", "file stem of the posterior and checkpoint (NAME.nc, NAME.h5)"),
}
_SIMULATE = {
    "design": _Key("any", "foundation", "preset name or a mapping of SurveyDesign fields"),
    "n_sn": _Key("int", 100, "supernovae to draw", low=1),
    "seed": _Key("int", 0, "random seed"),
    "sed": _MODEL["sed"],
    "population": _MODEL["population"],
    "population_options": _MODEL["population_options"],
    "dust": _MODEL["dust"],
    "hyper": _Key("mapping", {}, "hyperparameter values (others drawn from their priors)"),
}
_SIM_OUTPUT = {
    "dir": _Key("path", _REQUIRED, "folder for the SNANA files, truth.yaml and truths.csv"),
    "overwrite": _Key("bool", False, "replace existing files"),
}

SCHEMAS: dict[str, dict[str, dict[str, _Key]]] = {
    "fit": {
        "survey": _SURVEY,
        "cuts": _CUTS,
        "model": _MODEL,
        "sampler": _SAMPLER,
        "output": _OUTPUT,
    },  # fmt: skip
    "simulate": {"simulate": _SIMULATE, "output": _SIM_OUTPUT},
}
#: Sections that may be left out entirely (all their keys have defaults).
_OPTIONAL_SECTIONS = {"cuts", "model", "sampler"}


# ----------------------------------------------------------------------------- reading
class _Source:
    """Where values came from: the file (and YAML line of each dotted key, relative paths
    against ``base``) or the command line (``cli``: overridden keys, paths against the
    working directory)."""

    def __init__(self, file: str | None, lines: dict[str, int], base: Path, cli=()):
        self.file, self.lines, self.base, self.cli = file, lines, base, set(cli)

    def from_cli(self, key: str) -> bool:
        return any(key == k or key.startswith(k + ".") for k in self.cli)

    def base_of(self, key: str) -> Path:
        return Path.cwd() if self.from_cli(key) else self.base

    def error(self, key: str, message: str) -> ConfigError:
        if self.from_cli(key):
            return ConfigError(message, file="command line", field=key)
        parts = key.split(".")  # a nested key without a line: its closest parent's line
        keys = (".".join(parts[:i]) for i in range(len(parts), 0, -1))
        line = next((self.lines[k] for k in keys if k in self.lines), None)
        return ConfigError(message, file=self.file, line=line, field=key)


def _lines(node, prefix="") -> dict[str, int]:
    """Dotted key -> 1-based line, from a composed YAML node tree."""
    out = {}
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = f"{prefix}{k.value}"
            out[key] = k.start_mark.line + 1
            out.update(_lines(v, key + "."))
    return out


def _read_yaml(path: Path) -> tuple[dict, dict[str, int]]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path)) from None
    except (IsADirectoryError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"cannot read config file: {err}", file=str(path)) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"not valid YAML: {problem}", file=str(path), line=line) from None
    if data is None:
        raise ConfigError("empty config file", file=str(path))
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of sections, got {type(data).__name__}", file=str(path)
        )
    return data, _lines(node)


def example_configs() -> dict[str, Path]:
    """Built-in example configurations by name (``sndust fit foundation_dr1``)."""
    folder = resources.files("sndust") / "configs"
    return {
        p.name[: -len(".yaml")]: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml")
    }


def load_config(
    config: str | Path | Mapping, command: str, overrides: list[str] = ()
) -> dict[str, dict[str, Any]]:
    """The validated configuration for ``command`` (``"fit"`` or ``"simulate"``), with
    defaults filled in and paths resolved.

    Args:
        config: a YAML file, the name of a built-in example (:func:`example_configs`), or
            an already-parsed mapping.
        command: which schema applies.
        overrides: ``"section.key=value"`` strings (values parsed as YAML).

    Raises:
        ConfigError: naming the file, line and dotted key of the first problem.
    """
    if command not in SCHEMAS:
        raise ConfigError(f"unknown command {command!r}", field="command")
    examples = example_configs()
    if isinstance(config, Mapping):
        data, lines, file, base = dict(config), {}, None, Path.cwd()
    else:
        path = Path(config)
        if not path.is_file() and str(config) in examples:
            path, base = examples[str(config)], Path.cwd()
        else:
            base = path.resolve().parent
        data, lines = _read_yaml(path)
        file = str(path)
    schema = SCHEMAS[command]
    cli = set()
    in_file = _Source(file, lines, base)
    for item in overrides:
        key, eq, text = item.partition("=")
        key = key.strip()
        parts = key.split(".")
        if not eq or len(parts) < 2 or not all(parts):
            raise ConfigError(f"expected SECTION.KEY=VALUE, got {item!r}", field="--set")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        node, path = data, []
        for part in parts[:-1]:  # descend, copying, into nested mappings
            path.append(part)
            current = node.get(part)
            if current is None:
                cli.add(".".join(path))  # created on the command line
                current = {}
            elif path[-1] == "design" and isinstance(current, str):
                current = {"preset": current}  # a preset name refined by design fields
            elif not isinstance(current, Mapping):
                raise in_file.error(".".join(path), f"expected a mapping of keys, got {current!r}")
            node[part] = dict(current)
            node = node[part]
        node[parts[-1]] = value
        cli.add(key)
    source = _Source(file, lines, base, cli)
    out = _validate(data, schema, source)
    table = out.get("survey", {}).get("peak_table")
    if table is not None and Path(table).name != table:  # (a bare name: the survey folder's)
        out["survey"]["peak_table"] = str(source.base_of("survey.peak_table") / table)
    _check_models(out, command, source)
    return out


def _check_models(cfg: dict, command: str, source: _Source) -> None:
    """Names of SED models, dust laws, populations, samplers and designs, and the options
    of each, are checked before any data is read (a population is built)."""
    section = "model" if command == "fit" else "simulate"
    values = cfg[section]
    try:
        sed = values["sed"]
        local = source.base_of(f"{section}.sed") / Path(sed).expanduser()
        builtin = sed.removesuffix("_model") in _registry.names("sed")
        if not builtin and local.exists():
            values["sed"] = str(local)
        elif not builtin:
            raise ConfigError(
                _unknown(sed, _registry.names("sed"), "SED model") + ", or a BAYESN.YAML path",
                field=f"{section}.sed",
            )
        dust = _registry.resolve("dust", values["dust"], f"{section}.dust")
        if command == "fit":
            values["dust_options"] = _check_options(
                dust, values["dust_options"], "model.dust_options"
            )
            build(dust, values["dust_options"], "model.dust_options")
            _check_sampler(cfg["sampler"])
            _check_survey(cfg["survey"], source)
        population = build_population(
            values["population"], values["population_options"], f"{section}.population"
        )
        if command == "simulate":
            design = build_design(values["design"])
            _check_bands(design.bands, "simulate.design.bands")
            _check_hyper(values, population, "simulate.hyper")
    except ConfigError as err:
        raise source.error(err.field or section, err.message) from None


def _check_sampler(values: dict) -> None:
    """The sampler's name and its ``options`` (by name and type), by building it."""
    cls = _registry.resolve("sampler", values["method"], "sampler.method")
    if cls is None:  # MAP
        if values["options"]:
            raise ConfigError("method MAP takes no options", field="sampler.options")
        return
    values["options"] = _check_options(cls, values["options"], "sampler.options", _SAMPLER_RESERVED)
    build(cls, sampler_options(values), "sampler.options")


def sampler_options(values: dict) -> dict:
    """Keyword arguments of the sampler class a validated ``sampler`` section names."""
    options = {"num_warmup": values["warmup"], "num_samples": values["samples"]}
    if values["method"] == "NUTS":
        options["mass"] = values["mass"]
    return options | dict(values["options"])


def _check_options(cls, options: Mapping, field: str, reserved: Mapping = {}) -> dict:
    """``options`` of ``cls`` by name (each a field of ``cls`` not set by a key of its
    own) and by type; returns them with whole numbers given for numbers made floats."""
    kinds = _registry.option_fields(cls, options, field, reserved)
    return _check_types(options, kinds, field)


def _check_survey(values: dict, source: _Source) -> None:
    """Exactly one of ``path`` and ``simulate``; a simulated survey's keys checked."""
    if values["path"] is None and values["simulate"] is None:
        raise ConfigError(
            f"missing required key 'survey.path' ({_SURVEY['path'].help})", field="survey.path"
        )
    if values["path"] is not None and values["simulate"] is not None:
        raise ConfigError("give survey.path or survey.simulate, not both", field="survey.simulate")
    if values["simulate"] is not None:
        schema = {"simulate": _SIMULATED}
        sim = _validate({"simulate": values["simulate"]}, schema, source, "survey.")["simulate"]
        values["simulate"] = sim
        population = build_population(
            sim["population"], sim["population_options"], "survey.simulate.population"
        )
        design = build_design(sim["design"] or {}, "survey.simulate.design")
        _check_bands(design.bands, "survey.simulate.design.bands")
        _check_hyper(sim, population, "survey.simulate.hyper")


def _check_bands(bands, field: str) -> None:
    from .._filters import FilterBank

    known = FilterBank.builtin().names
    for band in bands:
        if band not in known:
            raise ConfigError(_unknown(band, dict.fromkeys(sorted(known)), "filter"), field=field)


def _check_hyper(values: dict, population, field: str) -> None:
    names = [*population.hyperpriors(), "sigma0"]
    for name, value in values["hyper"].items():
        key = f"{field}.{name}"
        if name not in names:
            raise ConfigError(
                _unknown(str(name), dict.fromkeys(names), "hyperparameter"), field=key
            )
        flat = value if isinstance(value, list) else [value]
        while any(isinstance(v, list) for v in flat):
            flat = [w for v in flat for w in (v if isinstance(v, list) else [v])]
        if not flat or any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in flat):
            raise ConfigError(
                f"expected a number (or nested lists of numbers), got {value!r}", field=key
            )


def _validate(data: Mapping, schema, source: _Source, prefix: str = ""):
    """Each section of ``data`` against ``schema`` (dotted keys start with ``prefix``)."""
    out: dict[str, dict[str, Any]] = {}
    for section in data:
        if section not in schema:
            raise source.error(str(section), _unknown(str(section), schema, "section"))
    for section, keys in schema.items():
        raw = data.get(section)
        if raw is None:
            if section not in _OPTIONAL_SECTIONS:
                raise source.error(section, f"missing section {section!r}")
            raw = {}
        if not isinstance(raw, Mapping):
            raise source.error(prefix + section, f"expected a mapping of keys, got {raw!r}")
        for name in raw:
            if name not in keys:
                dotted = f"{prefix}{section}.{name}"
                raise source.error(dotted, _unknown(str(name), keys, "key"))
        values = {}
        for name, key in keys.items():
            dotted = f"{prefix}{section}.{name}"
            if name not in raw:
                if key.default is _REQUIRED:
                    raise source.error(dotted, f"missing required key {dotted!r} ({key.help})")
                values[name] = key.default
                continue
            values[name] = _check(raw[name], key, dotted, source)
        out[section] = values
    return out


_EXPECTED = {
    "int": "a whole number",
    "number": "a number",
    "str": "a string",
    "bool": "true or false",
    "path": "a path",
    "paths": "a path or a list of paths",
    "pair": "a list of two numbers [low, high]",
    "names": "a list of names",
    "mapping": "a mapping (key: value)",
    "any": "a value",
}


def _check(value: Any, key: _Key, dotted: str, source: _Source) -> Any:
    def fail(message=None):
        got = (
            f"got {value!r}"
            if not isinstance(value, dict | list)
            else f"got {type(value).__name__}"
        )
        return source.error(dotted, message or f"expected {_EXPECTED[key.kind]}, {got}")

    if value is None:
        if key.nullable:
            return None
        raise fail()
    kind = key.kind
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise fail()
        value = int(value)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
            raise fail()
        value = float(value)
    elif kind == "str" and not isinstance(value, str):
        raise fail()
    elif kind == "bool" and not isinstance(value, bool):
        raise fail()
    elif kind == "pair":
        if not isinstance(value, list) or len(value) != 2:
            raise fail()
        if any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in value):
            raise fail()
        value = [float(v) for v in value]
        if not value[0] < value[1]:
            raise fail(f"expected low < high, got {value!r}")
    elif kind == "names":
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise fail()
        value = [str(v) for v in value]
    elif kind == "mapping":
        if not isinstance(value, dict):
            raise fail()
    elif kind in ("path", "paths"):
        items = value if (kind == "paths" and isinstance(value, list)) else [value]
        if not items or not all(isinstance(v, str) and v for v in items):
            raise fail()
        resolved = [str(source.base_of(dotted) / Path(v).expanduser()) for v in items]
        for item in resolved if key.exists else ():
            found = Path(item).exists() or (any(c in item for c in "*?[") and _glob(item))
            if not found:
                raise fail(f"no such file or folder: {item}")
        value = resolved if isinstance(value, list) else resolved[0]
    if key.choices is not None and not any(
        value == c and isinstance(value, bool) == isinstance(c, bool) for c in key.choices
    ):
        raise fail(_unknown(str(value), dict.fromkeys(map(str, key.choices)), "value"))
    if key.low is not None and value < key.low:
        raise fail(f"expected a value >= {key.low:g}, got {value!r}")
    return value


def _glob(pattern: str) -> list[Path]:
    path = Path(pattern)
    anchor = Path(path.anchor)
    return (
        sorted(anchor.glob(str(path.relative_to(anchor))))
        if path.is_absolute()
        else sorted(Path().glob(pattern))
    )


# ----------------------------------------------------------------------------- building
def build_population(name: str, options: Mapping, field: str = "model.population"):
    """The population called ``name`` (built-in, or ``module:Class``), with ``options``."""
    cls = _registry.resolve("population", name, field)
    where = f"{field.rsplit('.', 1)[0]}.population_options"
    options = _check_types(options, _registry.describe(cls), where)
    try:
        return cls(**options)
    except TypeError as err:
        raise ConfigError(f"{cls.__name__}: {err}", field=where) from None


def build(cls, options: Mapping, field: str):
    """``cls(**options)``, its refusals reported at ``field`` (``field.name`` where the
    class names the offending option)."""
    try:
        return cls(**options)
    except TypeError as err:
        raise ConfigError(f"{cls.__name__}: {err}", field=field) from None
    except ConfigError as err:
        name = f"{field}.{err.field}" if err.field and err.field in options else field
        raise ConfigError(f"{cls.__name__}: {err.message}", field=name) from None


def _check_types(options: Mapping, kinds: Mapping[str, str], field: str) -> dict:
    """Options of simple types (number, int, bool, str) checked like any key, so that a
    wrong type is reported here rather than inside the model; returns the options with
    whole numbers given for numbers made floats."""
    out = dict(options)
    for name, value in options.items():
        kind = kinds.get(name, "any")
        if kind != "any":
            out[name] = _check(value, _Key(kind), f"{field}.{name}", _Source(None, {}, Path()))
    return out


def _construct(factory: Callable, options: Mapping, field: str):
    try:
        return factory(**options)
    except TypeError as err:
        raise ConfigError(f"{err}", field=field) from None
    except ConfigError as err:
        raise ConfigError(
            err.message, field=f"{field}.{err.field}" if err.field else field
        ) from None


def build_sed(name: str, field: str = "model.sed"):
    import sndust as sd

    try:
        return sd.BayeSNModel.load(name)
    except sd.SndustError as err:
        raise ConfigError(f"{err}", field=field) from None


def build_design(value: Any, field: str = "simulate.design"):
    """A :class:`SurveyDesign` from a preset name or a mapping of its fields (``preset:``
    picks the starting point)."""
    from .._simulate import SurveyDesign

    if isinstance(value, str):
        try:
            return SurveyDesign.preset(value)
        except ConfigError as err:
            raise ConfigError(err.message, field=field) from None
    if not isinstance(value, dict):
        raise ConfigError(f"expected a preset name or a mapping, got {value!r}", field=field)
    fields = dict(value)
    start = (
        build_design(fields.pop("preset"), f"{field}.preset")
        if "preset" in fields
        else SurveyDesign()
    )
    known = {f.name for f in dataclasses.fields(SurveyDesign)}
    for name in fields:
        if name not in known:
            raise ConfigError(
                _unknown(name, dict.fromkeys(sorted(known)), "design field"),
                field=f"{field}.{name}",
            )
    for name in ("z_range", "phase_range", "log_mass_range", "bands", "phases"):
        if isinstance(fields.get(name), list):
            fields[name] = tuple(fields[name])
    for name, v in fields.items():  # YAML integers where the design holds floats
        if isinstance(v, int) and not isinstance(v, bool) and name not in ("name",):
            fields[name] = float(v)
    return _construct(lambda **kw: dataclasses.replace(start, **kw), fields, field)
