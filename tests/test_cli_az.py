"""The ``az`` stand-in on ``PATH``, run as a learner runs it and as ``AzureCliCredential`` runs it:
sign-in, tokens, the signed-in user, the seed's role assignment verbatim, and the account's keys.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import jwt
import openai
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    AzureCliCredential,
    CredentialUnavailableError,
    DefaultAzureCredential,
    get_bearer_token_provider,
)

from conftest import COGNITIVE_SCOPE
from keyless_lab import Lab

LOGIN_ERROR = "ERROR: Please run 'az login' to setup account.\n"
SEED_COMMAND = (
    'az role assignment create --role "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd" --assignee-object-id "$PRINCIPAL_ID" '
    '--scope /subscriptions/"$SUBSCRIPTION_ID"/resourceGroups/"$RESOURCE_GROUP" --assignee-principal-type User'
)
HELLO = [{"role": "user", "content": "Hi"}]


def az(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["az", *args], capture_output=True, text=True, timeout=30)


def signed_in(lab: Lab, user: str = "learner") -> None:
    done = az("login", "--username", user) if user != "learner" else az("login")
    assert done.returncode == 0, done.stderr


def chat_client(credential: object) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        api_version=os.environ["AZURE_OPENAI_API_VERSION"],
        azure_ad_token_provider=get_bearer_token_provider(credential, COGNITIVE_SCOPE),
        max_retries=0,
    )


def test_the_stand_in_is_first_on_path(lab_env: Lab) -> None:
    assert shutil.which("az") == str(lab_env.home / "bin" / "az")


@pytest.mark.parametrize(
    "command", [["account", "show"], ["account", "get-access-token"], ["ad", "signed-in-user", "show"]]
)
def test_before_login_commands_fail_as_the_real_cli(lab_env: Lab, command: list[str]) -> None:
    done = az(*command)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", LOGIN_ERROR)


def test_credentials_are_unavailable_before_login(lab_env: Lab) -> None:
    with pytest.raises(CredentialUnavailableError) as cli:
        AzureCliCredential().get_token(COGNITIVE_SCOPE)
    assert cli.value.message == "Please run 'az login' to set up an account"
    with pytest.raises(ClientAuthenticationError) as chain:
        DefaultAzureCredential().get_token(COGNITIVE_SCOPE)
    assert "AzureCliCredential: Please run 'az login' to set up an account" in chain.value.message
    assert "AzureDeveloperCliCredential: Please run 'azd auth login' from a command prompt" in chain.value.message


def test_login_prints_the_subscriptions_and_keeps_files_private(lab_env: Lab) -> None:
    done = az("login")
    d = lab_env.state.directory
    assert done.returncode == 0
    assert json.loads(done.stdout) == [
        {
            "cloudName": "AzureCloud",
            "homeTenantId": d.tenant_id,
            "id": d.subscription_id,
            "isDefault": True,
            "managedByTenants": [],
            "name": "Keyless Lab Subscription",
            "state": "Enabled",
            "tenantId": d.tenant_id,
            "user": {"name": d.learner.upn, "type": "user"},
        }
    ]
    config = Path(os.environ["AZURE_CONFIG_DIR"])
    for name in ("azureProfile.json", "lab_signin.json"):
        assert stat.S_IMODE((config / name).stat().st_mode) == 0o600
    shown = json.loads(az("account", "show").stdout)
    assert shown["environmentName"] == "AzureCloud" and shown["user"] == {"name": d.learner.upn, "type": "user"}


def test_azure_cli_credential_and_default_credential_get_the_learners_token(lab_env: Lab) -> None:
    signed_in(lab_env)
    learner = lab_env.state.directory.learner
    for credential in (AzureCliCredential(), DefaultAzureCredential()):
        token = credential.get_token(COGNITIVE_SCOPE)
        claims = jwt.decode(token.token, options={"verify_signature": False})
        assert (claims["oid"], claims["aud"]) == (learner.object_id, "https://cognitiveservices.azure.com")
        # The CLI reckons expiry from when it asked (as MSAL does), so it may lead the claim by the call's duration.
        assert 0 <= claims["exp"] - token.expires_on <= 5


def test_get_access_token_output(lab_env: Lab) -> None:
    signed_in(lab_env)
    d = lab_env.state.directory
    out = json.loads(az("account", "get-access-token", "--output", "json").stdout)
    assert sorted(out) == ["accessToken", "expiresOn", "expires_on", "subscription", "tenant", "tokenType"]
    assert (out["subscription"], out["tenant"], out["tokenType"]) == (d.subscription_id, d.tenant_id, "Bearer")
    claims = jwt.decode(out["accessToken"], options={"verify_signature": False})
    assert claims["aud"] == "https://management.core.windows.net/"  # the CLI's default resource
    assert 0 <= claims["exp"] - out["expires_on"] <= 5
    assert datetime.strptime(out["expiresOn"], "%Y-%m-%d %H:%M:%S.%f").timestamp() == out["expires_on"]
    scoped = json.loads(az("account", "get-access-token", "--scope", COGNITIVE_SCOPE, "--tenant", d.tenant_id).stdout)
    assert "subscription" not in scoped  # with --tenant the CLI names no subscription
    assert (
        jwt.decode(scoped["accessToken"], options={"verify_signature": False})["aud"]
        == "https://cognitiveservices.azure.com"
    )


def test_signed_in_user_show_with_query_and_tsv(lab_env: Lab) -> None:
    signed_in(lab_env)
    done = az("ad", "signed-in-user", "show", "--query", "id", "-o", "tsv")
    assert (done.returncode, done.stdout) == (0, lab_env.state.directory.learner.object_id + "\n")


def test_the_seeds_command_verbatim_turns_401_into_200(lab_env: Lab) -> None:
    signed_in(lab_env)
    d = lab_env.state.directory
    client = chat_client(AzureCliCredential())
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model="chat", messages=HELLO)
    assert refused.value.status_code == 401 and refused.value.body["code"] == "PermissionDenied"
    env = dict(
        os.environ, PRINCIPAL_ID=d.learner.object_id, SUBSCRIPTION_ID=d.subscription_id, RESOURCE_GROUP=d.resource_group
    )
    done = subprocess.run(["bash", "-c", SEED_COMMAND], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["principalId"] == d.learner.object_id and created["principalType"] == "User"
    assert created["roleDefinitionId"].endswith("/roleDefinitions/5e0bd9bd-7b93-4f28-af87-19fc36ad61bd")
    assert (created["scope"], created["resourceGroup"], created["createdBy"]) == (
        d.resource_group_scope,
        d.resource_group,
        None,
    )
    reply = client.chat.completions.create(model="chat", messages=HELLO)
    assert reply.choices[0].message.content
    again = subprocess.run(["bash", "-c", SEED_COMMAND], capture_output=True, text=True, env=env, timeout=30)
    assert (again.returncode, again.stderr) == (
        1,
        "ERROR: (RoleAssignmentExists) The role assignment already exists.\n"
        "Code: RoleAssignmentExists\nMessage: The role assignment already exists.\n",
    )


def test_role_assignment_list_and_delete(lab_env: Lab) -> None:
    signed_in(lab_env)
    d = lab_env.state.directory
    group = ["--scope", d.resource_group_scope]
    role = ["--role", "Cognitive Services OpenAI User"]
    done = az("role", "assignment", "create", *role, "--assignee", "tom@keyless-lab.example", *group)
    assert done.returncode == 0, done.stderr
    listed = az("role", "assignment", "list", *group, "--query", "[].[roleDefinitionName, principalName]", "-o", "tsv")
    assert sorted(listed.stdout.splitlines()) == [
        "Cognitive Services OpenAI User\ttom@keyless-lab.example",
        "Owner\tada@keyless-lab.example",
    ]
    # Without --scope the CLI lists at the subscription, where an Owner of the group may not read.
    at_subscription = az("role", "assignment", "list")
    assert at_subscription.returncode == 1
    assert at_subscription.stderr.startswith("ERROR: (AuthorizationFailed) The client 'ada@keyless-lab.example'")
    removed = az("role", "assignment", "delete", "--assignee", d.teammate.object_id, *role, *group)
    assert (removed.returncode, removed.stdout, removed.stderr) == (0, "", "")
    left = az("role", "assignment", "list", *group, "--query", "[].roleDefinitionName", "-o", "tsv")
    assert left.stdout == "Owner\n"
    again = az("role", "assignment", "delete", "--assignee", d.teammate.object_id, *role, *group)
    assert (again.returncode, again.stderr) == (1, "ERROR: No matched assignments were found to delete\n")


def test_a_user_without_write_permission_gets_arms_authorization_failed(lab_env: Lab) -> None:
    signed_in(lab_env, "teammate")
    d = lab_env.state.directory
    tom = d.teammate
    done = az(
        "role", "assignment", "create", "--role", "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
        "--assignee-object-id", tom.object_id, "--assignee-principal-type", "User", "--scope", d.account_scope,
    )  # fmt: skip
    assert done.returncode == 1
    first, code, message = done.stderr.splitlines()
    assert first.startswith(
        f"ERROR: (AuthorizationFailed) The client '{tom.upn}' with object id '{tom.object_id}' does not have "
        "authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope "
        f"'{d.account_scope}/providers/Microsoft.Authorization/roleAssignments/"
    )
    assert first.endswith("' or the scope is invalid. If access was recently granted, please refresh your credentials.")
    assert code == "Code: AuthorizationFailed"
    assert message == "Message: " + first.removeprefix("ERROR: (AuthorizationFailed) ")


def test_keys_list_and_regenerate_break_the_old_key(lab_env: Lab) -> None:
    signed_in(lab_env)
    account = [
        "--name",
        lab_env.state.directory.account_name,
        "--resource-group",
        lab_env.state.directory.resource_group,
    ]
    before = json.loads(az("cognitiveservices", "account", "keys", "list", *account).stdout)
    assert before == lab_env.state.account.keys()
    old = openai.AzureOpenAI(
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        api_version=os.environ["AZURE_OPENAI_API_VERSION"],
        api_key=before["key1"],
        max_retries=0,
    )
    assert old.chat.completions.create(model="chat", messages=HELLO).choices
    after = json.loads(az("cognitiveservices", "account", "keys", "regenerate", *account, "--key-name", "key1").stdout)
    assert after["key1"] != before["key1"] and after["key2"] == before["key2"]
    with pytest.raises(openai.AuthenticationError) as refused:
        old.chat.completions.create(model="chat", messages=HELLO)
    assert refused.value.status_code == 401


def test_logout_signs_out(lab_env: Lab) -> None:
    signed_in(lab_env)
    assert az("logout").returncode == 0
    done = az("account", "get-access-token")
    assert (done.returncode, done.stderr) == (1, LOGIN_ERROR)
    assert not (Path(os.environ["AZURE_CONFIG_DIR"]) / "lab_signin.json").exists()


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        (
            ["vm", "list"],
            2,
            "ERROR: 'az vm list' is outside the Go Keyless lab. The lab's az supports: az login, az logout, "
            "az account show, az account get-access-token, az ad signed-in-user show, az role assignment create, "
            "az role assignment list, az role assignment delete, az cognitiveservices account show, "
            "az cognitiveservices account keys list, az cognitiveservices account keys regenerate, "
            "az identity federated-credential create, az identity federated-credential show, "
            "az identity federated-credential list, az identity federated-credential delete.\n",
        ),
        (["account", "show", "--bogus"], 2, "ERROR: unrecognized arguments: --bogus\n"),
        (
            ["account", "show", "-o", "xml"],
            2,
            "ERROR: argument --output/-o: invalid choice: 'xml' "
            "(choose from 'json', 'jsonc', 'none', 'table', 'tsv', 'yaml', 'yamlc')\n",
        ),
        (["account", "show", "--query", "[?"], 2, "ERROR: argument --query: invalid jmespath_type value: '[?'\n"),
    ],
    ids=["outside-the-lab", "unknown-option", "bad-output", "bad-query"],
)
def test_usage_errors(lab_env: Lab, args: list[str], code: int, stderr: str) -> None:
    signed_in(lab_env)
    done = az(*args)
    assert (done.returncode, done.stdout, done.stderr) == (code, "", stderr)


def test_a_stopped_lab_gives_one_line_not_a_traceback() -> None:
    lab = Lab()
    env = lab.environment()
    lab.stop()
    # The lab's home, shims included, is gone; the module is what the shim ran.
    command = [sys.executable, "-m", "keyless_lab.cli.az", "login"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env}, timeout=30)
    assert done.returncode == 1
    assert done.stderr.startswith("ERROR: No Go Keyless lab is configured here") and done.stderr.count("\n") == 1
