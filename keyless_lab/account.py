"""The Azure OpenAI account: its two access keys, the local-auth switch and its deployments.

Models ``Microsoft.CognitiveServices/accounts`` (``properties.disableLocalAuth``, ``listKeys``,
``regenerateKey``): https://learn.microsoft.com/azure/ai-services/disable-local-auth
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Deployment:
    name: str
    model: str
    kind: str  # "chat" or "embeddings"
    dimensions: int = 0


def _shannon_entropy(text: str) -> float:
    return -sum(n / len(text) * math.log2(n / len(text)) for n in Counter(text).values())


def _new_key() -> str:
    """32 hexadecimal characters like Azure's keys; new ones at every lab start, never on disk."""
    while True:
        key = secrets.token_hex(16)
        # About 7 in 100,000 random keys fall under the 3.0 bits a high-entropy secret scanner
        # needs to flag a hex string; the secret-scanning lesson must never meet one of those.
        if _shannon_entropy(key) > 3.0:
            return key


class Account:
    """Keys and settings of the lab's one Azure OpenAI account."""

    def __init__(self, name: str, deployments: list[Deployment]) -> None:
        self.name = name
        self.deployments = {d.name: d for d in deployments}
        self.disable_local_auth = False
        self._keys = {"key1": _new_key(), "key2": _new_key()}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Account(name={self.name!r}, disable_local_auth={self.disable_local_auth}, keys=<hidden>)"

    def keys(self) -> dict[str, str]:
        with self._lock:
            return dict(self._keys)

    def regenerate(self, key_name: str) -> dict[str, str]:
        if key_name not in self._keys:
            raise KeyError(key_name)
        with self._lock:
            self._keys[key_name] = _new_key()
            return dict(self._keys)

    def key_name_for(self, presented: str) -> str | None:
        """Which key (``key1``/``key2``) was presented, compared in constant time."""
        with self._lock:
            keys = list(self._keys.items())
        found = None
        for name, value in keys:
            if hmac.compare_digest(presented.encode(), value.encode()):
                found = name
        return found
