"""Where the shipped model files live.

In a wheel they are package data (``sndust/model_files``); in a source checkout
(editable install, tests) they are the repository's top-level ``model_files/``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ._errors import ModelError

__all__ = ["model_files_dir"]


@functools.cache
def model_files_dir() -> Path:
    """The directory holding ``models/``, ``filters/``, ``standards/`` and ``templates/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "model_files", here.parents[1] / "model_files"):
        if (candidate / "filters.yaml").is_file():
            return candidate
    raise ModelError(
        "sndust's model files were not found: looked in "
        f"{here / 'model_files'} and {here.parents[1] / 'model_files'}. Reinstall sndust."
    )
