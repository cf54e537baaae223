"""The managed-identity endpoint of App Service and Container Apps (``IDENTITY_ENDPOINT``),
protocol ``api-version=2019-08-01``: https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import errors
from .directory import Principal
from .web import audited, lab_state, set_caller

API_VERSION = "2019-08-01"


def _select(host_identities: tuple[Principal, ...], system: Principal | None, query: dict[str, str]) -> Principal:
    """Pick the identity the request names, or the system-assigned one when it names none."""
    wanted = {k: v.lower() for k, v in query.items() if k in ("client_id", "principal_id", "object_id", "mi_res_id")}
    if len(wanted) > 1:
        raise errors.identity_bad_request("Only one of client_id, principal_id, object_id or mi_res_id may be given.")
    if not wanted:
        if system is None:
            raise errors.identity_ambiguous()
        return system
    ((kind, value),) = wanted.items()
    for identity in host_identities:
        if (
            (kind == "client_id" and identity.client_id == value)
            or (kind in ("principal_id", "object_id") and identity.object_id == value)
            or (kind == "mi_res_id" and (identity.resource_id or "").lower() == value)
        ):
            return identity
    raise errors.identity_not_found()


@audited("identity")
async def token(request: Request) -> Response:
    state = lab_state(request)
    presented = request.headers.get("x-identity-header", "")
    # A constant-time compare refuses non-ASCII text outright; no real header is anything but hex.
    host_name = state.host_for_secret(presented) if presented.isascii() else None
    if host_name is None:
        raise errors.identity_header_rejected()
    host = state.directory.hosts[host_name]
    set_caller(request, host_name)
    fault = state.faults.take("identity")
    if fault is not None:
        await asyncio.sleep(fault.delay)
        if fault.status:
            raise errors.AzureError(
                fault.status,
                {"statusCode": fault.status, "message": "Service unavailable."},
                {"retry-after": str(fault.retry_after)},
            )
    api_version = request.query_params.get("api-version", "")
    if api_version < API_VERSION or len(api_version) < 10:
        raise errors.identity_unsupported_api_version(str(request.url), api_version)
    resource = request.query_params.get("resource", "").strip()
    if not resource:
        raise errors.identity_bad_request("The 'resource' query parameter is required.")
    all_identities = tuple(i for i in (host.system_identity, *host.user_identities) if i is not None)
    identity = _select(all_identities, host.system_identity, dict(request.query_params))
    set_caller(request, f"{host_name} ({identity.display_name})", identity.object_id)
    issued = state.issuer.issue(identity, resource)
    return JSONResponse(
        {
            "access_token": issued.token,
            "expires_on": str(issued.expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        }
    )


routes = [Route("/msi/token", token, methods=["GET"])]


@audited("identity")
async def imds_token(request: Request) -> Response:
    """The VM metadata endpoint as seen from a machine with no managed identity.

    In lab mode ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` points the SDKs' IMDS lookup here, so that
    ``DefaultAzureCredential`` never sends its probe to 169.254.169.254 from a laptop or CI.
    """
    return JSONResponse({"error": "invalid_request", "error_description": "Identity not found"}, status_code=400)


routes.append(Route("/metadata/identity/oauth2/token", imds_token, methods=["GET"]))
