"""The Azure CLI (``az``) as far as the lessons and ``AzureCliCredential`` use it: sign-in, account,
tokens, the signed-in user, role assignments, the Azure OpenAI account's keys and the federated
credentials of user-assigned identities.

Output shapes and error texts follow Azure/azure-cli (``profile/custom.py``, ``_profile.py``,
``role/custom.py``) and Microsoft Learn; their sources are in the project's reference notes, §e.
"""

from __future__ import annotations

import os
import sys
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .commandline import Command, Invocation, match, parse, run_and_exit
from .output import apply_query, check_output, render
from .signin import (
    AccessToken,
    EntraError,
    LabConnection,
    azure_config_dir,
    read_json,
    redeem,
    write_private,
)
from .transport import CliError

PROFILE_FILE = "azureProfile.json"
SIGNIN_FILE = "lab_signin.json"  # the refresh token; the real CLI keeps it in msal_token_cache.json
# "Please run 'az login' to setup account." — Azure/azure-cli _profile.py _AZ_LOGIN_MESSAGE.
LOGIN_MESSAGE = "Please run 'az login' to setup account."
ARM_RESOURCE = "https://management.core.windows.net/"  # the CLI's default token resource (AzureCloud)
GRAPH_RESOURCE = "https://graph.microsoft.com/"
AUTHORIZATION_API = "2022-04-01"
COGNITIVE_API = "2024-10-01"
# The GA version; az 2.7x's generated commands send 2025-01-31-preview, with the same body.
IDENTITY_API = "2023-01-31"
EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
ROLE_DEFINITIONS = "Microsoft.Authorization/roleDefinitions"
ROLE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"

GLOBAL_OPTIONS = {"--output": "output", "-o": "output", "--query": "query", "--subscription": "subscription"}
GLOBAL_FLAGS = {
    "--only-show-errors": "quiet",
    "--debug": "debug",
    "--verbose": "verbose",
    "--help": "help",
    "-h": "help",
}
GROUP = {"--resource-group": "resource_group", "-g": "resource_group"}
ASSIGNEE = {
    "--assignee": "assignee",
    "--assignee-object-id": "assignee_object_id",
    "--assignee-principal-type": "assignee_principal_type",
    "--role": "role",
    "--scope": "scope",
    **GROUP,
}


# --- the signed-in profile -------------------------------------------------------------------


def _profile() -> dict[str, Any]:
    data = read_json(azure_config_dir() / PROFILE_FILE)
    return data if isinstance(data, dict) else {}


def _signed_in() -> tuple[dict[str, Any], dict[str, Any]]:
    """The default subscription and the saved sign-in, or the CLI's not-logged-in error."""
    subscriptions = _profile().get("subscriptions") or []
    signin = read_json(azure_config_dir() / SIGNIN_FILE)
    if not subscriptions or not isinstance(signin, dict) or not signin.get("refresh_token"):
        raise CliError(LOGIN_MESSAGE)
    default = next((s for s in subscriptions if s.get("isDefault")), subscriptions[0])
    return default, signin


def _subscription(invocation: Invocation, default: dict[str, Any]) -> dict[str, Any]:
    wanted = invocation.get("subscription")
    if not wanted:
        return default
    for s in _profile().get("subscriptions") or []:
        if wanted.lower() in (s["id"].lower(), s["name"].lower()):
            return s
    # Azure/azure-cli _profile.py.
    raise CliError(f"Subscription '{wanted}' not found. Check the spelling and casing and try again.")


def _token(lab: LabConnection, signin: dict[str, Any], resource: str, tenant: str | None = None) -> AccessToken:
    scope = resource + "/.default"  # azure-cli's resource_to_scopes: '<resource>/.default'
    try:
        return redeem(lab, signin["refresh_token"], tenant or signin["tenant_id"], scope, signin["client_id"])
    except EntraError as err:
        # azure-cli's aad_error_handler: Entra's description, then how to sign in again.
        raise CliError(
            err.description, hint=f"Interactive authentication is needed. Please run:\naz login --scope {scope}"
        ) from None


# --- az login / logout / account -----------------------------------------------------------------


def login(invocation: Invocation) -> Any:
    lab = LabConnection.find()
    wanted = (invocation.get("username") or "learner").lower()
    user = wanted.split("@", 1)[0] if "@" in wanted else wanted
    # The lab's users sign in by name (learner, teammate) or UPN (ada@…, tom@…).
    user = {"ada": "learner", "tom": "teammate"}.get(user, user)
    answer = lab.sign_in(user)
    tenant = answer["tenant_id"]
    if invocation.get("tenant") and invocation.get("tenant", "").lower() not in (tenant, "organizations", "common"):
        raise CliError(f"No subscriptions found for {answer['user']['userPrincipalName']}.")
    upn = answer["user"]["userPrincipalName"]
    subscriptions = [
        {
            "cloudName": "AzureCloud",
            "homeTenantId": s["tenantId"],
            "id": s["id"],
            "isDefault": i == 0,
            "managedByTenants": [],
            "name": s["name"],
            "state": s["state"],
            "tenantId": s["tenantId"],
            "user": {"name": upn, "type": "user"},
        }
        for i, s in enumerate(answer["subscriptions"])
    ]
    config = azure_config_dir()
    write_private(
        config / SIGNIN_FILE,
        {
            "refresh_token": answer["refresh_token"],
            "client_id": answer["client_id"],
            "tenant_id": tenant,
            "user": answer["user"],
        },
    )
    stored = [
        {**{k: v for k, v in s.items() if k != "cloudName"}, "environmentName": "AzureCloud"} for s in subscriptions
    ]
    write_private(config / PROFILE_FILE, {"installationId": _new_guid(), "subscriptions": stored})
    return subscriptions


def logout(invocation: Invocation) -> Any:
    config = azure_config_dir()
    if not (config / SIGNIN_FILE).exists():
        # Azure/azure-cli profile/custom.py logout() when no account is signed in.
        raise CliError("There are no active accounts.")
    (config / SIGNIN_FILE).unlink(missing_ok=True)
    write_private(config / PROFILE_FILE, {"installationId": _profile().get("installationId"), "subscriptions": []})
    return None


def account_show(invocation: Invocation) -> Any:
    default, _ = _signed_in()
    return _subscription(invocation, default)


def get_access_token(invocation: Invocation) -> Any:
    default, signin = _signed_in()
    resource = invocation.get("resource")
    scopes = invocation.all("scope")
    resource_type = invocation.get("resource_type")
    if sum(bool(x) for x in (resource, scopes, resource_type)) > 1:
        raise CliError("usage error: --resource/--resource-type/--scope are mutually exclusive", exit_code=2)
    if resource_type:
        resource = {"arm": ARM_RESOURCE, "ms-graph": GRAPH_RESOURCE}.get(resource_type)
        if resource is None:
            raise CliError(f"--resource-type {resource_type} is outside the Go Keyless lab; use arm or ms-graph.", 2)
    tenant = invocation.get("tenant")
    subscription = None if tenant else _subscription(invocation, default)
    if tenant and invocation.get("subscription"):
        raise CliError("Please specify only one of subscription and tenant, not both")  # _profile.py
    lab = LabConnection.find()
    if scopes:
        try:
            token = redeem(lab, signin["refresh_token"], tenant or signin["tenant_id"], " ".join(scopes))
        except EntraError as err:
            hint = f"Interactive authentication is needed. Please run:\naz login --scope {' '.join(scopes)}"
            raise CliError(err.description, hint=hint) from None
    else:
        token = _token(lab, signin, resource or ARM_RESOURCE, tenant)
    result: dict[str, Any] = {
        "accessToken": token.token,
        # Local time, as azure-cli's get_raw_token formats it (deprecated but still printed).
        "expiresOn": datetime.fromtimestamp(token.expires_on).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "expires_on": token.expires_on,
        "tenant": tenant or signin["tenant_id"],
        "tokenType": "Bearer",
    }
    if subscription is not None:
        result["subscription"] = subscription["id"]
    return result


def signed_in_user_show(invocation: Invocation) -> Any:
    _, signin = _signed_in()
    lab = LabConnection.find()
    token = _token(lab, signin, GRAPH_RESOURCE)
    answer = lab.transport().call("GET", f"{lab.url}/graph/v1.0/me", headers={"Authorization": f"Bearer {token.token}"})
    if answer.status != 200:
        raise _service_error(answer.body, answer.status)
    return answer.body


# --- ARM: role assignments and the account's keys ----------------------------------------------


class Arm:
    """The lab's ARM endpoint with the signed-in user's token, as the CLI's management clients call it."""

    def __init__(self, invocation: Invocation) -> None:
        default, signin = _signed_in()
        self.subscription_id: str = _subscription(invocation, default)["id"]
        self.lab = LabConnection.find()
        self._token = _token(self.lab, signin, ARM_RESOURCE).token
        self._transport = self.lab.transport()

    def call(self, method: str, path: str, api_version: str, body: Any = None, odata_filter: str = "") -> Any:
        query = urllib.parse.urlencode(
            {"api-version": api_version, **({"$filter": odata_filter} if odata_filter else {})}
        )
        url = f"{self.lab.url}/arm{urllib.parse.quote(path)}?{query}"
        headers = {"Authorization": f"Bearer {self._token}", "x-ms-client-request-id": _new_guid()}
        answer = self._transport.call(method, url, json_body=body, headers=headers)
        if answer.status >= 400:
            raise _service_error(answer.body, answer.status)
        return answer.body


def _service_error(body: Any, status: int) -> CliError:
    """How the CLI prints a failed ARM or Graph call: ``(Code) Message`` then ``Code:`` and ``Message:``."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("code"):
        code, message = error["code"], error.get("message", "")
        return CliError(f"({code}) {message}\nCode: {code}\nMessage: {message}")
    return CliError(f"Operation returned an invalid status code {status}")


def _scope(invocation: Invocation, subscription_id: str) -> str | None:
    scope = invocation.get("scope")
    if scope:
        return "/" + scope.strip("/")
    group = invocation.get("resource_group")
    if group:
        return f"/subscriptions/{subscription_id}/resourceGroups/{group}"
    return None


def _new_guid() -> str:
    import uuid  # loaded only by the commands that need one

    return str(uuid.uuid4())


def _is_guid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _role_definition_id(arm: Arm, role: str, scope: str) -> str:
    if role.lower().startswith("/subscriptions/") or role.lower().startswith("/providers/"):
        return role
    if _is_guid(role):
        return f"/subscriptions/{arm.subscription_id}/providers/{ROLE_DEFINITIONS}/{role}"
    listed = arm.call(
        "GET", f"{scope}/providers/{ROLE_DEFINITIONS}", AUTHORIZATION_API, odata_filter=f"roleName eq '{role}'"
    )
    found = [d for d in listed.get("value", []) if d["properties"]["roleName"].lower() == role.lower()]
    if not found:
        raise CliError(f"Role '{role}' doesn't exist.")  # azure-cli role/custom.py _resolve_role_id
    return found[0]["id"]


def _directory_principal(lab: LabConnection, assignee: str) -> dict[str, Any]:
    """Resolve ``--assignee`` (UPN, object id or app id) as the CLI does through Microsoft Graph."""
    wanted = assignee.lower()
    for p in lab.directory()["principals"]:
        if wanted in {str(p.get(k) or "").lower() for k in ("id", "userPrincipalName", "appId")}:
            return p
    raise CliError(
        f"Cannot find user or service principal in graph database for '{assignee}'. If the assignee is an appId, "
        f"make sure the corresponding service principal is created with 'az ad sp create --id {assignee}'."
    )


def _flatten(assignment: dict[str, Any]) -> dict[str, Any]:
    """The CLI prints an assignment's properties beside its id, name and type."""
    props = assignment.get("properties", {})
    flat = {
        "condition": props.get("condition"),
        "conditionVersion": props.get("conditionVersion"),
        "createdBy": props.get("createdBy"),
        "createdOn": props.get("createdOn"),
        "delegatedManagedIdentityResourceId": props.get("delegatedManagedIdentityResourceId"),
        "description": props.get("description"),
        "id": assignment.get("id"),
        "name": assignment.get("name"),
        "principalId": props.get("principalId"),
        "principalType": props.get("principalType"),
        "roleDefinitionId": props.get("roleDefinitionId"),
        "scope": props.get("scope"),
        "type": assignment.get("type"),
        "updatedBy": props.get("updatedBy"),
        "updatedOn": props.get("updatedOn"),
    }
    parts = (props.get("scope") or "").split("/")
    if len(parts) > 4 and parts[3].lower() == "resourcegroups":
        flat["resourceGroup"] = parts[4]
    return flat


def role_assignment_create(invocation: Invocation) -> Any:
    arm = Arm(invocation)
    role = invocation.get("role")
    if not role:
        raise CliError("the following arguments are required: --role", exit_code=2)
    object_id = invocation.get("assignee_object_id")
    principal_type = invocation.get("assignee_principal_type")
    assignee = invocation.get("assignee")
    if bool(object_id) == bool(assignee):
        raise CliError("usage error: --assignee STRING | --assignee-object-id GUID", exit_code=2)
    if assignee:
        found = _directory_principal(arm.lab, assignee)
        object_id, principal_type = found["id"], principal_type or found["principalType"]
    scope = _scope(invocation, arm.subscription_id) or f"/subscriptions/{arm.subscription_id}"
    properties = {"roleDefinitionId": _role_definition_id(arm, role, scope), "principalId": object_id}
    if principal_type:
        properties["principalType"] = principal_type
    if invocation.get("description"):
        properties["description"] = invocation.get("description")
    name = invocation.get("name") or _new_guid()
    created = arm.call(
        "PUT", f"{scope}/providers/{ROLE_ASSIGNMENTS}/{name}", AUTHORIZATION_API, {"properties": properties}
    )
    return _flatten(created)


def _search(arm: Arm, invocation: Invocation) -> list[dict[str, Any]]:
    """azure-cli's _search_role_assignments: list at the scope (the subscription unless --all), then narrow."""
    assignee = invocation.get("assignee") or invocation.get("assignee_object_id")
    object_id = None
    if assignee:
        object_id = assignee.lower() if _is_guid(assignee) else _directory_principal(arm.lab, assignee)["id"]
    scope = _scope(invocation, arm.subscription_id)
    if scope is None and not invocation.flag("all"):
        scope = f"/subscriptions/{arm.subscription_id}"
    if scope:
        listed = arm.call("GET", f"{scope}/providers/{ROLE_ASSIGNMENTS}", AUTHORIZATION_API, odata_filter="atScope()")
    else:
        subscription = f"/subscriptions/{arm.subscription_id}/providers/{ROLE_ASSIGNMENTS}"
        odata_filter = f"principalId eq '{object_id}'" if object_id else ""
        listed = arm.call("GET", subscription, AUTHORIZATION_API, odata_filter=odata_filter)
    found = [_flatten(a) for a in listed.get("value", [])]
    if scope:
        inherited = invocation.flag("include_inherited")
        found = [
            a
            for a in found
            if a["scope"].lower() == scope.lower() or (inherited and scope.lower().startswith(a["scope"].lower()))
        ]
    if object_id:
        found = [a for a in found if a["principalId"].lower() == object_id]
    role = invocation.get("role")
    if role:
        role_id = _role_definition_id(arm, role, scope or f"/subscriptions/{arm.subscription_id}")
        wanted = role_id.rsplit("/", 1)[-1].lower()
        found = [a for a in found if a["roleDefinitionId"].rsplit("/", 1)[-1].lower() == wanted]
    return found


def role_assignment_list(invocation: Invocation) -> Any:
    arm = Arm(invocation)
    found = _search(arm, invocation)
    if not found:
        return []
    directory = arm.lab.directory()
    names = {p["id"]: p.get("userPrincipalName") or p.get("appId") for p in directory["principals"]}
    roles = arm.call("GET", f"/subscriptions/{arm.subscription_id}/providers/{ROLE_DEFINITIONS}", AUTHORIZATION_API)
    role_names = {d["name"].lower(): d["properties"]["roleName"] for d in roles.get("value", [])}
    for a in found:
        a["principalName"] = names.get(a["principalId"], "")
        a["roleDefinitionName"] = role_names.get(a["roleDefinitionId"].rsplit("/", 1)[-1].lower())
    return found


def role_assignment_delete(invocation: Invocation) -> Any:
    arm = Arm(invocation)
    ids = invocation.all("ids")
    targets = ids or [a["id"] for a in _search(arm, invocation)]
    if not targets:
        raise CliError("No matched assignments were found to delete")  # azure-cli role/custom.py
    for target in targets:
        arm.call("DELETE", target, AUTHORIZATION_API)
    return None


def _account_path(invocation: Invocation, subscription_id: str) -> str:
    name, group = invocation.get("name"), invocation.get("resource_group")
    missing = [flag for flag, value in (("--name/-n", name), ("--resource-group/-g", group)) if not value]
    if missing:
        raise CliError(f"the following arguments are required: {', '.join(missing)}", exit_code=2)
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/{name}"
    )


def account_show_cognitive(invocation: Invocation) -> Any:
    arm = Arm(invocation)
    return arm.call("GET", _account_path(invocation, arm.subscription_id), COGNITIVE_API)


def keys_list(invocation: Invocation) -> Any:
    arm = Arm(invocation)
    return arm.call("POST", _account_path(invocation, arm.subscription_id) + "/listKeys", COGNITIVE_API)


def keys_regenerate(invocation: Invocation) -> Any:
    arm = Arm(invocation)
    key_name = (invocation.get("key_name") or "").lower()
    if key_name not in ("key1", "key2"):
        raise CliError(
            f"argument --key-name: invalid choice: '{invocation.get('key_name')}' (choose from 'key1', 'key2')", 2
        )
    path = _account_path(invocation, arm.subscription_id) + "/regenerateKey"
    return arm.call("POST", path, COGNITIVE_API, {"keyName": key_name.capitalize()})


# --- user-assigned identities: federated credentials ----------------------------------------------


def _fic_path(invocation: Invocation, subscription_id: str, with_name: bool = True) -> str:
    wanted = [
        ("--identity-name", invocation.get("identity_name")),
        ("--resource-group/-g", invocation.get("resource_group")),
    ]
    if with_name:
        wanted.insert(0, ("--name/-n", invocation.get("name")))
    missing = [flag for flag, value in wanted if not value]
    if missing:
        raise CliError(f"the following arguments are required: {', '.join(missing)}", exit_code=2)
    path = (
        f"/subscriptions/{subscription_id}/resourceGroups/{invocation.get('resource_group')}"
        f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{invocation.get('identity_name')}"
        "/federatedIdentityCredentials"
    )
    return f"{path}/{invocation.get('name')}" if with_name else path


def _flatten_fic(fic: dict[str, Any]) -> dict[str, Any]:
    """az prints a federated credential with its properties beside id, name and type (client_flatten)."""
    props = fic.get("properties", {})
    parts = (fic.get("id") or "").split("/")
    return {
        "audiences": props.get("audiences"),
        "id": fic.get("id"),
        "issuer": props.get("issuer"),
        "name": fic.get("name"),
        "resourceGroup": parts[4] if len(parts) > 4 else None,
        "subject": props.get("subject"),
        "systemData": fic.get("systemData"),
        "type": fic.get("type"),
    }


def federated_credential_create(invocation: Invocation) -> Any:
    arm = Arm(invocation)
    path = _fic_path(invocation, arm.subscription_id)
    properties = {
        "issuer": invocation.get("issuer"),
        "subject": invocation.get("subject"),
        "audiences": invocation.all("audiences") or [EXCHANGE_AUDIENCE],
    }
    body = {"properties": {k: v for k, v in properties.items() if v}}
    return _flatten_fic(arm.call("PUT", path, IDENTITY_API, body))


def federated_credential_show(invocation: Invocation) -> Any:
    arm = Arm(invocation)
    return _flatten_fic(arm.call("GET", _fic_path(invocation, arm.subscription_id), IDENTITY_API))


def federated_credential_list(invocation: Invocation) -> Any:
    arm = Arm(invocation)
    listed = arm.call("GET", _fic_path(invocation, arm.subscription_id, with_name=False), IDENTITY_API)
    return [_flatten_fic(f) for f in listed.get("value", [])]


def federated_credential_delete(invocation: Invocation) -> Any:
    if not invocation.flag("yes"):
        # The command asks for confirmation (confirmation=True); with no terminal to ask on, knack refuses.
        raise CliError("Unable to prompt for confirmation as no tty available. Use --yes.")
    arm = Arm(invocation)
    arm.call("DELETE", _fic_path(invocation, arm.subscription_id), IDENTITY_API)
    return None


FEDERATED_CREDENTIAL = {
    "--name": "name",
    "-n": "name",
    "--identity-name": "identity_name",
    **GROUP,
}


# --- the command table -------------------------------------------------------------------------

Handler = Callable[[Invocation], Any]

COMMANDS: list[tuple[Command, Handler]] = [
    (
        Command(
            ("login",),
            {"--username": "username", "-u": "username", "--tenant": "tenant", "-t": "tenant", "--scope": "scope"},
            {"--use-device-code": "device_code", "--allow-no-subscriptions": "no_subscriptions"},
        ),
        login,
    ),
    (Command(("logout",), {"--username": "username"}), logout),
    (Command(("account", "show"), {"--name": "subscription", "-n": "subscription"}), account_show),
    (
        Command(
            ("account", "get-access-token"),
            {
                "--resource": "resource",
                "--scope": "scope",
                "--resource-type": "resource_type",
                "--tenant": "tenant",
                "-t": "tenant",
            },
            repeatable=frozenset({"scope"}),
        ),
        get_access_token,
    ),
    (Command(("ad", "signed-in-user", "show")), signed_in_user_show),
    (
        Command(("role", "assignment", "create"), {**ASSIGNEE, "--description": "description", "--name": "name"}),
        role_assignment_create,
    ),
    (
        Command(("role", "assignment", "list"), ASSIGNEE, {"--all": "all", "--include-inherited": "include_inherited"}),
        role_assignment_list,
    ),
    (
        Command(
            ("role", "assignment", "delete"),
            {**ASSIGNEE, "--ids": "ids"},
            {"--include-inherited": "include_inherited", "--yes": "yes", "-y": "yes"},
            repeatable=frozenset({"ids"}),
        ),
        role_assignment_delete,
    ),
    (
        Command(("cognitiveservices", "account", "show"), {"--name": "name", "-n": "name", **GROUP}),
        account_show_cognitive,
    ),
    (Command(("cognitiveservices", "account", "keys", "list"), {"--name": "name", "-n": "name", **GROUP}), keys_list),
    (
        Command(
            ("cognitiveservices", "account", "keys", "regenerate"),
            {"--name": "name", "-n": "name", "--key-name": "key_name", **GROUP},
        ),
        keys_regenerate,
    ),
    (
        Command(
            ("identity", "federated-credential", "create"),
            {**FEDERATED_CREDENTIAL, "--issuer": "issuer", "--subject": "subject", "--audiences": "audiences"},
            repeatable=frozenset({"audiences"}),
        ),
        federated_credential_create,
    ),
    (Command(("identity", "federated-credential", "show"), FEDERATED_CREDENTIAL), federated_credential_show),
    (Command(("identity", "federated-credential", "list"), FEDERATED_CREDENTIAL), federated_credential_list),
    (
        Command(("identity", "federated-credential", "delete"), FEDERATED_CREDENTIAL, {"--yes": "yes", "-y": "yes"}),
        federated_credential_delete,
    ),
]


def _supported() -> str:
    return ", ".join("az " + " ".join(c.words) for c, _ in COMMANDS)


def run(argv: list[str]) -> int:
    command, words = match(argv, [c for c, _ in COMMANDS])
    if command is None:
        shown = " ".join(["az", *words]) if words else "az"
        raise CliError(f"'{shown}' is outside the Go Keyless lab. The lab's az supports: {_supported()}.", exit_code=2)
    invocation = parse(argv, command, GLOBAL_OPTIONS, GLOBAL_FLAGS)
    output = invocation.get("output") or os.environ.get("AZURE_CORE_OUTPUT") or "json"
    check_output(output)
    if invocation.flag("help"):
        sys.stdout.write(f"Group\n    az {' '.join(command.words)} (Go Keyless lab stand-in)\n")
        return 0
    handler = next(h for c, h in COMMANDS if c is command)
    result = apply_query(handler(invocation), invocation.get("query"))
    sys.stdout.write(render(result, output))
    return 0


def main() -> None:
    run_and_exit(run, hint="{}", unexpected="The command failed with an unexpected error")


if __name__ == "__main__":
    main()
