"""Go Keyless lab: a local stand-in for the parts of Azure that keyless authentication touches.

The real ``openai``, ``azure-identity`` and management SDKs talk to it over HTTPS on 127.0.0.1.
"""

from .connect import SettingsError, Target, connect
from .lab import Environment, Lab
from .rbac import bicep_guid
from .tokens import mask

__all__ = ["connect", "Target", "SettingsError", "Lab", "Environment", "bicep_guid", "mask"]
