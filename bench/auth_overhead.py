"""Auth overhead: a chat call's latency with an API key, a cached bearer token, and a new credential per call.

The patterns run interleaved in rounds, in a rotating order, so that drift in the machine's load
falls on all of them alike; the figure is each pattern's median latency as a ratio to the key's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from keyless_lab import Lab

from .calls import COGNITIVE_SCOPE, chat, client_settings
from .table import Row, verdict

HOST = "chat-app"


def _clients(stack: ExitStack, lab: Lab) -> dict[str, tuple[Any, int]]:
    """Clients by pattern name, each with its calls per round."""
    from azure.identity import ManagedIdentityCredential, get_bearer_token_provider
    from openai import AzureOpenAI

    key = lab.state.account.keys()["key1"]
    credential = stack.enter_context(ManagedIdentityCredential())
    provider = get_bearer_token_provider(credential, COGNITIVE_SCOPE)

    def new_credential_token() -> str:
        with ManagedIdentityCredential() as per_call:
            return per_call.get_token(COGNITIVE_SCOPE).token

    def client(**auth: Any) -> Any:
        return stack.enter_context(AzureOpenAI(**client_settings(), **auth))

    return {
        "api-key": (client(api_key=key), 20),
        "cached token (provider)": (client(azure_ad_token_provider=provider), 20),
        "new credential per call": (client(azure_ad_token_provider=new_credential_token), 3),
    }


def _timed(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(lab: Lab, rounds: int) -> dict[str, list[float]]:
    """Per-call latencies (seconds) by pattern; keys are allowed and ``chat-app`` holds the data role."""
    lab.preset("fresh")
    lab.grant_openai_user(HOST)
    samples: dict[str, list[float]] = {}
    with lab.hosted(HOST), ExitStack() as stack:
        clients = _clients(stack, lab)
        for client, _ in clients.values():
            chat(client)  # connection, token and first-call costs are not the steady state
        names = list(clients)
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                client, per_round = clients[name]
                samples.setdefault(name, []).extend(_timed(lambda c=client: chat(c)) for _ in range(per_round))
    return samples


def rows(lab: Lab, rounds: int = 15) -> tuple[list[Row], float]:
    """The table rows, and the cached-token median latency (s) for the validation share."""
    section = "2 · auth overhead"
    samples = measure(lab, rounds)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    key = medians["api-key"]
    out = []
    for name, median in medians.items():
        out.append(
            Row(
                section,
                f"{name}: median latency / api-key's",
                f"{median / key:.2f}× ({median * 1000:.1f} ms, {len(samples[name])} calls)",
            )
        )
    overhead = medians["cached token (provider)"] / key - 1
    out.append(
        Row(section, "cached-token overhead over api-key", f"{overhead:+.1%}", "within 10 %", verdict(overhead <= 0.10))
    )
    return out, medians["cached token (provider)"]
