"""Rate limits per deployment: Azure's 429 for calls and for tokens, and the x-ratelimit headers."""

from __future__ import annotations

import pytest

from keyless_lab.errors import AzureError
from keyless_lab.faults import RateLimiter


def admit(limiter: RateLimiter, tokens: int) -> dict[str, str]:
    return limiter.admit("chat", tokens, "ChatCompletions_Create", "2024-10-21")


def test_headers_count_down_requests_and_tokens() -> None:
    limiter = RateLimiter(requests_per_minute=3, tokens_per_minute=100)
    first, second = admit(limiter, 10), admit(limiter, 25)
    assert (first["x-ratelimit-remaining-requests"], first["x-ratelimit-remaining-tokens"]) == ("2", "90")
    assert (second["x-ratelimit-remaining-requests"], second["x-ratelimit-remaining-tokens"]) == ("1", "65")


@pytest.mark.parametrize(
    ("requests_per_minute", "tokens_per_minute", "calls", "kind"),
    [(2, 1000, [1, 1, 1], "call"), (10, 50, [30, 30], "token")],
)
def test_over_the_limit_is_azures_429(requests_per_minute: int, tokens_per_minute: int, calls: list[int], kind: str):
    limiter = RateLimiter(requests_per_minute, tokens_per_minute)
    for tokens in calls[:-1]:
        admit(limiter, tokens)
    with pytest.raises(AzureError) as refused:
        admit(limiter, calls[-1])
    assert refused.value.status == 429
    assert f"exceeded {kind} rate limit" in refused.value.body["error"]["message"]
    assert int(refused.value.headers["retry-after"]) >= 1
    assert refused.value.headers["retry-after-ms"] == str(int(refused.value.headers["retry-after"]) * 1000)


def test_a_refused_call_is_not_counted() -> None:
    limiter = RateLimiter(requests_per_minute=10, tokens_per_minute=50)
    admit(limiter, 40)
    with pytest.raises(AzureError):
        admit(limiter, 20)
    assert admit(limiter, 10)["x-ratelimit-remaining-tokens"] == "0"


def test_a_new_limit_starts_a_new_window() -> None:
    limiter = RateLimiter(requests_per_minute=1, tokens_per_minute=1000)
    admit(limiter, 1)
    limiter.set_limit("chat", 2, 1000)
    assert admit(limiter, 1)["x-ratelimit-remaining-requests"] == "1"
