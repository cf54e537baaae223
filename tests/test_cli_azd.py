"""The ``azd`` stand-in on ``PATH``, as ``AzureDeveloperCliCredential`` runs it: not signed in, then
``azd auth login`` and tokens whose ``oid`` is the learner's.
"""

from __future__ import annotations

import calendar
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import AzureDeveloperCliCredential, CredentialUnavailableError, DefaultAzureCredential

from conftest import COGNITIVE_SCOPE
from keyless_lab import Lab

NOT_LOGGED_IN = "ERROR: not logged in, run `azd auth login` to login\n"
CREDENTIAL_MESSAGE = "Please run 'azd auth login' from a command prompt to authenticate before using this credential."


def azd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["azd", *args], capture_output=True, text=True, timeout=30)


def test_token_before_login_fails_as_azd_does(lab_env: Lab) -> None:
    done = azd("auth", "token", "--output", "json", "--scope", COGNITIVE_SCOPE, "--no-prompt")
    assert (done.returncode, done.stdout, done.stderr) == (1, "", NOT_LOGGED_IN)
    with pytest.raises(CredentialUnavailableError) as refused:
        AzureDeveloperCliCredential().get_token(COGNITIVE_SCOPE)
    assert refused.value.message == CREDENTIAL_MESSAGE


@pytest.mark.parametrize(
    ("args", "before", "after_keys"),
    [
        (["--check-status"], "Not logged in, run `azd auth login` to login to Azure\n", None),
        (["--check-status", "-o", "json"], '{\n  "status": "unauthenticated"\n}\n', ["expiresOn", "status"]),
    ],
    ids=["text", "json"],
)
def test_check_status(lab_env: Lab, args: list[str], before: str, after_keys: list[str] | None) -> None:
    assert azd("auth", "login", *args).stdout == before
    assert azd("auth", "login").stdout == "Logged in to Azure.\n"
    after = azd("auth", "login", *args).stdout
    if after_keys is None:
        assert after == "Logged in to Azure\n"
    else:
        assert sorted(json.loads(after)) == after_keys and json.loads(after)["status"] == "success"


def test_after_login_the_credentials_get_the_learners_token(lab_env: Lab) -> None:
    assert azd("auth", "login").returncode == 0
    signin = Path(os.environ["AZD_CONFIG_DIR"]) / "auth" / "lab_signin.json"
    assert stat.S_IMODE(signin.stat().st_mode) == 0o600
    learner = lab_env.state.directory.learner
    token = AzureDeveloperCliCredential().get_token(COGNITIVE_SCOPE)
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert (claims["oid"], claims["aud"]) == (learner.object_id, "https://cognitiveservices.azure.com")
    # az is not signed in, so the chain falls through to azd (after AzureCliCredential reports it).
    chained = DefaultAzureCredential().get_token(COGNITIVE_SCOPE)
    assert jwt.decode(chained.token, options={"verify_signature": False})["oid"] == learner.object_id


def test_auth_token_output(lab_env: Lab) -> None:
    azd("auth", "login")
    done = azd("auth", "token", "--output", "json", "--scope", COGNITIVE_SCOPE)
    out = json.loads(done.stdout)
    assert sorted(out) == ["expiresOn", "token"]
    claims = jwt.decode(out["token"], options={"verify_signature": False})
    # RFC 3339 in UTC with a Z, as azure-identity parses it ("%Y-%m-%dT%H:%M:%SZ").
    assert 0 <= claims["exp"] - calendar.timegm(time.strptime(out["expiresOn"], "%Y-%m-%dT%H:%M:%SZ")) <= 5
    default = json.loads(azd("auth", "token", "--output", "json").stdout)
    aud = jwt.decode(default["token"], options={"verify_signature": False})["aud"]
    assert aud == "https://management.azure.com/"  # azd's default scope is ARM


def test_a_tenant_the_lab_does_not_have_is_aadsts90002(lab_env: Lab) -> None:
    azd("auth", "login")
    done = azd("auth", "token", "--output", "json", "--scope", COGNITIVE_SCOPE, "--tenant-id", "contoso.example")
    assert done.returncode == 1
    assert done.stderr.startswith(
        "ERROR: fetching token: failed to authenticate:\n"
        "(invalid_tenant) AADSTS90002: Tenant 'contoso.example' not found."
    )
    with pytest.raises(ClientAuthenticationError) as refused:
        AzureDeveloperCliCredential(tenant_id="contoso.example").get_token(COGNITIVE_SCOPE)
    assert "AADSTS90002" in refused.value.message


def test_logout_then_not_logged_in(lab_env: Lab) -> None:
    azd("auth", "login")
    assert azd("auth", "logout").returncode == 0
    done = azd("auth", "token", "--output", "json", "--scope", COGNITIVE_SCOPE)
    assert (done.returncode, done.stderr) == (1, NOT_LOGGED_IN)


def test_commands_outside_the_lab_exit_2(lab_env: Lab) -> None:
    done = azd("up")
    assert done.returncode == 2
    assert done.stderr == (
        "ERROR: 'azd up' is outside the Go Keyless lab. The lab's azd supports: azd auth login, azd auth logout, "
        "azd auth token.\n"
    )
