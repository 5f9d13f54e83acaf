"""The README's Python example runs as written (from the repository root)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO


def test_readme_python_example_runs():
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    code = "\n".join(blocks) + "\nassert float(loglike) < 0 and flux.shape == (n, prepared.n_obs)\n"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_readme_config_is_a_valid_fit_config(foundation_dir):
    import yaml

    from sndust._app._config import load_config

    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1
    cfg = load_config(yaml.safe_load(blocks[0]), "fit", [f"survey.path={foundation_dir}"])
    assert cfg["cuts"]["phase_window"] == [-10.0, 40.0] and cfg["sampler"]["chains"] == 4
