"""The Azure Developer CLI (``azd``) as far as ``AzureDeveloperCliCredential`` and the lessons use it:
``azd auth login`` (with ``--check-status``), ``azd auth logout`` and ``azd auth token``.

Shapes and texts from Azure/azure-dev (``cmd/auth_token.go``, ``pkg/contracts/auth_token.go``,
``pkg/auth/errors.go``) and azure-identity's ``azd_cli.py``; sources in the reference notes, §f.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from .commandline import Command, Invocation, match, parse, run_and_exit
from .signin import EntraError, LabConnection, read_json, redeem, write_private
from .transport import CliError

# Verbatim: Azure/azure-dev pkg/auth/errors.go ErrNoCurrentUser.
NOT_LOGGED_IN = "not logged in, run `azd auth login` to login"
MANAGEMENT_SCOPE = "https://management.azure.com//.default"  # azd's azure.ManagementScope, the default
SIGNIN_FILE = Path("auth") / "lab_signin.json"

GLOBAL_OPTIONS = {"--output": "output", "-o": "output", "--cwd": "cwd", "-C": "cwd", "--environment": "env"}
GLOBAL_FLAGS = {"--no-prompt": "no_prompt", "--debug": "debug", "--help": "help", "-h": "help"}


def _config_dir() -> Path:
    return Path(os.environ.get("AZD_CONFIG_DIR") or Path.home() / ".azd")


def _signin() -> dict[str, Any]:
    data = read_json(_config_dir() / SIGNIN_FILE)
    if not isinstance(data, dict) or not data.get("refresh_token"):
        raise CliError(NOT_LOGGED_IN)
    return data


def _utc(epoch: int) -> str:
    # Go's time.RFC3339 of a UTC time; azure-identity parses it with "%Y-%m-%dT%H:%M:%SZ".
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _fetch(signin: dict[str, Any], scopes: list[str], tenant: str | None) -> tuple[str, int]:
    lab = LabConnection.find()
    try:
        token = redeem(
            lab, signin["refresh_token"], tenant or signin["tenant_id"], " ".join(scopes), signin["client_id"]
        )
    except EntraError as err:
        # azd's AAD error format "failed to authenticate:\n(%s) %s", wrapped by "fetching token: %w".
        raise CliError(
            f"fetching token: failed to authenticate:\n({err.body.get('error')}) {err.description}",
            hint="reauthentication required, run `azd auth login` to acquire a new token.",
        ) from None
    return token.token, token.expires_on


def auth_login(invocation: Invocation) -> str:
    as_json = invocation.get("output") == "json"
    if invocation.flag("check_status"):
        try:
            _, expires_on = _fetch(_signin(), [MANAGEMENT_SCOPE], invocation.get("tenant_id"))
        except CliError:
            if as_json:
                return json.dumps({"status": "unauthenticated"}, indent=2) + "\n"
            return "Not logged in, run `azd auth login` to login to Azure\n"
        if as_json:
            return json.dumps({"status": "success", "expiresOn": _utc(expires_on)}, indent=2) + "\n"
        return "Logged in to Azure\n"
    lab = LabConnection.find()
    answer = lab.sign_in((invocation.get("username") or "learner").lower())
    write_private(
        _config_dir() / SIGNIN_FILE,
        {
            "refresh_token": answer["refresh_token"],
            "client_id": answer["client_id"],
            "tenant_id": answer["tenant_id"],
            "user": answer["user"],
        },
    )
    return "Logged in to Azure.\n"


def auth_logout(invocation: Invocation) -> str:
    (_config_dir() / SIGNIN_FILE).unlink(missing_ok=True)
    return "Logged out of Azure.\n"


def auth_token(invocation: Invocation) -> str:
    output = invocation.get("output") or "json"
    if output != "json":
        raise CliError(f"unsupported format '{output}'")
    token, expires_on = _fetch(_signin(), invocation.all("scope") or [MANAGEMENT_SCOPE], invocation.get("tenant_id"))
    return json.dumps({"token": token, "expiresOn": _utc(expires_on)}, indent=2) + "\n"


COMMANDS: list[tuple[Command, Any]] = [
    (
        Command(
            ("auth", "login"),
            {"--tenant-id": "tenant_id", "--username": "username"},
            {"--check-status": "check_status", "--use-device-code": "device_code"},
        ),
        auth_login,
    ),
    (Command(("auth", "logout")), auth_logout),
    (
        Command(
            ("auth", "token"),
            {"--scope": "scope", "--tenant-id": "tenant_id", "--claims": "claims"},
            repeatable=frozenset({"scope"}),
        ),
        auth_token,
    ),
]


def run(argv: list[str]) -> int:
    command, words = match(argv, [c for c, _ in COMMANDS])
    if command is None:
        supported = ", ".join("azd " + " ".join(c.words) for c, _ in COMMANDS)
        shown = " ".join(["azd", *words])
        raise CliError(f"'{shown}' is outside the Go Keyless lab. The lab's azd supports: {supported}.", exit_code=2)
    invocation = parse(argv, command, GLOBAL_OPTIONS, GLOBAL_FLAGS)
    handler = next(h for c, h in COMMANDS if c is command)
    sys.stdout.write(handler(invocation))
    return 0


def main() -> None:
    run_and_exit(run, hint="Suggestion: {}", unexpected="unexpected failure")


if __name__ == "__main__":
    main()
