"""Token economy: how many token requests reach the identity service per 1000 chat calls.

Each pattern runs as the App Service app ``chat-app`` would, with its managed identity and Azure's
token lifetime for it (24 h). Requests are counted from the lab's audit log of the identity endpoint,
the stand-in for the sign-in logs Azure keeps of managed-identity token requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from keyless_lab import Lab

from .calls import COGNITIVE_SCOPE, chat, chat_async, client_settings
from .table import Row, verdict

PER = 1000
HOST = "chat-app"


def new_credential_per_call(calls: int) -> None:
    from azure.identity import ManagedIdentityCredential
    from openai import AzureOpenAI

    def token() -> str:
        with ManagedIdentityCredential() as credential:
            return credential.get_token(COGNITIVE_SCOPE).token

    with AzureOpenAI(**client_settings(), azure_ad_token_provider=token) as client:
        for _ in range(calls):
            chat(client)


def timer_ingestion(calls: int) -> None:
    """The seed's ingestion script: fetch a new token when the cached one is 5 minutes old."""
    from azure.identity import ManagedIdentityCredential
    from openai import AzureOpenAI

    credential = ManagedIdentityCredential()
    cache = {"token": credential.get_token(COGNITIVE_SCOPE).token, "created_time": time.time()}

    def refresh_openai_token() -> None:
        if cache["created_time"] + 300 < time.time():
            cache["token"] = credential.get_token(COGNITIVE_SCOPE).token
            cache["created_time"] = time.time()

    with credential, AzureOpenAI(**client_settings(), azure_ad_token_provider=lambda: str(cache["token"])) as client:
        for _ in range(calls):
            refresh_openai_token()
            chat(client)


def timer_quart(calls: int) -> None:
    """The seed's Quart app: before each request, fetch a new token if it expires within a minute."""
    from azure.identity.aio import ManagedIdentityCredential
    from openai import AsyncAzureOpenAI

    async def run() -> None:
        async with ManagedIdentityCredential() as credential:
            token = await credential.get_token(COGNITIVE_SCOPE)
            holder = {"token": token}
            async with AsyncAzureOpenAI(
                **client_settings(), azure_ad_token_provider=lambda: holder["token"].token
            ) as client:
                for _ in range(calls):
                    if holder["token"].expires_on < time.time() + 60:
                        holder["token"] = await credential.get_token(COGNITIVE_SCOPE)
                    await chat_async(client)

    asyncio.run(run())


def token_provider(calls: int) -> None:
    from azure.identity import ManagedIdentityCredential, get_bearer_token_provider
    from openai import AzureOpenAI

    with ManagedIdentityCredential() as credential:
        provider = get_bearer_token_provider(credential, COGNITIVE_SCOPE)
        with AzureOpenAI(**client_settings(), azure_ad_token_provider=provider) as client:
            for _ in range(calls):
                chat(client)


def async_token_provider(calls: int) -> None:
    from azure.identity.aio import ManagedIdentityCredential, get_bearer_token_provider
    from openai import AsyncAzureOpenAI

    async def run() -> None:
        async with ManagedIdentityCredential() as credential:
            provider = get_bearer_token_provider(credential, COGNITIVE_SCOPE)
            async with AsyncAzureOpenAI(**client_settings(), azure_ad_token_provider=provider) as client:
                for _ in range(calls):
                    await chat_async(client)

    asyncio.run(run())


def default_credential_shared(calls: int) -> None:
    from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    from openai import AzureOpenAI

    with DefaultAzureCredential() as credential:
        provider = get_bearer_token_provider(credential, COGNITIVE_SCOPE)
        with AzureOpenAI(**client_settings(), azure_ad_token_provider=provider) as client:
            for _ in range(calls):
                chat(client)


def default_credential_per_request(calls: int) -> None:
    from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    from openai import AzureOpenAI

    def token() -> str:
        with DefaultAzureCredential() as credential:
            return get_bearer_token_provider(credential, COGNITIVE_SCOPE)()

    with AzureOpenAI(**client_settings(), azure_ad_token_provider=token) as client:
        for _ in range(calls):
            chat(client)


@dataclass(frozen=True)
class Pattern:
    label: str
    run: Callable[[int], None]
    costly: bool  # one token request per call: measured over fewer calls and scaled


PATTERNS = (
    Pattern("(a) new `ManagedIdentityCredential` per call", new_credential_per_call, True),
    Pattern("(b) seed's timer, ingestion script (refresh when 5 min old)", timer_ingestion, False),
    Pattern("(b) seed's timer, Quart app (refresh when < 60 s left), async", timer_quart, False),
    Pattern("(c) `get_bearer_token_provider`", token_provider, False),
    Pattern("(d) `azure.identity.aio` provider + `AsyncAzureOpenAI`", async_token_provider, False),
    Pattern("(e) `DefaultAzureCredential` shared", default_credential_shared, False),
    Pattern("(e) `DefaultAzureCredential` created per request", default_credential_per_request, True),
)


def _token_requests(lab: Lab) -> int:
    return sum(1 for e in lab.audit("identity") if e.operation.startswith("GET /msi/token"))


def _chat_calls(lab: Lab) -> int:
    return sum(1 for e in lab.audit("openai") if e.status == 200)


def measure(lab: Lab, calls: int, cached_calls: int, costly_calls: int) -> list[tuple[Pattern, int, int, float]]:
    """``(pattern, calls made, token requests, seconds)`` for each pattern, on a ``ready`` lab.

    The provider, whose target is stated over 1000 calls, makes ``calls``; the other caching
    patterns ``cached_calls`` and the per-call patterns ``costly_calls``, to keep the run short.
    """
    results = []
    with lab.hosted(HOST):
        for pattern in PATTERNS:
            n = calls if pattern.run is token_provider else costly_calls if pattern.costly else cached_calls
            tokens_before, chats_before = _token_requests(lab), _chat_calls(lab)
            started = time.perf_counter()
            pattern.run(n)
            seconds = time.perf_counter() - started
            made = _chat_calls(lab) - chats_before
            if made != n:
                raise RuntimeError(f"{pattern.label}: {made} of {n} chat calls succeeded")
            results.append((pattern, n, _token_requests(lab) - tokens_before, seconds))
    return results


def rows(lab: Lab, calls: int = PER, cached_calls: int = 200, costly_calls: int = 50) -> list[Row]:
    section = "1 · token economy"
    out = []
    results = measure(lab, calls, cached_calls, costly_calls)
    per_thousand = {}
    for pattern, n, requests, seconds in results:
        # A per-call pattern makes one request per call, so its count scales; a cached token serves
        # every call of its 24 h lifetime, so a caching pattern's count does not grow with the calls.
        scaled = requests * PER / n if pattern.costly else requests
        per_thousand[pattern.run] = scaled
        how = f"{requests} over {n} calls" + (
            "" if n == PER else f", ×{PER / n:g}" if pattern.costly else ", not scaled: the token outlives the run"
        )
        out.append(Row(section, pattern.label, f"{scaled:g} token requests per {PER} calls ({how}; {seconds:.1f} s)"))
    fewer = per_thousand[new_credential_per_call] / per_thousand[token_provider]
    out.append(
        Row(
            section,
            "provider vs new credential per call",
            f"{fewer:g}× fewer token requests",
            "≥ 1000× fewer",
            verdict(fewer >= 1000),
        )
    )
    return out
