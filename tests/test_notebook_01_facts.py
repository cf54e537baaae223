"""Facts about this repository that notebook 01 states but cannot check from inside a lesson:
the `.gitignore` rule it copies, and the template's `disableLocalAuth` that makes its key demos lab-only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
NOTEBOOK = ROOT / "notebooks" / "01_risks_of_api_keys.ipynb"


def notebook_source() -> str:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells)


def test_the_gitignore_rule_the_notebook_writes_is_this_projects() -> None:
    # "This workbook's own .gitignore starts with the two lines below" — the cell writes them escaped.
    rule = "# Settings and secrets stay on your machine\n.env\n"
    assert (ROOT / ".gitignore").read_text(encoding="utf-8").startswith(rule)
    assert rule.replace("\n", "\\n") in notebook_source()


@pytest.mark.parametrize(
    ("path", "setting"),
    [("infra/core/ai/openai.bicep", "disableLocalAuth: true")],
    ids=["template-disables-keys"],
)
def test_the_template_disables_keys_as_the_notebook_says(path: str, setting: str) -> None:
    # On Azure the key demos are skipped because the provisioned account refuses keys.
    assert setting in (ROOT / path).read_text(encoding="utf-8")
    assert path.rsplit("/", 1)[-1] in notebook_source()
