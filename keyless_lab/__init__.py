"""Go Keyless lab: a local stand-in for the parts of Azure that keyless authentication touches.

The real ``openai``, ``azure-identity`` and management SDKs talk to it over HTTPS on 127.0.0.1.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lab import Environment, Lab
    from .rbac import bicep_guid
    from .target import SettingsError, Target, connect
    from .tokens import mask

__all__ = ["connect", "Target", "SettingsError", "Lab", "Environment", "bicep_guid", "mask"]

# Loaded on first use: the ``az``/``azd`` stand-ins live in this package and must start fast,
# without the server stack that ``connect`` and ``Lab`` bring in.
_HOMES = {
    "connect": "target",
    "Target": "target",
    "SettingsError": "target",
    "Lab": "lab",
    "Environment": "lab",
    "bicep_guid": "rbac",
    "mask": "tokens",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'keyless_lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value
