"""The keys of ``sndust fit`` and ``sndust simulate`` configurations, and how a YAML file
is read and checked against them (``_config.load_config`` adds the checks of names and
options and builds what the keys name).

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
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .._errors import ConfigError
from . import _registry
from ._registry import unknown as _unknown

__all__ = ["LISTS", "SCHEMAS", "example_configs"]

_REQUIRED = object()
#: JAX keys hold 32 bits of a seed without 64-bit mode: larger seeds would alias smaller ones
_MAX_SEED = 2**32 - 1
#: step counts and sizes are 32-bit integers in the compiled programs
_MAX_INT = 2**31 - 1
#: the most YAML nodes a configuration may hold once its aliases are expanded (a real one
#: holds a few hundred; a few hundred bytes of nested aliases can expand to billions)
MAX_NODES = 100_000


@dataclasses.dataclass(frozen=True)
class _Key:
    """One configuration key: what it holds, its default, and how to check it."""

    kind: str  # int, number, str, bool, path, paths, pair, names, mapping, any
    default: Any = _REQUIRED
    help: str = ""
    choices: tuple | None = None
    nullable: bool = False
    low: int | float | None = None
    high: int | float | None = None
    exists: bool = False  # paths: must exist (a glob must match something)


_SIMULATED = {
    "n_sn": _Key("int", 100, "supernovae to draw", low=1),
    "seed": _Key("int", 0, "random seed of the survey", low=0, high=_MAX_SEED),
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
    "bands": _Key(
        "bands",
        None,
        "band names in the files -> sndust filter names, or auto (the names in the files "
        "are sndust filter names); every band read must be mapped",
        nullable=True,
    ),  # fmt: skip
    "missing": _Key("str", "raise", ".LIST entries without a file", choices=("raise", "drop")),
    "peak_mjd_key": _Key("str", "SEARCH_PEAKMJD", "header key of the peak date"),
    "reject_photflag": _Key(
        "int",
        None,
        "leave out observations whose PHOTFLAG shares a bit with this mask (each reported)",
        nullable=True,
        low=0,
    ),
    "peak_table": _Key(
        "str", None, "FITRES table of peak dates (a bare name: in the survey folder)", nullable=True
    ),
    "peak_column": _Key("str", "PKMJD", "its peak-date column"),
    "metadata_table": _Key(
        "path",
        None,
        "FITRES/CSV/whitespace table of per-SN redshifts, peak dates, host masses, MW "
        "E(B-V) (zHD, zHEL, PKMJD, HOST_LOGMASS, MWEBV), matched by SNID",
        nullable=True,
        exists=True,
    ),
    "metadata_match": _Key(
        "mapping", {}, "only the table's rows with these column values, e.g. {IDSURVEY: 150}"
    ),
    "metadata_columns": _Key(
        "mapping", None, "survey field -> table column (default: the usual names)", nullable=True
    ),
    "mass_sentinels": _Key(
        "any", [], "host-mass values that mean unknown in that table (e.g. [6.0])"
    ),
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
#: An entry of ``surveys:``: a survey read from files, named, with cuts of its own.
SURVEY_ENTRY = (
    {"name": _Key("str", _REQUIRED, "the survey's name (each SN's survey, e.g. DES)")}
    | {key: value for key, value in _SURVEY.items() if key != "simulate"}
    | {"cuts": _Key("mapping", {}, "cuts of this survey alone (keys of cuts:)")}
)
_MODEL = {
    "sed": _Key("str", "T21", "T21, W22, M20, G25_85day or a BAYESN.YAML path"),
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
    "milky_way": _Key(
        "str", "Fitzpatrick99", "Galactic dust law (a host dust law's name), with E(B-V)"
    ),
    "milky_way_R_V": _Key(
        "number", None, "Galactic R_V (default 3.1, or a fixed curve's own)", nullable=True
    ),
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
    "seed": _Key("int", 0, "random seed", low=0, high=_MAX_SEED),
    "init": _Key(
        "str",
        "per_sn",
        "chain starts: per_sn (per-SN fits, then the population fitted to them), map "
        "(the joint MAP) or prior",
        choices=("per_sn", "map", "prior"),
    ),  # fmt: skip
    "map_steps": _Key(
        "int", 300, "optimiser steps of the start's fits (and of method MAP)", low=1
    ),  # fmt: skip
    "map_starts": _Key(
        "int", 4, "random starts of those fits; the best is kept (per SN in per-SN fits)", low=1
    ),  # fmt: skip
    "extend_warmup": _Key(
        "int",
        0,
        "extend warm-up (by half) up to this many times while the chains disagree",
        low=0,
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
    "overwrite": _Key(
        "bool", False, "replace the files of an earlier run in dir (sndust fit --overwrite)"
    ),  # fmt: skip
    "require_convergence": _Key(
        "bool",
        False,
        "exit with status 3 when the chains have not converged (summary.json: R-hat, ESS)",
    ),  # fmt: skip
}
_SIMULATE = {
    "design": _Key("any", "foundation", "preset name or a mapping of SurveyDesign fields"),
    "n_sn": _Key("int", 100, "supernovae to draw", low=1),
    "surveys": _Key(
        "any",
        None,
        "instead of design and n_sn: several surveys drawn together, each in a folder of "
        "its own, with metadata.fitres (each entry: name, design, n_sn)",
        nullable=True,
    ),  # fmt: skip
    "header_peak_sd": _Key(
        "number",
        0.0,
        "days: the files' SEARCH_PEAKMJD scattered about the true peak by this much (as a "
        "search's estimate is); metadata.fitres keeps the true peak",
        low=0,
    ),  # fmt: skip
    "seed": _Key("int", 0, "random seed", low=0, high=_MAX_SEED),
    "sed": _MODEL["sed"],
    "population": _MODEL["population"],
    "population_options": _MODEL["population_options"],
    "dust": _MODEL["dust"],
    "hyper": _Key("mapping", {}, "hyperparameter values (others drawn from their priors)"),
}
#: An entry of ``simulate.surveys:``: one survey of a simulated set.
SIMULATED_ENTRY = {
    "name": _Key("str", _REQUIRED, "the survey's name: its folder, SNID prefix and SURVEY"),
    "design": _Key("any", _REQUIRED, "preset name or a mapping of SurveyDesign fields"),
    "n_sn": _Key("int", 100, "supernovae to draw", low=1),
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
#: Lists of sections, by command: dotted key -> (what the list is, the keys of an entry).
LISTS = {
    "fit": {"surveys": ("instead of survey: several surveys in one fit", SURVEY_ENTRY)},
    "simulate": {
        "simulate.surveys": ("instead of design and n_sn: several surveys", SIMULATED_ENTRY)
    },
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
    elif isinstance(node, yaml.SequenceNode):  # list items: <key>.<index>
        for i, v in enumerate(node.value):
            key = f"{prefix}{i}"
            out[key] = v.start_mark.line + 1
            out.update(_lines(v, key + "."))
    return out


def _read_yaml(path: Path) -> tuple[dict, dict[str, int]]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path)) from None
    except (IsADirectoryError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"cannot read config file: {err}", file=str(path)) from None
    data, node = parse_yaml(text, str(path))
    if data is None:
        raise ConfigError("empty config file", file=str(path))
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of sections, got {type(data).__name__}", file=str(path)
        )
    return data, _lines(node)


def parse_yaml(text: str, where: str, field: str | None = None):
    """``(value, node)`` of one YAML document, read safely (no Python objects) and
    refused -- before anything walks it -- when its aliases expand to more than
    :data:`MAX_NODES` nodes or refer to themselves."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_size(node, where, field)
        return (None if node is None else loader.construct_document(node)), node
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(
            f"not valid YAML: {problem}", file=where, line=line, field=field
        ) from None
    except RecursionError:
        raise ConfigError("not valid YAML: nested too deeply", file=where, field=field) from None
    finally:
        loader.dispose()


def _check_size(root, where: str, field: str | None) -> None:
    """Refuse a node graph whose expansion (every alias replaced by what it names)
    exceeds :data:`MAX_NODES`, or that contains itself. Sizes are memoised per node, so
    the check costs one visit per distinct node however far the aliases would expand."""
    sizes: dict[int, int] = {}
    open_ = set()

    def size(node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_:
            line = node.start_mark.line + 1
            raise ConfigError(
                "an alias refers to a node that contains it (a recursive structure)",
                file=where,
                line=line,
                field=field,
            )
        open_.add(id(node))
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_NODES:
                break
        open_.discard(id(node))
        sizes[id(node)] = total
        return total

    if size(root) > MAX_NODES:
        raise ConfigError(
            f"the configuration expands to more than {MAX_NODES:,} values (YAML aliases "
            "that repeat each other); a configuration holds a few hundred",
            file=where,
            field=field,
        )


def example_configs() -> dict[str, Path]:
    """Built-in example configurations by name (``sndust fit foundation_dr1``)."""
    folder = resources.files("sndust") / "configs"
    return {
        p.name[: -len(".yaml")]: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml")
    }


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
        out[section] = _validate_keys(raw, keys, prefix + section, source)
    return out


def _validate_keys(raw: Any, keys: dict[str, _Key], where: str, source: _Source) -> dict:
    """The mapping ``raw`` (at dotted key ``where``) checked against ``keys``, defaults
    filled in."""
    if not isinstance(raw, Mapping):
        raise source.error(where, f"expected a mapping of keys, got {raw!r}")
    for name in raw:
        if name not in keys:
            raise source.error(f"{where}.{name}", _unknown(str(name), keys, "key"))
    values = {}
    for name, key in keys.items():
        dotted = f"{where}.{name}"
        if name not in raw:
            if key.default is _REQUIRED:
                raise source.error(dotted, f"missing required key {dotted!r} ({key.help})")
            values[name] = key.default
            continue
        values[name] = _check(raw[name], key, dotted, source)
    return values


def validate_surveys(entries: Any, source: _Source) -> list[dict]:
    """The ``surveys:`` list of a fit configuration: each entry a survey section read
    from files (the keys of ``survey:`` but ``simulate``) with a ``name`` and its own
    ``cuts``; dotted keys ``surveys.<i>.<key>``."""
    if not isinstance(entries, list) or not entries:
        raise source.error(
            "surveys", "expected a list of survey sections (each: name, path, bands, ...)"
        )
    out = _named_entries(entries, SURVEY_ENTRY, "surveys", source)
    for i, values in enumerate(out):
        values["cuts"] = _validate_keys(values["cuts"] or {}, _CUTS, f"surveys.{i}.cuts", source)
    return out


def validate_simulated_surveys(entries: Any, source: _Source) -> list[dict]:
    """The ``simulate.surveys:`` list: each entry a ``name`` (a file-name-safe word),
    a ``design`` and its ``n_sn``; dotted keys ``simulate.surveys.<i>.<key>``."""
    where = "simulate.surveys"
    if not isinstance(entries, list) or not entries:
        raise source.error(where, "expected a list of surveys (each: name, design, n_sn)")
    out = _named_entries(entries, SIMULATED_ENTRY, where, source)
    for i, values in enumerate(out):
        if not _FILE_WORD.fullmatch(values["name"]):
            raise source.error(
                f"{where}.{i}.name",
                f"expected letters, digits, _ or - (a folder and SNID prefix), got "
                f"{values['name']!r}",
            )
    return out


_FILE_WORD = re.compile(r"[A-Za-z0-9_-]+")


def _named_entries(entries: list, keys: dict, where: str, source: _Source) -> list[dict]:
    """Each entry of a list of named sections checked against ``keys``; names one word
    and distinct."""
    out, seen = [], {}
    for i, entry in enumerate(entries):
        values = _validate_keys(entry, keys, f"{where}.{i}", source)
        name = values["name"]
        if not name.strip() or any(c.isspace() for c in name) or "#" in name:
            raise source.error(f"{where}.{i}.name", f"expected one word, got {name!r}")
        if name in seen:
            raise source.error(
                f"{where}.{i}.name", f"survey {name!r} is also entry {seen[name]}; names differ"
            )
        seen[name] = i
        out.append(values)
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
    "bands": "a mapping (band in the files: sndust filter) or auto",
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
    elif kind == "bands":
        if value != "auto" and not (
            isinstance(value, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
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
    high = _MAX_INT if key.kind == "int" and key.high is None else key.high
    if high is not None and value > high:
        raise fail(f"expected a value <= {high}, got {value!r}")
    return value


def _glob(pattern: str) -> list[Path]:
    path = Path(pattern)
    anchor = Path(path.anchor)
    return (
        sorted(anchor.glob(str(path.relative_to(anchor))))
        if path.is_absolute()
        else sorted(Path().glob(pattern))
    )
