"""``python -m bench --quick`` runs and prints the results table; relations only, never timings."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| (.*) \| (.*) \| (.*) \| (.*) \| (.*) \|$")


def test_quick_token_economy_prints_one_table_in_which_the_provider_asks_for_fewer_tokens() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "token-economy"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[:2] == ["| section | measurement | value | target | result |", "|---|---|---|---|---|"]
    rows = [ROW.match(line) for line in lines[2:]]
    assert all(rows), lines
    cells = {m.group(2): m.group(3) for m in rows if m is not None}
    assert len(cells) == 8  # seven patterns and the provider's ratio

    def requests_per_thousand(label: str) -> float:
        value = cells[label]
        match = re.match(r"(\d+(?:\.\d+)?) token requests per 1000 calls \((\d+) over (\d+) calls", value)
        assert match, value
        return float(match.group(1))

    per_call = requests_per_thousand("(a) new `ManagedIdentityCredential` per call")
    provider = requests_per_thousand("(c) `get_bearer_token_provider`")
    assert provider < per_call
    # A new credential per call asks for a token on every call; the provider once.
    assert per_call == 1000
    assert provider == 1
    assert lines[2].startswith("| 1 · token economy |")
    assert cells["provider vs new credential per call"].endswith("× fewer token requests")
