"""Microsoft.ManagedIdentity: user-assigned identities and their federated identity credentials.
Documented at https://learn.microsoft.com/rest/api/managedidentity/federated-identity-credentials .
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from ..directory import Principal
from .errors import (
    FIC_DUPLICATE,
    FIC_FIELDS_REQUIRED,
    bad_request,
    invalid_resource_type,
    listing_not_offered,
    method_not_allowed,
    resource_not_found,
)
from .request import LOCATION, Call, empty_response, json_response

IDENTITIES = "Microsoft.ManagedIdentity/userAssignedIdentities"
FEDERATED_CREDENTIALS = f"{IDENTITIES}/federatedIdentityCredentials"
_FIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$")


def _identity_principal(call: Call, resource_group: str, name: str) -> Principal:
    for p in call.state.directory.principals.values():
        if p.resource_id and p.resource_id.lower().endswith(f"/{IDENTITIES}/{name}".lower()):
            return p
    raise resource_not_found(IDENTITIES, name, resource_group)


def _identity_body(call: Call, p: Principal) -> dict[str, Any]:
    assert p.resource_id is not None
    return {
        "id": p.resource_id,
        "name": p.display_name,
        "type": IDENTITIES,
        "location": LOCATION,
        "tags": {},
        "properties": {
            "tenantId": call.state.directory.tenant_id,
            "principalId": p.object_id,
            "clientId": p.client_id,
            "isolationScope": "None",
        },
    }


def _fic_body(identity: Principal, fic: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{identity.resource_id}/federatedIdentityCredentials/{fic['name']}",
        "name": fic["name"],
        "type": FEDERATED_CREDENTIALS,
        "properties": {"issuer": fic["issuer"], "subject": fic["subject"], "audiences": list(fic["audiences"])},
    }


async def identities(call: Call, resource_group: str, parts: list[str]) -> Response:
    if not parts:
        raise method_not_allowed(call.method) if call.method != "GET" else listing_not_offered(call.api_version)
    name = parts[0]
    d = call.state.directory
    this_identity = f"/subscriptions/{d.subscription_id}/resourceGroups/{resource_group}/providers/{IDENTITIES}/{name}"
    if len(parts) == 1:
        if call.method != "GET":
            raise method_not_allowed(call.method)
        call.require(f"{IDENTITIES}/read", this_identity)
        return json_response(call.request, _identity_body(call, _identity_principal(call, resource_group, name)))
    if parts[1].lower() != "federatedidentitycredentials" or len(parts) > 3:
        raise invalid_resource_type("Microsoft.ManagedIdentity", call.api_version)
    fic_action = f"{FEDERATED_CREDENTIALS}/{'read' if call.method == 'GET' else call.method.lower()}"
    if call.method == "PUT":
        fic_action = f"{FEDERATED_CREDENTIALS}/write"
    if call.method not in ("GET", "PUT", "DELETE") or (len(parts) == 2 and call.method != "GET"):
        raise method_not_allowed(call.method)
    call.require(fic_action, this_identity)
    identity = _identity_principal(call, resource_group, name)
    stored = call.state.federated_credentials.get(identity.object_id, [])
    if len(parts) == 2:
        return json_response(call.request, {"value": [_fic_body(identity, f) for f in stored]})
    fic_name = parts[2]
    current = next((f for f in stored if f["name"].lower() == fic_name.lower()), None)
    if call.method == "GET":
        if current is None:
            raise resource_not_found(FEDERATED_CREDENTIALS, f"{name}/{fic_name}", resource_group)
        return json_response(call.request, _fic_body(identity, current))
    if call.method == "DELETE":
        if current is None:
            return empty_response(call.request, 204)
        remaining = [f for f in stored if f is not current]
        if remaining:
            call.state.federated_credentials[identity.object_id] = remaining
        else:
            call.state.federated_credentials.pop(identity.object_id, None)
        return empty_response(call.request, 200)
    if not _FIC_NAME.match(fic_name):
        # Unconfirmed text; the rule (3-120 characters, letters, digits, '-' and '_', starting with a letter
        # or digit) is the documented one.
        raise bad_request(f"The federated identity credential name '{fic_name}' is not valid.")
    body = await call.body()
    props = body.get("properties")
    issuer = props.get("issuer") if isinstance(props, dict) else None
    subject = props.get("subject") if isinstance(props, dict) else None
    audiences = props.get("audiences") if isinstance(props, dict) else None
    if (
        not isinstance(issuer, str)
        or not issuer
        or not isinstance(subject, str)
        or not subject
        or not isinstance(audiences, list)
        or not audiences
        or not all(isinstance(a, str) and a for a in audiences)
    ):
        raise bad_request(FIC_FIELDS_REQUIRED)
    if any(f is not current and f["issuer"] == issuer and f["subject"] == subject for f in stored):
        raise bad_request(FIC_DUPLICATE)
    fic = {"name": current["name"] if current else fic_name, "issuer": issuer, "subject": subject}
    fic["audiences"] = list(audiences)
    # A new list each time, so a reader never sees one half written.
    call.state.federated_credentials[identity.object_id] = [f for f in stored if f is not current] + [fic]
    return json_response(call.request, _fic_body(identity, fic), 200 if current else 201)
