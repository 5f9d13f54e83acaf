"""The documentation site: its Python examples run as written, and every page the
navigation names exists (`mkdocs build --strict`, run by .ci/run, checks the rest:
cross-references, links and the API pages generated from the docstrings)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import yaml
from conftest import REPO


def _python_blocks(page: str) -> list[str]:
    text = (REPO / "docs" / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    # a block that includes a whole file (--8<--) is tested where that file lives
    return [b for b in blocks if "--8<--" not in b]


def test_extending_page_examples_run(tmp_path):
    code = "\n".join(_python_blocks("extending.md"))
    assert "class PowerLawDust" in code and "def read_photometry_csv" in code
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "TMPDIR": str(tmp_path)},
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_every_page_in_the_navigation_exists():
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=Loader)

    def pages(entry):
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, dict):
            for value in entry.values():
                yield from pages(value)
        elif isinstance(entry, list):
            for value in entry:
                yield from pages(value)

    named = list(pages(config["nav"]))
    assert len(named) > 20
    missing = [p for p in named if not (REPO / "docs" / p).is_file()]
    assert not missing, missing
