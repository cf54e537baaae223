"""Microsoft.CognitiveServices: the Azure OpenAI account (``disableLocalAuth``), its keys and its deployments.
Documented at https://learn.microsoft.com/rest/api/aiservices/accountmanagement/accounts .
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..directory import stable_id
from .errors import (
    bad_request,
    invalid_request_content,
    invalid_resource_type,
    list_keys_disabled,
    listing_not_offered,
    method_not_allowed,
    resource_not_found,
)
from .request import LOCATION, Call, json_response

ACCOUNTS = "Microsoft.CognitiveServices/accounts"


def _account_body(call: Call) -> dict[str, Any]:
    d = call.state.directory
    account = call.state.account
    endpoint = str(call.request.base_url)
    return {
        "id": d.account_scope,
        "name": account.name,
        "type": ACCOUNTS,
        "etag": f'"{stable_id("account-etag-" + str(account.disable_local_auth))}"',
        "location": LOCATION,
        "sku": {"name": "S0"},
        "kind": "OpenAI",
        "tags": {},
        "identity": {"type": "SystemAssigned", "principalId": stable_id("account-identity"), "tenantId": d.tenant_id},
        "properties": {
            "endpoint": endpoint,
            "endpoints": {"OpenAI Language Model Instance API": endpoint},
            "internalId": stable_id("account-internal").replace("-", ""),
            "dateCreated": "2025-01-01T00:00:00.0000000Z",
            "customSubDomainName": account.name,
            "publicNetworkAccess": "Enabled",
            "disableLocalAuth": account.disable_local_auth,
            "provisioningState": "Succeeded",
        },
    }


_MODEL_VERSIONS = {"gpt-4o-mini": "2024-07-18", "text-embedding-3-small": "1"}


def _deployment_body(call: Call, name: str) -> dict[str, Any]:
    deployment = call.state.account.deployments[name]
    return {
        "id": f"{call.state.directory.account_scope}/deployments/{name}",
        "name": name,
        "type": f"{ACCOUNTS}/deployments",
        "sku": {"name": "Standard", "capacity": 10},
        "properties": {
            "model": {"format": "OpenAI", "name": deployment.model, "version": _MODEL_VERSIONS.get(deployment.model)},
            "provisioningState": "Succeeded",
        },
    }


async def accounts(call: Call, resource_group: str, parts: list[str]) -> Response:
    d = call.state.directory
    if not parts:
        raise method_not_allowed(call.method) if call.method != "GET" else listing_not_offered(call.api_version)
    name = parts[0]
    this_account = f"/subscriptions/{d.subscription_id}/resourceGroups/{resource_group}/providers/{ACCOUNTS}/{name}"
    if len(parts) == 1:
        action = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(call.method)
        if action is None:
            raise method_not_allowed(call.method)
        call.require(f"{ACCOUNTS}/{action}", this_account)
        _account_exists(call, resource_group, name)
        if call.method == "DELETE":
            raise bad_request("The lab's Azure OpenAI account cannot be deleted.")
        if call.method in ("PUT", "PATCH"):
            body = await call.body()
            props = body.get("properties", {})
            if not isinstance(props, dict):
                raise invalid_request_content("'properties' must be a JSON object.")
            if "disableLocalAuth" in props:
                if not isinstance(props["disableLocalAuth"], bool):
                    raise invalid_request_content("Could not convert 'properties.disableLocalAuth' to a boolean.")
                call.state.account.disable_local_auth = props["disableLocalAuth"]
        return json_response(call.request, _account_body(call))
    action_name = parts[1].lower()
    if len(parts) == 2 and action_name == "listkeys" and call.method == "POST":
        call.require(f"{ACCOUNTS}/listKeys/action", this_account)
        _account_exists(call, resource_group, name)
        if call.state.account.disable_local_auth:
            raise list_keys_disabled()
        return json_response(call.request, call.state.account.keys())
    if len(parts) == 2 and action_name == "regeneratekey" and call.method == "POST":
        call.require(f"{ACCOUNTS}/regenerateKey/action", this_account)
        _account_exists(call, resource_group, name)
        body = await call.body()
        key_name = body.get("keyName")
        if not isinstance(key_name, str) or key_name.lower() not in ("key1", "key2"):
            # Unconfirmed text; the values are the REST API's KeyName enum.
            raise bad_request(f"The keyName '{key_name}' is not valid. Valid values are 'Key1' and 'Key2'.")
        return json_response(call.request, call.state.account.regenerate(key_name.lower()))
    if action_name == "deployments" and call.method == "GET" and len(parts) in (2, 3):
        call.require(f"{ACCOUNTS}/deployments/read", this_account)
        _account_exists(call, resource_group, name)
        if len(parts) == 2:
            names = list(call.state.account.deployments)
            return json_response(call.request, {"value": [_deployment_body(call, n) for n in names]})
        if parts[2] not in call.state.account.deployments:
            raise resource_not_found(f"{ACCOUNTS}/deployments", f"{name}/{parts[2]}", resource_group)
        return json_response(call.request, _deployment_body(call, parts[2]))
    if action_name in ("listkeys", "regeneratekey", "deployments"):
        raise method_not_allowed(call.method)
    raise invalid_resource_type("Microsoft.CognitiveServices", call.api_version)


def _account_exists(call: Call, resource_group: str, name: str) -> None:
    if name.lower() != call.state.account.name.lower():
        raise resource_not_found(ACCOUNTS, name, resource_group)
