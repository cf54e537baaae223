"""``connect()``: the first cell of every notebook. Starts a private lab (``KEYLESS_TARGET=lab``,
the default) or checks the settings of a real Azure OpenAI resource (``KEYLESS_TARGET=azure``).

Either way it leaves ``os.environ`` as Azure tooling would, so lesson code reads its settings from
the environment exactly as production code does (DESIGN §2).
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

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


# The checkout this package runs from (an editable install); None when installed elsewhere.
_CHECKOUT = Path(__file__).resolve().parent.parent
REPO: Path | None = _CHECKOUT if (_CHECKOUT / "notebooks").is_dir() else None


class SettingsError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""

    def _render_traceback_(self) -> list[str]:
        # Jupyter shows this one line instead of a traceback: the message is the whole story.
        return [f"{type(self).__name__}: {self}"]


class LabStartError(SettingsError):
    """The local lab could not start; the message says why and what to do."""


@dataclass
class Target:
    """Where the notebook points: ``name`` is ``lab`` or ``azure``; ``lab`` is ``None`` on Azure."""

    name: str
    settings: dict[str, str]
    lab: Lab | None = None
    _applied: Environment | None = field(default=None, repr=False)
    repo: Path | None = REPO  # the workbook's folder, wherever the notebook was opened from

    def file(self, relative: str) -> Path:
        """A file of the workbook (``"infra/main.bicep"``), found whatever the working directory is."""
        if self.repo is None or not (self.repo / relative).exists():
            where = self.repo or "this installation"
            hint = "open the notebook from the workbook's notebooks/ folder"
            raise SettingsError(f"{relative} is not in the workbook at {where} — {hint}")
        return self.repo / relative

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
    dotenv = find_settings_file(_working_directory(), REPO)
    if dotenv is not None:
        load_dotenv(dotenv, override=False)
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
    try:
        lab = Lab(preset=preset)
    except (OSError, RuntimeError) as err:
        raise LabStartError(f"The local lab could not start: {err} — {_remedy(err)}") from None
    applied = lab.environment()
    applied.__enter__()
    _current = Target("lab", lab.settings(), lab, applied)
    return _current


def find_settings_file(start: Path, repo: Path | None) -> Path | None:
    """``.env`` from the working directory upwards (as python-dotenv looks), else the workbook's own.

    A notebook opened from another folder (a copy, an IDE's workspace root) still finds the settings
    that ``azd provision`` wrote into the workbook.
    """
    for folder in (start, *start.parents):
        if (folder / ".env").is_file():
            return folder / ".env"
    if repo is not None and (repo / ".env").is_file():
        return repo / ".env"
    return None


def _working_directory() -> Path:
    try:
        return Path.cwd()
    except FileNotFoundError:
        # The folder the kernel started in was deleted or moved; the workbook's settings still count.
        return REPO or Path.home()


def _remedy(err: BaseException) -> str:
    if "No usable temporary directory" in str(err) or isinstance(err, PermissionError):
        return "set TMPDIR to a folder you can write to and run this cell again"
    return "run this cell again; if it fails again, restart the kernel"


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
