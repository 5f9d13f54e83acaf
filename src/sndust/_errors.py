"""Exceptions raised by sndust.

Every error caused by user input (a file, a table, a config value, a model name) is a
:class:`SndustError` that says *where* the problem is — file, line, field — and what was
expected, so that it never reaches the user as a raw NumPy or JAX traceback.
"""

from __future__ import annotations

import os


class SndustError(Exception):
    """Base class of every sndust error.

    Args:
        message: what is wrong and what was expected.
        file: the file the problem was found in, if any.
        line: 1-based line number in ``file``, if known.
        field: the header key, column, config key or argument at fault, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | os.PathLike | None = None,
        line: int | None = None,
        field: str | None = None,
    ):
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line
        self.field = field
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class DataError(SndustError, ValueError):
    """Malformed or inconsistent data: light-curve files, tables, filter curves."""


class ModelError(SndustError, ValueError):
    """Unknown or malformed model files, filters, or inconsistent model inputs."""


class ConfigError(SndustError, ValueError):
    """Invalid configuration values or options."""


class NotConverged(Exception):
    """A run that was required to converge (``output.require_convergence``) and whose
    chains did not; its results are written. Not a :class:`SndustError`: nothing was
    wrong with the input (``sndust`` exits with status 3, not 2)."""

    def __init__(self, check: dict, summary):
        criteria = check["criteria"]
        super().__init__(
            f"{len(check['failing'])} parameter(s) miss R-hat ≤ {criteria['rhat_max']:g} and "
            f"bulk/tail ESS ≥ {criteria['ess_min']:g} (first: {check['failing'][0]}); the "
            f"results and {summary} are written"
        )
