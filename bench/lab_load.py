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


def validation_cost(lab: Lab, repeats: int) -> float:
    """Median seconds of one ``issuer.validate`` of a managed identity's token."""
    identity = lab.state.directory.principals[HOST]
    token = lab.state.issuer.issue(identity, COGNITIVE_SERVICES).token
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        lab.state.issuer.validate(token, (COGNITIVE_SERVICES,))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def rows(lab: Lab, calls: int, request_latency: float | None, validations: int = 2000) -> list[Row]:
    section = "3 · lab"
    out = []
    lab.preset("ready")
    for clients in (1, 8, 32):
        rate = throughput(lab, clients, calls)
        out.append(
            Row(section, f"chat-call throughput, {clients} concurrent client(s) ({calls} calls)", f"{rate:.0f} calls/s")
        )
    cost = validation_cost(lab, validations)
    share = f"; {cost / request_latency:.1%} of a cached-token call's median latency" if request_latency else ""
    out.append(
        Row(
            section,
            f"token validation `issuer.validate` (median of {validations})",
            f"{cost * 1e6:.0f} µs{share}",
        )
    )
    return out
