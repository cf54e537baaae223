"""Rate limits and injected faults: Azure OpenAI's 429 with ``retry-after``, 5xx bursts, a slow or
absent identity endpoint. Limits are per deployment (requests and tokens per minute), as in
https://learn.microsoft.com/azure/ai-services/openai/how-to/quota ; faults are off until asked for.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from . import errors


@dataclass
class Limit:
    requests_per_minute: int
    tokens_per_minute: int


class _Window:
    """The last minute's requests of one deployment, with their token total kept as they come and go."""

    def __init__(self) -> None:
        self.requests: deque[tuple[float, int]] = deque()
        self.tokens = 0

    def drop_older_than(self, cutoff: float) -> None:
        while self.requests and self.requests[0][0] <= cutoff:
            self.tokens -= self.requests.popleft()[1]

    def add(self, at: float, tokens: int) -> None:
        self.requests.append((at, tokens))
        self.tokens += tokens


class RateLimiter:
    """A sliding one-minute window per deployment, counting requests and tokens."""

    def __init__(self, requests_per_minute: int = 6000, tokens_per_minute: int = 1_000_000) -> None:
        self.default = Limit(requests_per_minute, tokens_per_minute)
        self._limits: dict[str, Limit] = {}
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def set_limit(self, deployment: str, requests_per_minute: int, tokens_per_minute: int) -> None:
        with self._lock:
            self._limits[deployment] = Limit(requests_per_minute, tokens_per_minute)
            self._windows.pop(deployment, None)

    def reset(self) -> None:
        with self._lock:
            self._limits.clear()
            self._windows.clear()

    def limit_for(self, deployment: str) -> Limit:
        return self._limits.get(deployment, self.default)

    def admit(self, deployment: str, tokens: int, operation: str, api_version: str) -> dict[str, str]:
        """Count one request, or raise Azure's 429; returns the x-ratelimit headers."""
        now = time.monotonic()
        limit = self.limit_for(deployment)
        with self._lock:
            window = self._windows.setdefault(deployment, _Window())
            window.drop_older_than(now - 60)
            kind = None
            if len(window.requests) + 1 > limit.requests_per_minute:
                kind = "call"
            elif window.tokens + tokens > limit.tokens_per_minute:
                kind = "token"
            if kind:
                oldest = window.requests[0][0] if window.requests else None
                retry_after = max(1, math.ceil(oldest + 60 - now)) if oldest is not None else 1
                raise errors.rate_limited(operation, api_version, retry_after, kind)
            window.add(now, tokens)
            return {
                "x-ratelimit-limit-requests": str(limit.requests_per_minute),
                "x-ratelimit-remaining-requests": str(limit.requests_per_minute - len(window.requests)),
                "x-ratelimit-limit-tokens": str(limit.tokens_per_minute),
                "x-ratelimit-remaining-tokens": str(max(0, limit.tokens_per_minute - window.tokens)),
            }


@dataclass
class Fault:
    surface: str  # "openai", "identity", "arm", "entra"
    status: int  # 429, 500, 503, or 0 for "no answer" (the endpoint is down)
    remaining: int
    retry_after: int = 1
    delay: float = 0.0  # seconds to wait before answering (a slow endpoint)


class Faults:
    """Faults queued for a surface; each answers ``remaining`` requests, then stops."""

    def __init__(self) -> None:
        self._queue: list[Fault] = []
        self._lock = threading.Lock()

    def inject(self, surface: str, status: int, count: int = 1, *, retry_after: int = 1, delay: float = 0.0) -> None:
        if surface not in {"openai", "identity", "arm", "entra"}:
            raise ValueError(f"unknown surface {surface!r}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._queue.append(Fault(surface, status, count, retry_after, delay))

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def take(self, surface: str) -> Fault | None:
        """The next fault for ``surface``, if any, counting it as used."""
        with self._lock:
            for fault in self._queue:
                if fault.surface == surface:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._queue.remove(fault)
                    return fault
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._queue)
