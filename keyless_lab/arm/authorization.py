"""Microsoft.Authorization 2022-04-01: role assignments (create, read, list with ``$filter``, delete) and
built-in role definitions. Documented at https://learn.microsoft.com/rest/api/authorization/role-assignments .
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from starlette.responses import Response

from ..rbac import RoleAssignment, RoleAssignmentExists, RoleDefinition, scope_contains
from .errors import (
    invalid_principal_id,
    invalid_request_content,
    invalid_resource_type,
    invalid_role_assignment_id,
    invalid_role_definition_id,
    method_not_allowed,
    principal_not_found,
    role_assignment_exists,
    role_assignment_not_found,
    role_assignment_update_not_permitted,
    role_definition_does_not_exist,
)
from .request import Call, empty_response, json_response

AUTHORIZATION_API_VERSION = "2022-04-01"
ROLE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"
ROLE_DEFINITIONS = "Microsoft.Authorization/roleDefinitions"
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_ROLE_DEFINITION_ID = re.compile(
    r"^(?:/subscriptions/[^/]+(?:/resourceGroups/[^/]+)?)?/providers/Microsoft\.Authorization/roleDefinitions/"
    r"(?P<id>[^/]+)$",
    re.IGNORECASE,
)


def _arm_time(iso: str) -> str:
    """ARM's timestamps: UTC with seven fractional digits and ``Z``."""
    t = dt.datetime.fromisoformat(iso).astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _role_definition_id(call: Call, guid: str, scope: str = "") -> str:
    # Definitions read at the tenant root carry no subscription; everywhere else ARM names them by it.
    prefix = f"/subscriptions/{call.subscription_id}" if scope.lower().startswith("/subscriptions/") else ""
    return f"{prefix}/providers/{ROLE_DEFINITIONS}/{guid}"


def _role_definition_body(call: Call, role: RoleDefinition, scope: str) -> dict[str, Any]:
    return {
        "properties": {
            "roleName": role.role_name,
            "type": "BuiltInRole",
            "description": role.description,
            "assignableScopes": ["/"],
            "permissions": [
                {
                    "actions": list(role.actions),
                    "notActions": list(role.not_actions),
                    "dataActions": list(role.data_actions),
                    "notDataActions": list(role.not_data_actions),
                }
            ],
            # The lab's role data carries no creation dates; ARM fills these for built-in roles.
            "createdOn": None,
            "updatedOn": None,
            "createdBy": None,
            "updatedBy": None,
        },
        "id": _role_definition_id(call, role.id, scope),
        "type": ROLE_DEFINITIONS,
        "name": role.id,
    }


def _assignment_body(call: Call, a: RoleAssignment, *, just_created: bool = False) -> dict[str, Any]:
    created = _arm_time(a.created_on)
    return {
        "properties": {
            "roleDefinitionId": f"/subscriptions/{call.subscription_id}/providers/{ROLE_DEFINITIONS}/"
            f"{a.role_definition_id}",
            "principalId": a.principal_id,
            "principalType": a.principal_type,
            "scope": a.scope,
            "condition": None,
            "conditionVersion": None,
            "createdOn": created,
            "updatedOn": created,
            # ARM leaves createdBy empty in the answer to the PUT itself (az role assignment create prints null).
            "createdBy": None if just_created else a.created_by,
            "updatedBy": a.created_by,
            "delegatedManagedIdentityResourceId": None,
            "description": a.description,
        },
        "id": f"{a.scope}/providers/{ROLE_ASSIGNMENTS}/{a.name}",
        "type": ROLE_ASSIGNMENTS,
        "name": a.name,
    }


def _find_assignment(call: Call, scope: str, name: str) -> RoleAssignment | None:
    found = call.state.rbac.get(name.lower()) or call.state.rbac.get(name)
    if found is None or found.scope.lower() != scope.lower():
        return None
    return found


async def role_assignments(call: Call, scope: str, name: str | None) -> Response:
    request = call.request
    if not scope:
        raise invalid_resource_type("Microsoft.Authorization", call.api_version)
    if name is None:
        if call.method != "GET":
            raise method_not_allowed(call.method)
        call.require(f"{ROLE_ASSIGNMENTS}/read", scope)
        return json_response(request, {"value": [_assignment_body(call, a) for a in _visible(call, scope)]})
    shown = f"{scope}/providers/{ROLE_ASSIGNMENTS}/{name}"
    if call.method == "GET":
        call.require(f"{ROLE_ASSIGNMENTS}/read", scope, shown)
        found = _find_assignment(call, scope, name)
        if found is None:
            raise role_assignment_not_found(name)
        return json_response(request, _assignment_body(call, found))
    if call.method == "DELETE":
        call.require(f"{ROLE_ASSIGNMENTS}/delete", scope, shown)
        found = _find_assignment(call, scope, name)
        if found is None:
            return empty_response(request, 204)  # deleting what is not there is not an error in ARM
        call.state.rbac.remove(found.name)
        return json_response(request, _assignment_body(call, found))
    if call.method == "PUT":
        call.require(f"{ROLE_ASSIGNMENTS}/write", scope, shown)
        return await _create_assignment(call, scope, name)
    raise method_not_allowed(call.method)


async def _create_assignment(call: Call, scope: str, name: str) -> Response:
    if not _GUID.match(name):
        raise invalid_role_assignment_id(name)
    body = await call.body()
    props = body.get("properties")
    if not isinstance(props, dict):
        raise invalid_request_content("Required property 'properties' not found in JSON.")
    role_value = props.get("roleDefinitionId")
    principal_value = props.get("principalId")
    principal_type = props.get("principalType")
    if not isinstance(role_value, str):
        raise invalid_role_definition_id(str(role_value))
    matched = _ROLE_DEFINITION_ID.match(role_value.strip())
    if matched is None:
        raise invalid_role_definition_id(role_value)
    role_guid = matched.group("id")
    if not _GUID.match(role_guid):
        raise invalid_role_definition_id(role_guid)
    role_guid = role_guid.lower()
    if role_guid not in call.state.rbac.definitions:
        raise role_definition_does_not_exist(role_guid, 400)
    if not isinstance(principal_value, str) or not _GUID.match(principal_value):
        raise invalid_principal_id(str(principal_value))
    principal_id = principal_value.lower()
    if principal_type is not None and principal_type not in PRINCIPAL_TYPES:
        raise invalid_request_content(f"Error converting value \"{principal_type}\" to type 'PrincipalType'.")
    known = call.state.directory.by_object_id(principal_id)
    if known is None and principal_type is None:
        # With principalType given Azure skips the directory look-up (the replication-delay advice).
        raise principal_not_found(principal_id, call.state.directory.tenant_id)
    description = props.get("description")
    assert call.caller is not None
    assignment = RoleAssignment(
        name=name.lower(),
        scope=scope,
        role_definition_id=role_guid,
        principal_id=principal_id,
        principal_type=principal_type or (known.principal_type if known else "User"),
        created_by=call.caller.object_id,
        description=description if isinstance(description, str) else None,
    )
    existing = call.state.rbac.get(assignment.name)
    if existing is not None and (
        existing.principal_id != assignment.principal_id
        or existing.role_definition_id != assignment.role_definition_id
        or existing.scope.lower() != assignment.scope.lower()
    ):
        raise role_assignment_update_not_permitted()
    if existing is not None:
        # The same name with the same properties is a repeated PUT, as every redeployment of a
        # template with guid() names sends: ARM answers it as done, not as a duplicate.
        return json_response(call.request, _assignment_body(call, existing, just_created=False), 201)
    try:
        call.state.rbac.assign(assignment)
    except RoleAssignmentExists:
        raise role_assignment_exists() from None
    return json_response(call.request, _assignment_body(call, assignment, just_created=True), 201)


_FILTER_PRINCIPAL = re.compile(r"(?:principalId\s+eq\s+'(?P<a>[^']*)'|assignedTo\('(?P<b>[^']*)'\))", re.IGNORECASE)
_FILTER_AT_SCOPE = re.compile(r"atScope\(\)", re.IGNORECASE)


def _visible(call: Call, scope: str) -> list[RoleAssignment]:
    """What a list at ``scope`` returns: assignments above, at and below it, narrowed by ``$filter``."""
    text = call.request.query_params.get("$filter", "")
    at_scope = bool(_FILTER_AT_SCOPE.search(text))
    principal = _FILTER_PRINCIPAL.search(text)
    wanted = (principal.group("a") or principal.group("b") or "").lower() if principal else None
    result = []
    for a in call.state.rbac.assignments():
        above = scope_contains(a.scope, scope)
        below = scope_contains(scope, a.scope)
        if not (above or (below and not at_scope)):
            continue
        if wanted is not None and a.principal_id != wanted:
            continue
        result.append(a)
    return result


async def role_definitions(call: Call, scope: str, name: str | None) -> Response:
    # Built-in definitions are readable by every signed-in principal of the tenant (no RBAC check here;
    # the exact rule is not documented).
    if call.method != "GET":
        raise method_not_allowed(call.method)
    rbac = call.state.rbac
    if name is None:
        text = call.request.query_params.get("$filter", "")
        by_name = re.search(r"roleName\s+eq\s+'(?P<n>[^']*)'", text, re.IGNORECASE)
        roles = list(rbac.definitions.values())
        if by_name:
            roles = [r for r in roles if r.role_name.lower() == by_name.group("n").lower()]
        return json_response(call.request, {"value": [_role_definition_body(call, r, scope) for r in roles]})
    if not _GUID.match(name):
        raise invalid_role_definition_id(name)
    role = rbac.definitions.get(name.lower())
    if role is None:
        raise role_definition_does_not_exist(name.lower(), 404)
    return json_response(call.request, _role_definition_body(call, role, scope))
