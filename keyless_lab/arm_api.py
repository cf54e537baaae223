"""Azure Resource Manager (control plane) at ``{lab}/arm``: role assignments and definitions
(``Microsoft.Authorization`` 2022-04-01), the Azure OpenAI account (``Microsoft.CognitiveServices``)
and user-assigned identities with their federated credentials (``Microsoft.ManagedIdentity``).

REST references: https://learn.microsoft.com/rest/api/authorization/role-assignments ,
https://learn.microsoft.com/rest/api/aiservices/accountmanagement/accounts ,
https://learn.microsoft.com/rest/api/managedidentity/federated-identity-credentials . Error texts
are Azure's own, with their sources in the project's reference notes (DESIGN §3.4); those marked
*unconfirmed* use the closest confirmed ARM shape.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .directory import MANAGEMENT_AUDIENCES, Principal, stable_id
from .errors import AzureError
from .rbac import RoleAssignment, RoleAssignmentExists, RoleDefinition, scope_contains
from .state import LabState
from .tokens import ForeignTenant, InvalidToken
from .web import MAX_BODY_BYTES, audited, lab_state, set_caller

AUTHORIZATION_API_VERSION = "2022-04-01"
ROLE_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments"
ROLE_DEFINITIONS = "Microsoft.Authorization/roleDefinitions"
ACCOUNTS = "Microsoft.CognitiveServices/accounts"
IDENTITIES = "Microsoft.ManagedIdentity/userAssignedIdentities"
FEDERATED_CREDENTIALS = f"{IDENTITIES}/federatedIdentityCredentials"
LOCATION = "eastus"
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_AUTHORIZATION_PATH = re.compile(
    r"^(?P<scope>.*?)/providers/Microsoft\.Authorization/(?P<kind>roleAssignments|roleDefinitions)"
    r"(?:/(?P<name>[^/]+))?$",
    re.IGNORECASE,
)
_RESOURCE_GROUP_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/(?P<ns>[^/]+)/(?P<rest>.+)$",
    re.IGNORECASE,
)
_ROLE_DEFINITION_ID = re.compile(
    r"^(?:/subscriptions/[^/]+(?:/resourceGroups/[^/]+)?)?/providers/Microsoft\.Authorization/roleDefinitions/"
    r"(?P<id>[^/]+)$",
    re.IGNORECASE,
)
_PROVIDER_IN_PATH = re.compile(r"/providers/(?P<ns>[^/]+)", re.IGNORECASE)
_FIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$")


# --- ARM's error answers ------------------------------------------------------------------


def _arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> AzureError:
    return AzureError(status, {"error": {"code": code, "message": message}}, headers or {})


def authorization_failed(client: str, object_id: str, action: str, scope: str) -> AzureError:
    # Verbatim template: Azure/azure-powershell#10917 (user: the UPN) and pulumi-azure#595 (an app:
    # its object id twice).
    return _arm_error(
        403,
        "AuthorizationFailed",
        f"The client '{client}' with object id '{object_id}' does not have authorization to perform action "
        f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please "
        "refresh your credentials.",
    )


def authentication_missing() -> AzureError:
    # An autorest capture of ARM's answer to a request without a token (find_string hit).
    return _arm_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")


def token_invalid() -> AzureError:
    # ARM's answer to a malformed or wrongly signed token (several find_string hits).
    return _arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.")


def token_expired(expired_at: int) -> AzureError:
    # Wording and the .NET date format: "The access token expiry UTC time '8/17/2017 10:54:41 PM' is
    # earlier than current UTC time '8/17/2017 10:55:43 PM'." (find_string hits).
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    return _arm_error(
        401,
        "ExpiredAuthenticationToken",
        f"The access token expiry UTC time '{_dotnet_time(expired_at)}' is earlier than current UTC time "
        f"'{_dotnet_time(now)}'.",
    )


def token_wrong_audience(audience: str) -> AzureError:
    # Verbatim: JetBrains/azure-tools-for-intellij#16.
    return _arm_error(
        401,
        "InvalidAuthenticationTokenAudience",
        f"The access token has been obtained for wrong audience or resource '{audience}'. It should exactly match "
        "with one of the allowed audiences 'https://management.core.windows.net/','https://management.core."
        "windows.net','https://management.azure.com/','https://management.azure.com'.",
    )


def token_wrong_tenant(token_tenant: str, tenant: str) -> AzureError:
    # Verbatim: Azure/azure-sdk-for-python#38382 and Azure/LogicAppsUX#9068.
    return _arm_error(
        401,
        "InvalidAuthenticationTokenTenant",
        f"The access token is from the wrong issuer 'https://sts.windows.net/{token_tenant}/'. It must match the "
        f"tenant 'https://sts.windows.net/{tenant}/' associated with this subscription. Please use the authority "
        f"(URL) 'https://login.windows.net/{tenant}' to get the token. Note, if the subscription is transferred to "
        "another tenant there is no impact to the services, but information about new tenant could take time to "
        "propagate (up to an hour). If you just transferred your subscription and see this error message, please "
        "try back later.",
    )


def throttled(kind: str, subscription_id: str, object_id: str, retry_after: int) -> AzureError:
    # A recorded ARM 429 body (find_string hit); the Retry-After header is what the SDKs honour.
    return _arm_error(
        429,
        "SubscriptionRequestsThrottled",
        f"Number of '{kind}' requests for subscription '{subscription_id}' actor '{object_id}' exceeded. "
        f"Please try again after '{retry_after}' seconds.",
        {"Retry-After": str(retry_after)},
    )


def internal_error(status: int, subscription_id: str, correlation_id: str) -> AzureError:
    # ARM's 500 text (several find_string hits); other 5xx reuse it (unconfirmed for 502/503/504).
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return _arm_error(
        status,
        "InternalServerError",
        f"Encountered internal server error. Diagnostic information: timestamp '{stamp}', subscription id "
        f"'{subscription_id}', tracking id '{uuid.uuid4()}', request correlation id '{correlation_id}'.",
    )


def invalid_request_content(detail: str) -> AzureError:
    # Shape from MicrosoftDocs (template validation): "The request content was invalid and could not be
    # deserialized: '<parser message>'."; the parser message here is Python's, not .NET's.
    return _arm_error(
        400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: '{detail}'."
    )


def missing_api_version() -> AzureError:
    # The Azure REST API guidelines' wording (find_string hits of recorded answers).
    message = "The api-version query parameter (?api-version=) is required for all requests."
    return _arm_error(400, "MissingApiVersionParameter", message)


def invalid_resource_type(namespace: str | None, api_version: str) -> AzureError:
    # Verbatim shape from an Azure SDK troubleshooting page (find_string hit).
    if namespace is None:
        return _arm_error(404, "InvalidResourceType", "The resource type could not be found.")
    return _arm_error(
        404,
        "InvalidResourceType",
        f"The resource type could not be found in the namespace '{namespace}' for api version '{api_version}'.",
    )


def resource_not_found(resource_type: str, name: str, resource_group: str) -> AzureError:
    return _arm_error(
        404,
        "ResourceNotFound",
        f"The Resource '{resource_type}/{name}' under resource group '{resource_group}' was not found. For more "
        "details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def resource_group_not_found(name: str) -> AzureError:
    # Unconfirmed in the reference notes; ARM's usual wording.
    return _arm_error(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def subscription_not_found(subscription_id: str) -> AzureError:
    # Unconfirmed in the reference notes; ARM's usual wording.
    return _arm_error(404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.")


def role_assignment_exists() -> AzureError:
    # Verbatim: hashicorp/terraform-provider-azurerm#28557, Azure/bicep#11367.
    return _arm_error(409, "RoleAssignmentExists", "The role assignment already exists.")


def role_assignment_update_not_permitted() -> AzureError:
    # Verbatim text from MicrosoftDocs troubleshooting.md, which files it under BadRequest.
    return _arm_error(
        400,
        "RoleAssignmentUpdateNotPermitted",
        "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
    )


def role_assignment_not_found(name: str) -> AzureError:
    # Unconfirmed: no capture of ARM's text for an unknown assignment name was found.
    return _arm_error(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")


def invalid_role_assignment_id(name: str) -> AzureError:
    # Verbatim: Azure/Azure-Landing-Zones#3419.
    return _arm_error(
        400,
        "InvalidRoleAssignmentId",
        f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
    )


def invalid_role_definition_id(value: str) -> AzureError:
    # Verbatim: hashicorp/terraform-provider-azurerm#8547.
    return _arm_error(400, "InvalidRoleDefinitionId", f"The role definition ID '{value}' is not valid.")


def role_definition_does_not_exist(guid: str, status: int) -> AzureError:
    # Text verbatim (Azure/azure-cli#21961, the ID without dashes); 404 on GET is confirmed, the 400 used
    # when a role assignment PUT names an unknown definition is unconfirmed.
    return _arm_error(
        status,
        "RoleDefinitionDoesNotExist",
        f"The specified role definition with ID '{guid.replace('-', '')}' does not exist.",
    )


def invalid_principal_id(value: str) -> AzureError:
    # Verbatim: Azure/azure-powershell#16627.
    return _arm_error(
        400, "InvalidPrincipalId", f"The Principal ID '{value}' is not valid. Principal ID must be a GUID."
    )


def principal_not_found(principal_id: str, tenant_id: str) -> AzureError:
    # Verbatim: Azure/HubAndSpokeResearchEnclave#50 (two spaces before "See"); the principal without
    # dashes and the tenant with them as in Azure/bicep#11025.
    return _arm_error(
        400,
        "PrincipalNotFound",
        f"Principal {principal_id.replace('-', '')} does not exist in the directory {tenant_id}. Check that you have "
        "the correct principal ID. If you are creating this principal and then immediately assigning a role, this "
        "error might be related to a replication delay. In this case, set the role assignment principalType "
        "property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
    )


def list_keys_disabled() -> AzureError:
    # "(BadRequest) Failed to list key. disableLocalAuth is set to be true" as az prints it (find_string hits).
    return _arm_error(400, "BadRequest", "Failed to list key. disableLocalAuth is set to be true")


def bad_request(message: str) -> AzureError:
    return _arm_error(400, "BadRequest", message)


FIC_FIELDS_REQUIRED = (
    # Verbatim: zioproto/istio-aks-example#6 (status 400, code BadRequest).
    "The request format was unexpected. Federated Identity Credential must specify 'issuer', 'subject' and 'audience'."
)
# Verbatim text: Azure/bicep-types-az#2054; its status and code are unconfirmed (400 BadRequest used).
FIC_DUPLICATE = "Issuer and subject combination already exists for this Managed Identity."


def _dotnet_time(epoch: int) -> str:
    t = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {hour}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'}"


def _arm_time(iso: str) -> str:
    """ARM's timestamps: UTC with seven fractional digits and ``Z``."""
    t = dt.datetime.fromisoformat(iso).astimezone(dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


# --- one request --------------------------------------------------------------------------


@dataclass
class Caller:
    object_id: str
    display_name: str
    client: str  # how AuthorizationFailed names the caller: a user's UPN, else the object id


class _Call:
    """One ARM request: who asks, for what, and the helpers every operation needs."""

    def __init__(self, request: Request, state: LabState, path: str) -> None:
        self.request = request
        self.state = state
        self.path = path
        self.method = request.method
        self.api_version = request.query_params.get("api-version", "")
        self.caller: Caller | None = None

    @property
    def subscription_id(self) -> str:
        return self.state.directory.subscription_id

    def authenticate(self) -> Caller:
        header = self.request.headers.get("authorization")
        if not header:
            raise authentication_missing()
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise token_invalid()
        try:
            claims = self.state.issuer.validate(token, MANAGEMENT_AUDIENCES)
        except ForeignTenant as err:
            raise token_wrong_tenant(err.tenant_id, self.state.directory.tenant_id) from None
        except InvalidToken as err:
            raise _token_problem(token, str(err)) from None
        principal: Principal | None = self.state.directory.by_object_id(claims["oid"])
        if principal is None:
            name = claims.get("name") or claims["oid"]
            client = claims.get("upn") or claims["oid"]
        else:
            name = principal.display_name
            client = principal.upn or principal.object_id
        self.caller = Caller(claims["oid"], name, client)
        set_caller(self.request, name, claims["oid"])
        return self.caller

    async def apply_faults(self) -> None:
        fault = self.state.faults.take("arm")
        if fault is None:
            return
        if fault.delay:
            await asyncio.sleep(fault.delay)
        assert self.caller is not None
        if fault.status == 429:
            kind = "read" if self.method == "GET" else "write"
            raise throttled(kind, self.subscription_id, self.caller.object_id, fault.retry_after)
        if fault.status >= 500 or fault.status == 0:
            raise internal_error(fault.status or 503, self.subscription_id, correlation_id(self.request))

    def require(self, action: str, scope: str, shown_scope: str | None = None) -> None:
        """ARM's gateway check: the caller holds ``action`` on ``scope`` (or above), else 403."""
        assert self.caller is not None
        if not self.state.rbac.permits(self.caller.object_id, action, scope, data=False):
            raise authorization_failed(self.caller.client, self.caller.object_id, action, shown_scope or scope)

    async def body(self) -> dict[str, Any]:
        declared = self.request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise invalid_request_content("The request body is too large.")
        raw = await self.request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise invalid_request_content("The request body is too large.")
        try:
            value = json.loads(raw) if raw.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise invalid_request_content(f"{type(err).__name__}: {err}") from None
        if not isinstance(value, dict):
            raise invalid_request_content("The request body must be a JSON object.")
        return value

    def check_resource_group(self, subscription: str, resource_group: str) -> None:
        d = self.state.directory
        if subscription.lower() != d.subscription_id:
            raise subscription_not_found(subscription)
        if resource_group.lower() != d.resource_group.lower():
            raise resource_group_not_found(resource_group)


def _token_problem(token: str, reason: str) -> AzureError:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return token_invalid()
    if reason == "ExpiredSignatureError" and isinstance(claims.get("exp"), int):
        return token_expired(claims["exp"])
    if reason == "InvalidAudienceError" and isinstance(claims.get("aud"), str):
        return token_wrong_audience(claims["aud"])
    return token_invalid()


def correlation_id(request: Request) -> str:
    cached = getattr(request.state, "arm_correlation_id", None)
    if cached is None:
        cached = request.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        request.state.arm_correlation_id = cached
    return cached


def _headers(request: Request) -> dict[str, str]:
    request_id = str(uuid.uuid4())
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "Cache-Control": "no-cache",
        "Pragma": "no-cache",
        "x-ms-request-id": request_id,
        "x-ms-correlation-request-id": correlation_id(request),
        "x-ms-routing-request-id": f"LABLOCAL:{stamp}:{request_id}",
    }
    if request.method == "GET":
        headers["x-ms-ratelimit-remaining-subscription-reads"] = "11999"
    else:
        headers["x-ms-ratelimit-remaining-subscription-writes"] = "1199"
    return headers


def _json(request: Request, body: Any, status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, headers=_headers(request))


def _empty(request: Request, status: int) -> Response:
    return Response(status_code=status, headers=_headers(request))


def _error(request: Request, err: AzureError) -> Response:
    headers = {**_headers(request), **err.headers}
    if err.status in (401, 403):
        headers["x-ms-failure-cause"] = "gateway"
    return JSONResponse(err.body, status_code=err.status, headers=headers)


# --- Microsoft.Authorization ---------------------------------------------------------------


def _normalize_scope(scope: str) -> str:
    scope = "/" + scope.strip("/")
    return "" if scope == "/" else scope


def _role_definition_id(call: _Call, guid: str, scope: str = "") -> str:
    # Definitions read at the tenant root carry no subscription; everywhere else ARM names them by it.
    prefix = f"/subscriptions/{call.subscription_id}" if scope.lower().startswith("/subscriptions/") else ""
    return f"{prefix}/providers/{ROLE_DEFINITIONS}/{guid}"


def _role_definition_body(call: _Call, role: RoleDefinition, scope: str) -> dict[str, Any]:
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


def _assignment_body(call: _Call, a: RoleAssignment, *, just_created: bool = False) -> dict[str, Any]:
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


def _find_assignment(call: _Call, scope: str, name: str) -> RoleAssignment | None:
    found = call.state.rbac.get(name.lower()) or call.state.rbac.get(name)
    if found is None or found.scope.lower() != scope.lower():
        return None
    return found


async def _role_assignments(call: _Call, scope: str, name: str | None) -> Response:
    request = call.request
    if not scope:
        raise invalid_resource_type("Microsoft.Authorization", call.api_version)
    if name is None:
        if call.method != "GET":
            raise _method_not_allowed(call)
        call.require(f"{ROLE_ASSIGNMENTS}/read", scope)
        return _json(request, {"value": [_assignment_body(call, a) for a in _visible(call, scope)]})
    shown = f"{scope}/providers/{ROLE_ASSIGNMENTS}/{name}"
    if call.method == "GET":
        call.require(f"{ROLE_ASSIGNMENTS}/read", scope, shown)
        found = _find_assignment(call, scope, name)
        if found is None:
            raise role_assignment_not_found(name)
        return _json(request, _assignment_body(call, found))
    if call.method == "DELETE":
        call.require(f"{ROLE_ASSIGNMENTS}/delete", scope, shown)
        found = _find_assignment(call, scope, name)
        if found is None:
            return _empty(request, 204)  # deleting what is not there is not an error in ARM
        call.state.rbac.remove(found.name)
        return _json(request, _assignment_body(call, found))
    if call.method == "PUT":
        call.require(f"{ROLE_ASSIGNMENTS}/write", scope, shown)
        return await _create_assignment(call, scope, name)
    raise _method_not_allowed(call)


async def _create_assignment(call: _Call, scope: str, name: str) -> Response:
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
        return _json(call.request, _assignment_body(call, existing, just_created=False), 201)
    try:
        call.state.rbac.assign(assignment)
    except RoleAssignmentExists:
        raise role_assignment_exists() from None
    return _json(call.request, _assignment_body(call, assignment, just_created=True), 201)


_FILTER_PRINCIPAL = re.compile(r"(?:principalId\s+eq\s+'(?P<a>[^']*)'|assignedTo\('(?P<b>[^']*)'\))", re.IGNORECASE)
_FILTER_AT_SCOPE = re.compile(r"atScope\(\)", re.IGNORECASE)


def _visible(call: _Call, scope: str) -> list[RoleAssignment]:
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


async def _role_definitions(call: _Call, scope: str, name: str | None) -> Response:
    # Built-in definitions are readable by every signed-in principal of the tenant (no RBAC check here;
    # the exact rule is not documented).
    if call.method != "GET":
        raise _method_not_allowed(call)
    rbac = call.state.rbac
    if name is None:
        text = call.request.query_params.get("$filter", "")
        by_name = re.search(r"roleName\s+eq\s+'(?P<n>[^']*)'", text, re.IGNORECASE)
        roles = list(rbac.definitions.values())
        if by_name:
            roles = [r for r in roles if r.role_name.lower() == by_name.group("n").lower()]
        return _json(call.request, {"value": [_role_definition_body(call, r, scope) for r in roles]})
    if not _GUID.match(name):
        raise invalid_role_definition_id(name)
    role = rbac.definitions.get(name.lower())
    if role is None:
        raise role_definition_does_not_exist(name.lower(), 404)
    return _json(call.request, _role_definition_body(call, role, scope))


# --- Microsoft.CognitiveServices -----------------------------------------------------------


def _account_body(call: _Call) -> dict[str, Any]:
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


def _deployment_body(call: _Call, name: str) -> dict[str, Any]:
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


async def _accounts(call: _Call, resource_group: str, parts: list[str]) -> Response:
    d = call.state.directory
    if not parts:
        raise _method_not_allowed(call) if call.method != "GET" else _listing_not_offered(call)
    name = parts[0]
    this_account = f"/subscriptions/{d.subscription_id}/resourceGroups/{resource_group}/providers/{ACCOUNTS}/{name}"
    if len(parts) == 1:
        action = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}.get(call.method)
        if action is None:
            raise _method_not_allowed(call)
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
        return _json(call.request, _account_body(call))
    action_name = parts[1].lower()
    if len(parts) == 2 and action_name == "listkeys" and call.method == "POST":
        call.require(f"{ACCOUNTS}/listKeys/action", this_account)
        _account_exists(call, resource_group, name)
        if call.state.account.disable_local_auth:
            raise list_keys_disabled()
        return _json(call.request, call.state.account.keys())
    if len(parts) == 2 and action_name == "regeneratekey" and call.method == "POST":
        call.require(f"{ACCOUNTS}/regenerateKey/action", this_account)
        _account_exists(call, resource_group, name)
        body = await call.body()
        key_name = body.get("keyName")
        if not isinstance(key_name, str) or key_name.lower() not in ("key1", "key2"):
            # Unconfirmed text; the values are the REST API's KeyName enum.
            raise bad_request(f"The keyName '{key_name}' is not valid. Valid values are 'Key1' and 'Key2'.")
        return _json(call.request, call.state.account.regenerate(key_name.lower()))
    if action_name == "deployments" and call.method == "GET" and len(parts) in (2, 3):
        call.require(f"{ACCOUNTS}/deployments/read", this_account)
        _account_exists(call, resource_group, name)
        if len(parts) == 2:
            names = list(call.state.account.deployments)
            return _json(call.request, {"value": [_deployment_body(call, n) for n in names]})
        if parts[2] not in call.state.account.deployments:
            raise resource_not_found(f"{ACCOUNTS}/deployments", f"{name}/{parts[2]}", resource_group)
        return _json(call.request, _deployment_body(call, parts[2]))
    if action_name in ("listkeys", "regeneratekey", "deployments"):
        raise _method_not_allowed(call)
    raise invalid_resource_type("Microsoft.CognitiveServices", call.api_version)


def _account_exists(call: _Call, resource_group: str, name: str) -> None:
    if name.lower() != call.state.account.name.lower():
        raise resource_not_found(ACCOUNTS, name, resource_group)


# --- Microsoft.ManagedIdentity -------------------------------------------------------------


def _identity_principal(call: _Call, resource_group: str, name: str) -> Principal:
    for p in call.state.directory.principals.values():
        if p.resource_id and p.resource_id.lower().endswith(f"/{IDENTITIES}/{name}".lower()):
            return p
    raise resource_not_found(IDENTITIES, name, resource_group)


def _identity_body(call: _Call, p: Principal) -> dict[str, Any]:
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


async def _identities(call: _Call, resource_group: str, parts: list[str]) -> Response:
    if not parts:
        raise _method_not_allowed(call) if call.method != "GET" else _listing_not_offered(call)
    name = parts[0]
    d = call.state.directory
    this_identity = f"/subscriptions/{d.subscription_id}/resourceGroups/{resource_group}/providers/{IDENTITIES}/{name}"
    if len(parts) == 1:
        if call.method != "GET":
            raise _method_not_allowed(call)
        call.require(f"{IDENTITIES}/read", this_identity)
        return _json(call.request, _identity_body(call, _identity_principal(call, resource_group, name)))
    if parts[1].lower() != "federatedidentitycredentials" or len(parts) > 3:
        raise invalid_resource_type("Microsoft.ManagedIdentity", call.api_version)
    fic_action = f"{FEDERATED_CREDENTIALS}/{'read' if call.method == 'GET' else call.method.lower()}"
    if call.method == "PUT":
        fic_action = f"{FEDERATED_CREDENTIALS}/write"
    if call.method not in ("GET", "PUT", "DELETE") or (len(parts) == 2 and call.method != "GET"):
        raise _method_not_allowed(call)
    call.require(fic_action, this_identity)
    identity = _identity_principal(call, resource_group, name)
    stored = call.state.federated_credentials.get(identity.object_id, [])
    if len(parts) == 2:
        return _json(call.request, {"value": [_fic_body(identity, f) for f in stored]})
    fic_name = parts[2]
    current = next((f for f in stored if f["name"].lower() == fic_name.lower()), None)
    if call.method == "GET":
        if current is None:
            raise resource_not_found(FEDERATED_CREDENTIALS, f"{name}/{fic_name}", resource_group)
        return _json(call.request, _fic_body(identity, current))
    if call.method == "DELETE":
        if current is None:
            return _empty(call.request, 204)
        remaining = [f for f in stored if f is not current]
        if remaining:
            call.state.federated_credentials[identity.object_id] = remaining
        else:
            call.state.federated_credentials.pop(identity.object_id, None)
        return _empty(call.request, 200)
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
    return _json(call.request, _fic_body(identity, fic), 200 if current else 201)


# --- dispatch ------------------------------------------------------------------------------


def _method_not_allowed(call: _Call) -> AzureError:
    # Unconfirmed text; ARM's shape for a verb a resource type does not offer.
    return _arm_error(405, "MethodNotAllowed", f"The requested resource does not support http method '{call.method}'.")


def _listing_not_offered(call: _Call) -> AzureError:
    return invalid_resource_type(None, call.api_version)


Handler = Callable[[_Call, str, list[str]], Awaitable[Response]]
_PROVIDERS: dict[str, Handler] = {
    "microsoft.cognitiveservices/accounts": _accounts,
    "microsoft.managedidentity/userassignedidentities": _identities,
}


async def _route(call: _Call) -> Response:
    path = call.path
    if not call.api_version:
        raise missing_api_version()
    auth = _AUTHORIZATION_PATH.match(path)
    if auth is not None:
        scope = _normalize_scope(auth.group("scope"))
        if auth.group("kind").lower() == "roleassignments":
            return await _role_assignments(call, scope, auth.group("name"))
        return await _role_definitions(call, scope, auth.group("name"))
    resource = _RESOURCE_GROUP_PATH.match(path)
    if resource is not None:
        call.check_resource_group(resource.group("sub"), resource.group("rg"))
        parts = [p for p in resource.group("rest").split("/") if p]
        handler = _PROVIDERS.get(f"{resource.group('ns')}/{parts[0]}".lower())
        if handler is not None:
            return await handler(call, resource.group("rg"), parts[1:])
        raise invalid_resource_type(resource.group("ns"), call.api_version)
    provider = _PROVIDER_IN_PATH.search(path)
    raise invalid_resource_type(provider.group("ns") if provider else None, call.api_version)


@audited("arm")
async def arm(request: Request) -> Response:
    state = lab_state(request)
    call = _Call(request, state, "/" + request.path_params["path"].strip("/"))
    try:
        call.authenticate()
        await call.apply_faults()
        return await _route(call)
    except AzureError as err:
        return _error(request, err)


routes: list = [Route("/arm/{path:path}", arm, methods=["GET", "PUT", "PATCH", "POST", "DELETE"])]
