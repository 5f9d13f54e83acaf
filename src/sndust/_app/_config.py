"""YAML run configurations for ``sndust fit`` and ``sndust simulate``: ``load_config``
reads a file (``_schema``), checks every key, then the names it gives (SED model, dust
law, population, sampler, design; ``_registry``) and their options, before any data is
read; the builders here turn the checked values into objects.

Relative paths in a configuration file are relative to that file's folder; paths given
on the command line, and paths in the built-in example configurations, are relative to
the working directory.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .._errors import ConfigError, ModelError
from . import _registry
from ._registry import unknown as _unknown
from ._schema import (
    _SAMPLER_RESERVED,
    _SIMULATED,
    _SURVEY,
    SCHEMAS,
    _check,
    _Key,
    _read_yaml,
    _Source,
    _validate,
    example_configs,
    parse_yaml,
    validate_simulated_surveys,
    validate_surveys,
)

__all__ = [
    "build",
    "build_design",
    "build_dust",
    "build_population",
    "build_sampler",
    "build_sed",
    "load_config",
    "simulated_designs",
]


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
            value = parse_yaml(text, "command line", key)[0] if text.strip() else None
        except ConfigError as err:
            if not err.message.startswith("not valid YAML"):
                raise
            value = text
        node, path = data, []
        for part, below in zip(parts[:-1], parts[1:]):  # descend, copying, into the config
            at = _index(node, part, ".".join(path + [part]))
            path.append(part)
            current = node[at] if isinstance(node, list) else node.get(part)
            if current is None:
                cli.add(".".join(path))  # created on the command line
                current = {}
            elif path[-1] == "design" and isinstance(current, str):
                current = {"preset": current}  # a preset name refined by design fields
            elif isinstance(current, list) and below.isdigit():
                current = list(current)  # an entry of a list: surveys.0.cuts.z_max
            elif not isinstance(current, Mapping):
                raise in_file.error(".".join(path), f"expected a mapping of keys, got {current!r}")
            node[at] = dict(current) if isinstance(current, Mapping) else current
            node = node[at]
        node[_index(node, parts[-1], key)] = value
        cli.add(key)
    source = _Source(file, lines, base, cli)
    surveys = data.pop("surveys", None) if command == "fit" else None
    if surveys is not None and data.get("survey") is not None:
        raise source.error("surveys", "give survey: (one survey) or surveys: (a list), not both")
    if surveys is not None:
        data["survey"] = {}  # its defaults; the surveys are the list's
    out = _validate(data, schema, source)
    if command == "fit":
        out["surveys"] = None if surveys is None else validate_surveys(surveys, source)
    elif out["simulate"]["surveys"] is not None:
        given = sorted({"design", "n_sn"} & set(data["simulate"]))
        if given:
            raise source.error(
                f"simulate.{given[0]}",
                "give design and n_sn in each entry of simulate.surveys, not beside it",
            )
        out["simulate"]["surveys"] = validate_simulated_surveys(out["simulate"]["surveys"], source)
    for where, section in _survey_sections(out):
        table = section.get("peak_table")
        if table is not None and Path(table).name != table:  # (a bare name: its folder's)
            section["peak_table"] = str(source.base_of(f"{where}.peak_table") / table)
    _check_models(out, command, source)
    return out


def _survey_sections(cfg: dict) -> list[tuple[str, dict]]:
    """``(dotted key, section)`` of every survey a configuration reads."""
    if cfg.get("surveys"):
        return [(f"surveys.{i}", entry) for i, entry in enumerate(cfg["surveys"])]
    return [("survey", cfg["survey"])] if "survey" in cfg else []


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
            build_dust(values)
            build_dust(values, milky_way=True)
            _check_sampler(cfg["sampler"])
            _check_survey(cfg["survey"], source, cfg["surveys"])
        population = build_population(
            values["population"], values["population_options"], f"{section}.population"
        )
        if command == "simulate":
            for where, design in simulated_designs(values).items():
                _check_bands(design.bands, f"{where}.bands")
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
    build_sampler(values)


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


def _check_survey(values: dict, source: _Source, several: list | None = None) -> None:
    """Exactly one of ``path`` and ``simulate`` (unless ``surveys:`` lists several: each
    needs its ``path``); a simulated survey's keys checked."""
    if several:
        for i, entry in enumerate(several):
            if entry["path"] is None:
                raise ConfigError(
                    f"missing required key 'surveys.{i}.path' ({_SURVEY['path'].help})",
                    field=f"surveys.{i}.path",
                )
        return
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


def build_population(name: str, options: Mapping, field: str = "model.population"):
    """The population called ``name`` (built-in, or ``module:Class``), with ``options``."""
    cls = _registry.resolve("population", name, field)
    where = f"{field.rsplit('.', 1)[0]}.population_options"
    return build(cls, _check_types(options, _registry.describe(cls), where), where)


def build(factory: Callable, options: Mapping, field: str):
    """``factory(**options)``, its refusals reported at ``field`` (``field.name`` where
    they name a field), prefixed with the class's name when ``factory`` is a class."""
    prefix = f"{factory.__name__}: " if isinstance(factory, type) else ""
    try:
        return factory(**options)
    except TypeError as err:
        raise ConfigError(f"{prefix}{err}", field=field) from None
    except ConfigError as err:
        name = f"{field}.{err.field}" if err.field else field
        raise ConfigError(f"{prefix}{err.message}", field=name) from None


def build_sampler(values: dict):
    """The sampler a validated ``sampler`` section names, or None for ``MAP``."""
    cls = _registry.resolve("sampler", values["method"], "sampler.method")
    return None if cls is None else build(cls, sampler_options(values), "sampler.options")


def build_dust(section: dict, name: str = "model", *, milky_way: bool = False):
    """The host dust law a validated ``model`` (or ``simulate``) section names, or with
    ``milky_way`` its Galactic law (checked against ``milky_way_R_V``)."""
    if not milky_way:
        cls = _registry.resolve("dust", section["dust"], f"{name}.dust")
        return build(cls, section.get("dust_options", {}), f"{name}.dust_options")
    from .._dust._milky_way import milky_way_R_V

    field = f"{name}.milky_way"
    law = build(_registry.resolve("dust", section["milky_way"], field), {}, field)
    try:
        milky_way_R_V(law, section.get("milky_way_R_V"))
    except ModelError as err:
        raise ConfigError(err.message, field=f"{name}.milky_way_R_V") from None
    return law


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


def build_sed(name: str, field: str = "model.sed"):
    import sndust as sd

    try:
        return sd.BayeSNModel.load(name)
    except sd.SndustError as err:
        raise ConfigError(f"{err}", field=field) from None


def _index(node, part: str, key: str):
    """Where ``part`` of a ``--set`` key lies in ``node``: a mapping's key, or a list's
    position (``surveys.0.cuts``) among those there are."""
    if not isinstance(node, list):
        return part
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(
            f"expected an entry number 0-{len(node) - 1} of this list, got {part!r}",
            file="command line",
            field=key.rpartition(".")[0],
        )
    return int(part)


def simulated_designs(sim: dict) -> dict[str, Any]:
    """Dotted key -> :class:`SurveyDesign` of each survey a validated ``simulate``
    section draws (one, or each entry of ``surveys``)."""
    if sim["surveys"] is None:
        return {"simulate.design": build_design(sim["design"])}
    where = [f"simulate.surveys.{i}.design" for i in range(len(sim["surveys"]))]
    return {w: build_design(entry["design"], w) for w, entry in zip(where, sim["surveys"])}


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
    return build(lambda **kw: dataclasses.replace(start, **kw), fields, field)
