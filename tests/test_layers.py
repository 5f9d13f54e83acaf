"""The package's layers (README, "Where things happen") import downward only: no module
imports a module of a higher layer, at its top or inside a function, and only the
application layer imports ``sndust`` as a package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "sndust"

#: lowest first; a module may import its own layer and those below
LAYERS = [
    ("base", ["_errors", "_compile", "_files", "_precision", "_version", "_custom_types"]),
    (
        "components",
        ["_spline", "_filters", "_fitres", "_survey", "_sed", "_dust", "_population"],
    ),
    ("forward model", ["_forward"]),
    ("model", ["_model"]),
    ("inference", ["_inference"]),
    ("simulation", ["_simulate"]),
    ("sampling", ["_sampling"]),
    ("figures, comparison, sncosmo", ["plots", "_compare", "_marginal", "_sncosmo"]),
    ("application", ["_app"]),
    ("package", ["__init__", "__main__"]),
]
RANK = {name: rank for rank, (_, names) in enumerate(LAYERS) for name in names}


def _top(path: Path) -> str:
    """The top-level name (module or subpackage) a file belongs to."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imports(path: Path):
    """(top-level sndust name imported, line) for every import in the file."""
    tree = ast.parse(path.read_text())
    depth = len(path.relative_to(PACKAGE).parts) - 1  # folders below the package
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: climb to the package, then descend
                up = node.level - 1
                if up > depth:
                    continue
                base = list(path.relative_to(PACKAGE).parts[: depth - up])
                target = base + (node.module.split(".") if node.module else [])
                names = [target[0]] if target else [alias.name for alias in node.names]
            elif node.module and node.module.split(".")[0] == "sndust":
                rest = node.module.split(".")[1:]
                names = [rest[0]] if rest else ["sndust"]
            else:
                continue
            for name in names:
                yield name, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sndust":
                    yield (parts[1] if len(parts) > 1 else "sndust"), node.lineno


FILES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    assert {_top(p) for p in FILES} <= set(RANK), {_top(p) for p in FILES} - set(RANK)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_downward(path):
    own = _top(path)
    for name, line in _imports(path):
        where = f"{path.relative_to(PACKAGE)}:{line} imports {name}"
        if name == "sndust":
            assert RANK[own] >= RANK["_app"], f"{where}: only the application layer may"
            continue
        if name not in RANK:  # a name from the package's __init__ (from .. import x)
            assert RANK[own] >= RANK["_app"], f"{where}: through the package's __init__"
            continue
        assert RANK[name] <= RANK[own], f"{where}, a higher layer"
