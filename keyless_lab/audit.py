"""The request log: who called what, and what the lab answered — never with a secret in it.

Plays the part of Azure Monitor's resource logs (``RequestResponse`` for Azure OpenAI, the Activity
Log for ARM), where a key-authenticated call can only be traced to *a key*, not to a person.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AuditEntry:
    time: float
    surface: str  # "openai", "identity", "arm", "entra", "lab"
    caller: str  # a display name, "key1"/"key2", or "anonymous"
    caller_id: str | None  # the object id behind a token, if any
    operation: str  # e.g. "POST /openai/deployments/chat/chat/completions"
    status: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class AuditLog:
    """Thread-safe, append-only list of :class:`AuditEntry`."""

    def __init__(self) -> None:
        self._entries: list[AuditEntry] = []
        self._lock = threading.Lock()

    def record(self, surface: str, caller: str, caller_id: str | None, operation: str, status: int) -> AuditEntry:
        entry = AuditEntry(time.time(), surface, caller, caller_id, operation, status)
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self, surface: str | None = None, since: float = 0.0) -> list[AuditEntry]:
        with self._lock:
            return [e for e in self._entries if (surface is None or e.surface == surface) and e.time >= since]

    def __iter__(self) -> Iterator[AuditEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
