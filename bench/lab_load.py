"""The lab under load: chat-call throughput with 1, 8 and 32 concurrent clients, and what checking
a bearer token (signature, claims) costs the lab per request.

The clients run in a separate process (asyncio, ``AsyncAzureOpenAI`` with a token provider), so the
lab's server thread has this process's interpreter to itself, as a service would.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from keyless_lab import Lab
from keyless_lab.directory import COGNITIVE_SERVICES

from .table import Row

HOST = "chat-app"
ROOT = Path(__file__).resolve().parent.parent


def throughput(lab: Lab, clients: int, calls: int) -> float:
    hosted = lab.hosted(HOST)
    env = {k: v for k, v in os.environ.items() if k not in hosted.removed}
    env.update(hosted)
    out = subprocess.run(
        [sys.executable, "-m", "bench.load_client", str(clients), str(calls)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["calls"] / result["seconds"]


def validation_cost(lab: Lab, repeats: int) -> tuple[float, float]:
    """Median seconds of ``issuer.validate`` for a managed identity's token seen for the first time
    (signature and claims checked) and for the same token again (its signature remembered)."""
    identity = lab.state.directory.principals[HOST]
    issuer = lab.state.issuer
    tokens = [issuer.issue(identity, COGNITIVE_SERVICES).token for _ in range(repeats // 10)]
    first, again = [], []
    for token in tokens:
        started = time.perf_counter()
        issuer.validate(token, (COGNITIVE_SERVICES,))
        first.append(time.perf_counter() - started)
    for _ in range(repeats):
        started = time.perf_counter()
        issuer.validate(tokens[0], (COGNITIVE_SERVICES,))
        again.append(time.perf_counter() - started)
    return statistics.median(first), statistics.median(again)


def rows(lab: Lab, calls: int, request_latency: float | None, validations: int = 2000) -> list[Row]:
    section = "3 · lab"
    out = []
    lab.preset("ready")
    for clients in (1, 8, 32):
        rate = throughput(lab, clients, calls)
        out.append(
            Row(section, f"chat-call throughput, {clients} concurrent client(s) ({calls} calls)", f"{rate:.0f} calls/s")
        )
    first, again = validation_cost(lab, validations)
    for label, cost, n in (
        ("first use of a token", first, validations // 10),
        ("same token again", again, validations),
    ):
        share = f"; {cost / request_latency:.1%} of a cached-token call's median latency" if request_latency else ""
        out.append(
            Row(section, f"token validation `issuer.validate`, {label} (median of {n})", f"{cost * 1e6:.0f} µs{share}")
        )
    return out
