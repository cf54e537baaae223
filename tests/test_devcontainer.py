"""The Codespaces / Dev Containers definition: it parses as JSON with comments, its image and
features are pinned, and what it runs after creation exists in this repository."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"


def strip_jsonc(text: str) -> str:
    """JSON with comments and trailing commas -> JSON. `//` and `/*` inside strings are kept."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            out.append(text[i : end + 1])
            i = end + 1
        elif text.startswith("//", i):
            newline = text.find("\n", i)
            i = n if newline == -1 else newline
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            if close == -1:
                raise ValueError("unterminated /* comment")
            i = close + 2
        else:
            out.append(char)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))


def load_jsonc(text: str) -> Any:
    return json.loads(strip_jsonc(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1} // comment', {"a": 1}),
        ('{"url": "https://example.test/x"} // "not": "this"', {"url": "https://example.test/x"}),
        ('{"a": "/* kept */", /* dropped */ "b": 2}', {"a": "/* kept */", "b": 2}),
        ('{"q": "say \\"// hi\\"", "l": [1, 2,],}', {"q": 'say "// hi"', "l": [1, 2]}),
    ],
)
def test_strip_jsonc(text: str, expected: Any) -> None:
    assert load_jsonc(text) == expected


def test_strip_jsonc_rejects_an_open_comment() -> None:
    with pytest.raises(ValueError):
        strip_jsonc('{"a": 1} /* never closed')


CONFIG = load_jsonc(DEVCONTAINER.read_text())


def test_image_is_pinned() -> None:
    image = CONFIG["image"]
    name, _, tag = image.rpartition(":")
    assert name == "mcr.microsoft.com/devcontainers/python"
    assert tag and tag != "latest" and "latest" not in tag
    # A full image-definition version (x.y.z) and the Python version, e.g. 1.1.9-3.11-bookworm.
    assert re.fullmatch(r"\d+\.\d+\.\d+-3\.1[0-9]-\w+", tag), tag


@pytest.mark.parametrize(
    ("feature", "options"),
    [
        ("ghcr.io/devcontainers/features/azure-cli", {"installBicep": True}),
        ("ghcr.io/azure/azure-dev/azd", {}),
    ],
)
def test_feature_is_pinned(feature: str, options: dict[str, Any]) -> None:
    matches = {ref: opts for ref, opts in CONFIG["features"].items() if ref.rpartition(":")[0] == feature}
    assert len(matches) == 1, f"{feature} is missing or listed twice"
    ((ref, opts),) = matches.items()
    assert re.fullmatch(r"\d+", ref.rpartition(":")[2]), f"{ref}: pin the feature's major version"
    assert re.fullmatch(r"\d+\.\d+\.\d+", opts.get("version", "")), f"{ref}: pin the tool's version"
    for key, value in options.items():
        assert opts.get(key) == value


@pytest.mark.parametrize("extension", ["ms-toolsai.jupyter", "ms-python.python", "ms-azuretools.vscode-bicep"])
def test_vscode_extension(extension: str) -> None:
    assert extension in CONFIG["customizations"]["vscode"]["extensions"]


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.MULTILINE))


def test_post_create_runs_an_existing_make_target() -> None:
    command = shlex.split(CONFIG["postCreateCommand"])
    assert command[0] == "make", "postCreateCommand should go through the Makefile"
    targets = [word for word in command[1:] if not word.startswith("-")]
    assert targets, "name the target explicitly"
    missing = set(targets) - makefile_targets()
    assert not missing, f"Makefile has no target {missing}"


def test_interpreter_is_the_make_venv() -> None:
    path = CONFIG["customizations"]["vscode"]["settings"]["python.defaultInterpreterPath"]
    assert path == "${containerWorkspaceFolder}/.venv/bin/python"
    assert re.search(r"^VENV\s*:=\s*\.venv$", (ROOT / "Makefile").read_text(), re.MULTILINE)


def test_referenced_workspace_paths_exist() -> None:
    settings = CONFIG["customizations"]["vscode"]["settings"]
    root = settings["jupyter.notebookFileRoot"].replace("${workspaceFolder}", str(ROOT))
    assert Path(root).is_dir()
