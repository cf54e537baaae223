"""The token-refresh rules of azure-core, MSAL and azure-identity that notebook 05 quotes and relies on:
each quoted line is still in the installed SDKs, and the SDKs still behave so against the lab's identity endpoint.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import msal
import pytest
from azure.identity import ManagedIdentityCredential, get_bearer_token_provider
from azure.identity.aio import ManagedIdentityCredential as AsyncManagedIdentityCredential
from azure.identity.aio import get_bearer_token_provider as get_async_bearer_token_provider

from conftest import COGNITIVE_SCOPE
from keyless_lab import Lab

SITE_PACKAGES = Path(msal.__file__).resolve().parent.parent
NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "05_token_refresh.ipynb"

QUOTED = [
    ("azure/core/pipeline/policies/_authentication.py", "DEFAULT_REFRESH_WINDOW_SECONDS = 300  # 5 minutes"),
    ("azure/core/pipeline/policies/_authentication.py", "MAX_REFRESH_JITTER_SECONDS = 60  # 1 minute"),
    (
        "azure/core/pipeline/policies/_authentication.py",
        "effective_refresh_time = min(refresh_on + refresh_jitter, token.expires_on)",
    ),
    (
        "azure/core/pipeline/policies/_authentication.py",
        "return time_until_expiry < (DEFAULT_REFRESH_WINDOW_SECONDS - refresh_jitter)",
    ),
    ("azure/core/credentials.py", "when the cached token should be proactively refreshed"),
    ("msal/managed_identity.py", "if expires_in < 5*60:  # Then consider it expired"),
    ("msal/managed_identity.py", 'result["refresh_in"] = int(expires_in / 2)'),
    ("azure/identity/_internal/managed_identity_client.py", 'content["refresh_in"] = expires_in // 2'),
    (
        "azure/identity/_internal/managed_identity_client.py",
        "if expires_on > now and (not refresh_on or refresh_on > now):",
    ),
    ("azure/identity/_internal/utils.py", "if now - last_request_time < DEFAULT_TOKEN_REFRESH_RETRY_DELAY:"),
    ("azure/identity/_constants.py", "DEFAULT_TOKEN_REFRESH_RETRY_DELAY = 30"),
    ("azure/identity/aio/_internal/get_token_mixin.py", "get_refresh_status(token, self._last_request_time)"),
]


def _notebook_markdown() -> str:
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


@pytest.mark.parametrize(("path", "line"), QUOTED, ids=[f"{p}:{line[:30]}" for p, line in QUOTED])
def test_quoted_lines_are_in_the_installed_sdks(path: str, line: str) -> None:
    source = (SITE_PACKAGES / path).read_text(encoding="utf-8")
    assert line in source, f"{path} no longer says {line!r}: update notebook 05's explanation"
    if path != "azure/identity/_constants.py" and "get_token_mixin" not in path:
        assert line in _notebook_markdown(), f"notebook 05 should quote {line!r} from {path}"


def _token_requests(lab: Lab, since: float) -> int:
    return sum(e.operation == "GET /msi/token" for e in lab.audit("identity", since=since))


# Lifetime → refresh_on as an offset from now: half the lifetime from 2 h on, none below (MSAL's rule).
@pytest.mark.parametrize(
    ("lifetime", "refresh_after"),
    [(None, 43_200), (7_300, 3_650), (7_100, None), (20, None)],
    ids=["24h-managed-identity", "just-over-2h", "just-under-2h", "20s"],
)
def test_refresh_on_is_half_the_lifetime_from_two_hours(lab_env: Lab, lifetime: int | None, refresh_after) -> None:
    lab_env.token_lifetime(lifetime)
    with lab_env.hosted("chat-app"):
        token = ManagedIdentityCredential().get_token_info(COGNITIVE_SCOPE)
    if refresh_after is None:
        assert token.refresh_on is None
    else:
        assert token.refresh_on is not None and abs(token.refresh_on - (time.time() + refresh_after)) <= 2


# Token requests the identity endpoint sees for CALLS calls of a token provider made back to back.
CALLS = 5


@pytest.mark.parametrize(
    ("flavour", "lifetime", "expected"),
    [
        ("sync", None, 1),  # refresh_on at 12 h: one token for every call
        ("sync", 20, CALLS),  # under azure-core's 5-minute window, and MSAL's cache calls it expired: every call
        ("async", None, 1),
        ("async", 20, 1),  # the async client's own cache serves it until expiry (30-s retry delay)
    ],
)
def test_provider_token_requests(lab_env: Lab, flavour: str, lifetime: int | None, expected: int) -> None:
    lab_env.token_lifetime(lifetime)
    since = time.time()
    with lab_env.hosted("chat-app"):
        if flavour == "sync":
            provider = get_bearer_token_provider(ManagedIdentityCredential(), COGNITIVE_SCOPE)
            tokens = {provider() for _ in range(CALLS)}
        else:

            async def run() -> set[str]:
                async with AsyncManagedIdentityCredential() as credential:
                    async_provider = get_async_bearer_token_provider(credential, COGNITIVE_SCOPE)
                    return {await async_provider() for _ in range(CALLS)}

            tokens = asyncio.run(run())
    assert _token_requests(lab_env, since) == expected
    assert len(tokens) == expected  # each request brought a new token, and only those were used
