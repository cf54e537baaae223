"""Developer sign-in shared by the ``az`` and ``azd`` stand-ins: where the lab is, the refresh token
the sign-in produced (a file only this user can read), and redeeming it at Entra's token endpoint.

Protocol: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, NamedTuple

from .transport import CliError, Transport

CONNECTION_FILE = "keyless-lab.json"
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def azure_config_dir() -> Path:
    return Path(os.environ.get("AZURE_CONFIG_DIR") or Path.home() / ".azure")


def write_private(path: Path, data: Any) -> None:
    """Write JSON readable by this user only (mode 0600), replacing the file in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError):
        raise CliError(f"The file {path} is unreadable; remove it and sign in again.") from None


class LabConnection(NamedTuple):
    """Where the lab listens, and how to trust and administer it (written by ``Lab`` at start)."""

    url: str
    admin_secret: str
    ca_file: str | None

    @classmethod
    def find(cls) -> LabConnection:
        path = azure_config_dir() / CONNECTION_FILE
        data = read_json(path)
        if not isinstance(data, dict) or "url" not in data:
            raise CliError(
                f"No Go Keyless lab is configured here ({path} is missing). This stand-in only talks to the lab: "
                "start one with connect() in a notebook or `python -m keyless_lab serve`."
            )
        # The lab's own CA is all this client needs to trust (and loads far faster than the full bundle).
        ca_file = data.get("ca_cert") or os.environ.get("REQUESTS_CA_BUNDLE") or data.get("ca_bundle")
        return cls(data["url"].rstrip("/"), data.get("admin_secret", ""), ca_file)

    def transport(self) -> Transport:
        return Transport(self.ca_file)

    def sign_in(self, user: str) -> dict[str, Any]:
        """The lab's stand-in for the browser step: a refresh token for ``user``."""
        answer = self.transport().call(
            "POST",
            f"{self.url}/lab/cli/login",
            json_body={"user": user},
            headers={"x-lab-admin-secret": self.admin_secret},
        )
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise CliError(_message_of(answer.body) or f"Sign-in failed with HTTP {answer.status}.")
        return answer.body

    def directory(self) -> dict[str, Any]:
        """Non-secret facts (principals, role names) the lab serves to its admin."""
        answer = self.transport().call(
            "GET", f"{self.url}/lab/state", headers={"x-lab-admin-secret": self.admin_secret}
        )
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise CliError(_message_of(answer.body) or f"Reading the lab's directory failed with HTTP {answer.status}.")
        return answer.body


def _message_of(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("message")
    return None


class EntraError(Exception):
    """The token endpoint refused the refresh token; ``body`` is Entra's JSON error."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body.get("error_description", ""))
        self.body = body

    @property
    def description(self) -> str:
        return str(self.body.get("error_description") or self.body.get("error") or "The token request failed.")


class AccessToken(NamedTuple):
    token: str
    expires_on: int  # epoch seconds


def redeem(
    lab: LabConnection, refresh_token: str, tenant: str, scope: str, client_id: str = AZURE_CLI_APP_ID
) -> AccessToken:
    """An access token for ``scope`` from a refresh token (``grant_type=refresh_token``)."""
    asked = time.time()
    answer = lab.transport().call(
        "POST",
        f"{lab.url}/{tenant}/oauth2/v2.0/token",
        form={
            "client_id": client_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "scope": f"{scope} offline_access openid profile",
            "client_info": "1",
        },
    )
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status != 200 or "access_token" not in body:
        if "error" in body:
            raise EntraError(body)
        raise CliError(f"The token request failed with HTTP {answer.status}.")
    # As MSAL does, the expiry is reckoned from when the request was sent.
    return AccessToken(body["access_token"], int(asked) + int(body.get("expires_in", 0)))
