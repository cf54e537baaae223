"""The notebooks as files: stripped of outputs, with a kernel, the shared first cell, a Recap and a
Reference snippet that compiles (so no snippet a learner copies can rot unnoticed).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
FENCED_PYTHON = re.compile(r"```python\n(.*?)```", re.DOTALL)


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    nb = load(path)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, f"{path.name}: strip outputs"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_shape_of_a_lesson(path: Path) -> None:
    cells = load(path)["cells"]
    assert source(cells[0]).startswith(f"# {path.name[:2]} · ")
    first_code = next(source(c) for c in cells if c["cell_type"] == "code")
    assert first_code.startswith("from keyless_lab import connect\ntarget = connect(")
    headings = [source(c).splitlines()[0] for c in cells if c["cell_type"] == "markdown" and source(c)]
    assert "## Recap" in headings and "## Reference snippet" in headings
    for cell in cells:
        assert "raises-exception" not in cell.get("metadata", {}).get("tags", []), "catch and assert errors instead"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_reference_snippet_compiles(path: Path) -> None:
    cells = load(path)["cells"]
    index = next(i for i, c in enumerate(cells) if source(c).startswith("## Reference snippet"))
    snippets = [s for c in cells[index:] if c["cell_type"] == "markdown" for s in FENCED_PYTHON.findall(source(c))]
    assert snippets, f"{path.name}: the Reference snippet needs a ```python block"
    for snippet in snippets:
        compile(snippet, f"{path.name}:reference", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        assert "keyless_lab" not in snippet, "a reference snippet is production code: no lab in it"
