"""Microsoft Entra ID's token service at the lab's authority host: ``/{tenant}/oauth2/v2.0/token``
(and v1 ``/{tenant}/oauth2/token``), OpenID Connect discovery, the signing keys (JWKS), instance
discovery, and the one Microsoft Graph read the Azure CLI makes (``/me``).

Protocol: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token ;
error bodies: https://learn.microsoft.com/entra/identity-platform/reference-error-codes . Grants are
dispatched by ``grant_type`` through :data:`GRANTS`; add one with :func:`grant`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .directory import AZURE_CLI_APP_ID, Principal
from .errors import AzureError
from .state import LabState
from .tokens import ForeignTenant, InvalidToken
from .web import MAX_BODY_BYTES, audited, lab_state, set_caller

GRAPH = "https://graph.microsoft.com"
# Tenant aliases Entra resolves to the signed-in account's home tenant.
TENANT_ALIASES = ("common", "organizations")
# Scopes a client adds for the sign-in itself; they name no resource.
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
PUBLIC_CLIENTS = {AZURE_CLI_APP_ID}  # azd signs in with the Azure CLI's app id too


# --- Entra's error body ------------------------------------------------------------------


def entra_error(status: int, error: str, code: int, description: str) -> AzureError:
    """Entra's JSON error: ``error``, ``error_description`` ending in trace/correlation/time,
    ``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri``.

    Since 2024 the trailer is separated by spaces rather than ``\\r\\n`` (captures in the reference notes, §g).
    """
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    return AzureError(
        status,
        {
            "error": error,
            "error_description": (
                f"AADSTS{code}: {description} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {now}"
            ),
            "error_codes": [code],
            "timestamp": now,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
    )


def missing_parameter(name: str) -> AzureError:
    # Verbatim: MicrosoftDocs/azure-docs#43780 (invalid_request, AADSTS900144).
    return entra_error(
        400, "invalid_request", 900144, f"The request body must contain the following parameter: '{name}'."
    )


def unsupported_grant(grant_type: str) -> AzureError:
    # Text: AzureAD/microsoft-authentication-library-for-dotnet#3023; error name from the ACS70003 capture in
    # AzureAD/azure-activedirectory-library-for-android#132.
    return entra_error(
        400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'."
    )


def invalid_refresh_token() -> AzureError:
    # Verbatim (2024 wording): BingAds/BingAds-Python-SDK#279.
    return entra_error(
        400,
        "invalid_grant",
        70000,
        "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.",
    )


def tenant_not_found(tenant: str) -> AzureError:
    # Verbatim: Azure/azure-cli#22145, james-gould/azure-keyvault-emulator#324 (invalid_tenant, 400).
    return entra_error(
        400,
        "invalid_tenant",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
        "the correct cloud. Check with your subscription administrator, this may happen if there are no active "
        "subscriptions for the tenant.",
    )


# --- tenants, scopes, token answers -------------------------------------------------------


def resolve_tenant(state: LabState, tenant: str) -> str:
    """The tenant id behind a path segment, or Entra's AADSTS90002."""
    d = state.directory
    if tenant.lower() in (d.tenant_id, *TENANT_ALIASES):
        return d.tenant_id
    raise tenant_not_found(tenant)


def resource_of(scopes: str) -> str:
    """The resource a v2 ``scope`` names: ``https://x/.default`` → ``https://x`` (``x//.default`` → ``x/``)."""
    named = [s for s in scopes.split() if s.lower() not in OIDC_SCOPES]
    if not named:
        raise missing_parameter("scope")
    # Entra issues a token for one resource; the first one named wins, as MSAL sends only one.
    scope = named[0]
    if scope.endswith("/.default"):
        return scope[: -len("/.default")]
    return scope.rsplit("/", 1)[0] if "://" in scope and scope.count("/") > 2 else scope


@dataclass(frozen=True)
class TokenRequest:
    """One call to the token endpoint, after the path and body are read."""

    state: LabState
    tenant_id: str
    version: str  # "v1" or "v2"
    form: dict[str, str]

    def require(self, name: str) -> str:
        value = self.form.get(name, "").strip()
        if not value:
            raise missing_parameter(name)
        return value

    def resource(self) -> str:
        if self.version == "v1":
            return self.require("resource")
        return resource_of(self.require("scope"))


@dataclass(frozen=True)
class Grant:
    """What a grant decided: who the token is for, and whether a refresh token goes with it."""

    principal: Principal
    resource: str
    app_id: str | None = None
    refresh_token: str | None = None


GrantHandler = Callable[[TokenRequest], Awaitable[Grant]]
GRANTS: dict[str, GrantHandler] = {}


def grant(grant_type: str) -> Callable[[GrantHandler], GrantHandler]:
    """Register the handler of one ``grant_type``."""

    def register(handler: GrantHandler) -> GrantHandler:
        GRANTS[grant_type] = handler
        return handler

    return register


def new_refresh_token(state: LabState, principal_key: str) -> str:
    """An opaque refresh token that the lab maps to a principal (Entra's are opaque too)."""
    value = secrets.token_urlsafe(48)
    state.refresh_tokens[value] = principal_key
    return value


@grant("refresh_token")
async def refresh_token_grant(call: TokenRequest) -> Grant:
    client_id = call.require("client_id").lower()
    presented = call.require("refresh_token")
    resource = call.resource()
    key = next(
        (k for value, k in call.state.refresh_tokens.items() if secrets.compare_digest(value, presented)),
        None,
    )
    if key is None or client_id not in PUBLIC_CLIENTS:
        raise invalid_refresh_token()
    # Entra rotates the refresh token on each use; the one presented stays valid until it expires.
    return Grant(call.state.directory.principals[key], resource, client_id, new_refresh_token(call.state, key))


def _token_body(call: TokenRequest, result: Grant) -> dict[str, object]:
    issued = call.state.issuer.issue(result.principal, result.resource, app_id=result.app_id)
    expires_in = max(issued.expires_on - int(time.time()), 0)
    if call.version == "v1":
        # The v1 endpoint answers numbers as strings, and names the resource (v1 protocol docs).
        body: dict[str, object] = {
            "token_type": "Bearer",
            "scope": "user_impersonation",
            "expires_in": str(expires_in),
            "ext_expires_in": str(expires_in),
            "expires_on": str(issued.expires_on),
            "not_before": str(issued.expires_on - expires_in),
            "resource": result.resource,
            "access_token": issued.token,
        }
    else:
        body = {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in}
        if result.refresh_token:
            # For "<resource>/.default" Entra names the delegated permission granted (the token's scp).
            body["scope"] = f"{result.resource.rstrip('/')}/user_impersonation"
        body["access_token"] = issued.token
    if result.refresh_token:
        body["refresh_token"] = result.refresh_token
    return body


async def _form(request: Request) -> dict[str, str]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise AzureError(413, None)
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise AzureError(413, None)
    try:
        parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        parsed = {}
    return {name: values[0] for name, values in parsed.items()}


def _token_endpoint(version: str) -> Callable[[Request], Awaitable[Response]]:
    @audited("entra")
    async def token(request: Request) -> Response:
        state = lab_state(request)
        tenant_id = resolve_tenant(state, request.path_params["tenant"])
        form = await _form(request)
        grant_type = form.get("grant_type", "").strip()
        if not grant_type:
            raise missing_parameter("grant_type")
        handler = GRANTS.get(grant_type)
        if handler is None:
            raise unsupported_grant(grant_type)
        call = TokenRequest(state, tenant_id, version, form)
        result = await handler(call)
        set_caller(request, result.principal.display_name, result.principal.object_id)
        return JSONResponse(_token_body(call, result), headers={"cache-control": "no-store, no-cache"})

    return token


# --- discovery ------------------------------------------------------------------------------


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@audited("entra")
async def openid_configuration(request: Request) -> Response:
    """OIDC discovery; v2 at ``/{tenant}/v2.0/.well-known/…``, v1 at ``/{tenant}/.well-known/…``."""
    state = lab_state(request)
    segment = request.path_params["tenant"]
    tenant_id = resolve_tenant(state, segment)
    v2 = request.url.path.split("/")[2] == "v2.0"
    shown = "{tenantid}" if segment.lower() in TENANT_ALIASES else tenant_id
    root = f"{_base(request)}/{segment}"
    oauth = f"{root}/oauth2/v2.0" if v2 else f"{root}/oauth2"
    return JSONResponse(
        {
            "token_endpoint": f"{oauth}/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{root}/discovery/v2.0/keys" if v2 else f"{root}/discovery/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            # The lab signs v1 access tokens (issuer sts.windows.net), as Entra does for Azure resources.
            "issuer": f"https://login.microsoftonline.com/{shown}/v2.0" if v2 else f"https://sts.windows.net/{shown}/",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{oauth}/authorize",
            "device_authorization_endpoint": f"{oauth}/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{oauth}/logout",
            "claims_supported": [
                "sub",
                "iss",
                "cloud_instance_name",
                "cloud_instance_host_name",
                "cloud_graph_host_name",
                "msgraph_host",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "at_hash",
                "c_hash",
                "email",
            ],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
    )


@audited("entra")
async def keys(request: Request) -> Response:
    state = lab_state(request)
    resolve_tenant(state, request.path_params["tenant"])
    return JSONResponse(state.issuer.jwks())


@audited("entra")
async def instance_discovery(request: Request) -> Response:
    """MSAL's authority check (``instance_discovery=<this url>``): names the tenant's discovery document."""
    authorize = urlparse(request.query_params.get("authorization_endpoint", ""))
    segments = [s for s in authorize.path.split("/") if s]
    tenant = segments[0] if segments else "common"
    # MSAL sends the authority's host without its port, so the answer names the lab's own address.
    host = request.url.netloc
    return JSONResponse(
        {
            "tenant_discovery_endpoint": f"{_base(request)}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }
    )


# --- Microsoft Graph /me ---------------------------------------------------------------------


def _graph_error(status: int, code: str, message: str) -> AzureError:
    # Graph's error wrapper; the exact texts for each token fault are unconfirmed.
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    inner = {"date": now, "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}
    return AzureError(status, {"error": {"code": code, "message": message, "innerError": inner}})


@audited("entra")
async def graph_me(request: Request) -> Response:
    """``GET https://graph.microsoft.com/v1.0/me`` — what ``az ad signed-in-user show`` prints."""
    state = lab_state(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
    try:
        claims = state.issuer.validate(token, (GRAPH,))
    except (InvalidToken, ForeignTenant):
        raise _graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.") from None
    principal = state.directory.by_object_id(claims["oid"])
    if principal is None or principal.principal_type != "User":
        raise _graph_error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    set_caller(request, principal.display_name, principal.object_id)
    given, _, surname = principal.display_name.partition(" ")
    return JSONResponse(
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "businessPhones": [],
            "displayName": principal.display_name,
            "givenName": given,
            "id": principal.object_id,
            "jobTitle": None,
            "mail": principal.upn,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": None,
            "surname": surname or None,
            "userPrincipalName": principal.upn,
        }
    )


routes = [
    Route("/{tenant}/oauth2/v2.0/token", _token_endpoint("v2"), methods=["POST"]),
    Route("/{tenant}/oauth2/token", _token_endpoint("v1"), methods=["POST"]),
    Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    Route("/{tenant}/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    Route("/{tenant}/discovery/v2.0/keys", keys, methods=["GET"]),
    Route("/{tenant}/discovery/keys", keys, methods=["GET"]),
    Route("/common/discovery/instance", instance_discovery, methods=["GET"]),
    Route("/graph/v1.0/me", graph_me, methods=["GET"]),
]
