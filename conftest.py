"""Every notebook nbmake executes is also scanned: its outputs must hold no whole token and no key.

The scan reads the executed notebook nbmake already has in memory, so no notebook runs twice. A
finding fails that notebook's test item with the cell and a masked excerpt (DESIGN §3.7).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

JWT = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")
# Azure OpenAI keys (and the lab's host secrets) are 32 hexadecimal characters.
HEX_KEY = re.compile(r"(?<![0-9A-Fa-f])[0-9a-f]{32}(?![0-9A-Fa-f])")


@lru_cache(maxsize=1)
def public_hex_ids() -> frozenset[str]:
    """IDs a lesson may print without dashes (Azure does, in some errors): none of them is secret."""
    from keyless_lab.directory import default_directory

    try:
        from importlib.resources import files

        roles = json.loads(files("keyless_lab").joinpath("data/builtin_roles.json").read_text())
    except (FileNotFoundError, ValueError):
        roles = []
    text = json.dumps(roles)
    directory = default_directory()
    ids = set(re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text))
    ids |= {directory.tenant_id, directory.subscription_id, directory.foreign_tenant_id}
    for principal in directory.principals.values():
        ids |= {principal.object_id, principal.client_id or ""}
    return frozenset(i.replace("-", "") for i in ids if i)


def mask(value: str) -> str:
    return f"{value[:4]}…({len(value)} chars)…{value[-4:]}"


def scan_outputs(nb: Any) -> list[tuple[int, str]]:
    """``(cell index, finding)`` for every whole JWT or 32-hex key in the cells' outputs."""
    findings = []
    allowed = public_hex_ids()
    for index, cell in enumerate(nb.get("cells", [])):
        text = json.dumps(cell.get("outputs", []))
        for token in JWT.findall(text):
            findings.append((index, f"a whole JWT {mask(token)}"))
        for key in HEX_KEY.findall(text):
            if key not in allowed:
                findings.append((index, f"a 32-hex key {mask(key)}"))
    return findings


def pytest_configure(config: Any) -> None:
    try:
        from nbmake import pytest_items
        from nbmake.nb_result import NotebookError, NotebookResult
        from nbmake.nb_run import NotebookRun
    except ImportError:
        return
    if getattr(pytest_items.NotebookRun, "scans_outputs", False):
        return

    class ScanningNotebookRun(NotebookRun):
        """nbmake's run, then a scan of the outputs it produced; a leak fails like a failing cell."""

        scans_outputs = True

        def execute(self) -> NotebookResult:
            result = super().execute()
            findings = scan_outputs(result.nb)
            if result.error is not None or not findings:
                return result
            lines = [f"cell {index}: {what}" for index, what in findings]
            summary = f"Notebook output shows {findings[0][1]} (print tokens masked or as decoded claims)"
            trace = "Secret scan of the executed notebook's outputs:\n" + "\n".join(lines)
            return NotebookResult(nb=result.nb, error=NotebookError(summary, trace, findings[0][0]))

    pytest_items.NotebookRun = ScanningNotebookRun
