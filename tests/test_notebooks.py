"""The notebooks in notebooks/ execute top to bottom (small settings:
SNDUST_NOTEBOOK_SMALL=1), each in a fresh kernel with notebooks/ as working directory."""

from __future__ import annotations

import nbformat
import pytest
from conftest import REPO, SHARED
from nbclient import NotebookClient

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_the_four_tutorials_are_there():
    names = {p.stem for p in NOTEBOOKS}
    assert names == {
        "01_quickstart",
        "02_custom_population",
        "03_map_laplace",
        "04_multi_device",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("SNDUST_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("SNDUST_SHARED", str(SHARED))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError with the cell and traceback on failure
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
