"""``connect()``: the first cell of every notebook. Starts a private lab (``KEYLESS_TARGET=lab``,
the default) or checks the settings of a real Azure OpenAI resource (``KEYLESS_TARGET=azure``).

Either way it leaves ``os.environ`` as Azure tooling would, so lesson code reads its settings from
the environment exactly as production code does (DESIGN §2).
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass, field

from dotenv import find_dotenv, load_dotenv

from .lab import Environment, Lab

TARGETS = ("lab", "azure")
REQUIRED_ON_AZURE = (
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_CHAT_DEPLOYMENT",
    "AZURE_TENANT_ID",
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_RESOURCE_GROUP",
)
DEFAULTS_ON_AZURE = {
    "AZURE_OPENAI_API_VERSION": "2024-10-21",
    "AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT": "embeddings",
}


class SettingsError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""

    def _render_traceback_(self) -> list[str]:
        # Jupyter shows this one line instead of a traceback: the message is the whole story.
        return [f"SettingsError: {self}"]


@dataclass
class Target:
    """Where the notebook points: ``name`` is ``lab`` or ``azure``; ``lab`` is ``None`` on Azure."""

    name: str
    settings: dict[str, str]
    lab: Lab | None = None
    _applied: Environment | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        where = self.settings.get("AZURE_OPENAI_ENDPOINT", "?")
        if self.lab is None:
            return f"Target(azure: {where})"
        return f"Target(lab: {where}, started in {self.lab.started_in * 1000:.0f} ms)"

    def stop(self) -> None:
        """Stop the lab (if any) and give the environment back as it was."""
        if self.lab is not None:
            self.lab.stop()
        if self._applied is not None:
            self._applied.__exit__(None, None, None)
            self._applied = None


_current: Target | None = None


def connect(preset: str = "fresh", *, target: str | None = None) -> Target:
    """Point this process at the lab (started now, on a free port) or at your Azure resource."""
    global _current
    load_dotenv(find_dotenv(usecwd=True), override=False)
    chosen = (target or os.environ.get("KEYLESS_TARGET") or "lab").strip().lower()
    if chosen not in TARGETS:
        raise SettingsError(f"KEYLESS_TARGET must be 'lab' or 'azure', not {chosen!r} — fix it in .env")
    if _current is not None:
        # Running the first cell again must not leave an old lab (and its settings) behind.
        _current.stop()
        _current = None
    if chosen == "azure":
        _current = Target("azure", _azure_settings())
        return _current
    lab = Lab(preset=preset)
    applied = lab.environment()
    applied.__enter__()
    _current = Target("lab", lab.settings(), lab, applied)
    return _current


def _azure_settings() -> dict[str, str]:
    for name in REQUIRED_ON_AZURE:
        if not os.environ.get(name, "").strip():
            raise SettingsError(
                f"Missing required environment variable: {name} — set it in .env or run with KEYLESS_TARGET=lab"
            )
    endpoint = os.environ["AZURE_OPENAI_ENDPOINT"].strip()
    if not endpoint.startswith("https://"):
        raise SettingsError(
            f"AZURE_OPENAI_ENDPOINT must start with https:// (got {endpoint!r}) — copy it from `azd env get-values`"
        )
    for name, value in DEFAULTS_ON_AZURE.items():
        os.environ.setdefault(name, value)
    wanted = (*REQUIRED_ON_AZURE, *DEFAULTS_ON_AZURE, "AZURE_OPENAI_ACCOUNT_NAME")
    return {name: os.environ[name] for name in wanted if os.environ.get(name)}


@atexit.register
def _stop_at_exit() -> None:
    if _current is not None:
        _current.stop()
