"""Names in a configuration → the classes they stand for.

One table per kind: SED models, dust laws, populations, samplers and survey formats. A
built-in is named by its class name (``NUTS``, ``MassSplit``), a class of your own by
``module:Class`` (importable from the working directory or an installed package), which
must subclass the kind's base class. A configuration naming ``module:Class`` runs that
module's code: an untrusted configuration is untrusted code.

Adding a built-in is one entry in :data:`BUILTINS`.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from collections.abc import Mapping

from .._errors import ConfigError

__all__ = ["BUILTINS", "KINDS", "describe", "names", "resolve", "unknown"]

#: built-in names of each kind (``MAP`` is the mode plus Laplace draws: a method, not a
#: sampler class)
BUILTINS: dict[str, tuple[str, ...]] = {
    "sed": ("T21", "W22", "M20", "G25_85day"),
    "dust": (
        "Fitzpatrick99",
        "CCM89",
        "ODonnell94",
        "Gordon23",
        "Fitzpatrick19",
        "FitzpatrickMassa07",
        "Gordon03SMCBar",
        "Calzetti00",
    ),
    "population": (
        "SinglePopulation",
        "MassSplit",
        "MassSplitSED",
        "RedshiftLinear",
        "FixedPopulation",
    ),
    "sampler": ("NUTS", "MCLMC", "AdjustedMCLMC", "MAP"),
    "format": ("snana", "bayesn_table"),
}


@dataclasses.dataclass(frozen=True)
class _Kind:
    what: str  # how an unknown name is reported
    base: str  # the sndust base class a module:Class must subclass


#: kinds named by a class (SED models and formats are names only: ``names``)
KINDS = {
    "dust": _Kind("value", "AbstractDustLaw"),
    "population": _Kind("population", "DustPopulation"),
    "sampler": _Kind("value", "AbstractSampler"),
}


def unknown(name: str, known, what: str) -> str:
    """``unknown <what> 'name'; did you mean …? (expected one of: …)``."""
    known = list(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r}{hint} (expected one of: {', '.join(known)})"


def names(kind: str) -> tuple[str, ...]:
    return BUILTINS[kind]


def resolve(kind: str, name: str, field: str):
    """The class a configuration's ``name`` stands for (``sampler`` ``MAP``: None).

    Raises:
        ConfigError: an unknown name (the nearest built-in suggested), a module that
            cannot be imported, or a class that is not of this kind.
    """
    import sndust as sd

    spec = KINDS[kind]
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except Exception as err:  # noqa: BLE001 - any failure of user code is reported
            raise ConfigError(f"cannot import {name!r}: {err}", field=field) from None
        base = getattr(sd, spec.base)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise ConfigError(f"{name!r} is not a {spec.base} subclass", field=field)
        return cls
    if name not in BUILTINS[kind]:
        mine = f", or 'module:Class' of your own {kind}"
        raise ConfigError(unknown(name, BUILTINS[kind], spec.what) + mine, field=field)
    if name == "MAP":
        return None
    return getattr(sd, name)


_KINDS_OF_ANNOTATIONS = {"float": "number", "int": "int", "bool": "bool", "str": "str"}


def describe(cls) -> dict[str, str]:
    """The options of a class: its dataclass fields with a simple type (number, int,
    bool, str), by name → kind."""
    out = {}
    for f in dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ():
        annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        out[f.name] = _KINDS_OF_ANNOTATIONS.get(annotation.replace(" ", ""), "any")
    return out


def option_fields(cls, options: Mapping, field: str, reserved: Mapping[str, str] = {}):
    """Check ``options`` (keyword arguments of ``cls``) by name: each must be a field of
    ``cls`` and not one set elsewhere in the configuration (``reserved``: option → the
    key that sets it). Returns name → kind for the type checks."""
    fields = describe(cls)
    for name in options:
        if name in reserved:
            raise ConfigError(
                f"{cls.__name__}'s {name!r} is set by {reserved[name]}", field=f"{field}.{name}"
            )
        if name not in fields:
            allowed = [f for f in fields if f not in reserved]
            raise ConfigError(
                unknown(str(name), allowed, f"option of {cls.__name__}")
                if allowed
                else f"{cls.__name__} takes no options, got {name!r}",
                field=f"{field}.{name}",
            )
    return fields
