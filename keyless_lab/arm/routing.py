"""ARM's front door: ``api-version`` required, the path dispatched to its resource provider, every failure
answered in ARM's error shape. Documented at https://learn.microsoft.com/rest/api/azure/#request-uri .
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import AzureError
from ..web import audited, lab_state
from .authorization import role_assignments, role_definitions
from .cognitive_services import accounts
from .errors import invalid_resource_type, missing_api_version
from .managed_identity import identities
from .request import Call, error_response

_AUTHORIZATION_PATH = re.compile(
    r"^(?P<scope>.*?)/providers/Microsoft\.Authorization/(?P<kind>roleAssignments|roleDefinitions)"
    r"(?:/(?P<name>[^/]+))?$",
    re.IGNORECASE,
)
_RESOURCE_GROUP_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/(?P<ns>[^/]+)/(?P<rest>.+)$",
    re.IGNORECASE,
)
_PROVIDER_IN_PATH = re.compile(r"/providers/(?P<ns>[^/]+)", re.IGNORECASE)


def _normalize_scope(scope: str) -> str:
    scope = "/" + scope.strip("/")
    return "" if scope == "/" else scope


Handler = Callable[[Call, str, list[str]], Awaitable[Response]]
_PROVIDERS: dict[str, Handler] = {
    "microsoft.cognitiveservices/accounts": accounts,
    "microsoft.managedidentity/userassignedidentities": identities,
}


async def _route(call: Call) -> Response:
    path = call.path
    if not call.api_version:
        raise missing_api_version()
    auth = _AUTHORIZATION_PATH.match(path)
    if auth is not None:
        scope = _normalize_scope(auth.group("scope"))
        if auth.group("kind").lower() == "roleassignments":
            return await role_assignments(call, scope, auth.group("name"))
        return await role_definitions(call, scope, auth.group("name"))
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
    call = Call(request, state, "/" + request.path_params["path"].strip("/"))
    try:
        call.authenticate()
        await call.apply_faults()
        return await _route(call)
    except AzureError as err:
        return error_response(request, err)


routes: list = [Route("/arm/{path:path}", arm, methods=["GET", "PUT", "PATCH", "POST", "DELETE"])]
