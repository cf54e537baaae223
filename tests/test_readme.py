"""The README points at things that exist: notebooks and their sections, tests, the two commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
TROUBLESHOOTING = README.split("## Troubleshooting", 1)[1].split("\n## ", 1)[0]
SECTION_LINKS = re.findall(r"\[(\d\d) · ([^\]]+)\]\((notebooks/[^)]+\.ipynb)\)", TROUBLESHOOTING)
TEST_LINKS = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?", TROUBLESHOOTING)

# DESIGN §3.4: every Azure answer the lab reproduces has a row.
AZURE_ANSWERS = [
    "invalid subscription key",
    "AuthenticationTypeDisabled",
    "Access token is missing, invalid",
    "Tenant provided in token does not match",
    "PermissionDenied",
    "DeploymentNotFound",
    "429",
    "AuthorizationFailed",
    "RoleAssignmentExists",
    "Unable to load the proper Managed Identity.",
    "No User Assigned or Delegated Managed Identity found",
]


def headings(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return [
        line.lstrip("#").strip()
        for cell in cells
        if cell["cell_type"] == "markdown"
        for line in "".join(cell["source"]).splitlines()
        if line.startswith("## ")
    ]


@pytest.mark.parametrize("answer", AZURE_ANSWERS)
def test_troubleshooting_covers_azures_answer(answer: str) -> None:
    assert answer in TROUBLESHOOTING


@pytest.mark.parametrize(("number", "section", "path"), SECTION_LINKS)
def test_troubleshooting_links_a_section_that_exists(number: str, section: str, path: str) -> None:
    notebook = REPO / path
    assert notebook.name.startswith(number) and notebook.is_file()
    assert any(h.startswith(section) for h in headings(notebook)), f"{path} has no section '{section}'"


@pytest.mark.parametrize(("path", "name"), TEST_LINKS)
def test_troubleshooting_links_a_test_that_exists(path: str, name: str) -> None:
    assert (REPO / path).is_file()
    if name:
        assert f"def {name}(" in (REPO / path).read_text(encoding="utf-8")


def test_every_notebook_is_in_the_table() -> None:
    for notebook in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"(notebooks/{notebook.name})" in README


def test_quick_start_is_the_two_make_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^make (\w+)", quick, re.MULTILINE)
    assert commands == ["lab", "test"]
    makefile = (REPO / "Makefile").read_text()
    assert "\nlab:" in makefile and "\ntest:" in makefile
    assert "make test" in (REPO / ".ci" / "run").read_text()
