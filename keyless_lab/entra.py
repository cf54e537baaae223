"""Microsoft Entra ID's token service at the lab's authority host: ``/{tenant}/oauth2/v2.0/token``
(and v1 ``/{tenant}/oauth2/token``), OpenID Connect discovery, the signing keys (JWKS) and instance
discovery.

Protocol: https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token ;
workload identity federation (the client-credentials grant with a federated ``client_assertion``):
https://learn.microsoft.com/entra/workload-id/workload-identity-federation ; error bodies:
https://learn.microsoft.com/entra/identity-platform/reference-error-codes . Grants are dispatched by
``grant_type`` through :data:`GRANTS`; add one with :func:`grant`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .directory import AZURE_CLI_APP_ID, Principal
from .errors import AzureError
from .state import LabState
from .web import MAX_BODY_BYTES, audited, lab_state, set_caller

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
    base_url: str = ""  # the authority host as the client reached it (the lab's own URL)

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


# --- workload identity federation: client credentials with a federated assertion ------------

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
# Entra answers a federated-credential mismatch with one code per claim (700211 issuer, 700212
# audience, 700213 subject) since 2023; the older single AADSTS70021 ("No matching federated identity
# record found for presented assertion. Assertion Issuer: …") is what 2021-22 captures show. The lab
# answers as Entra does now. Each text is the latest verbatim capture of that code (reference notes §g).
FIC_DOCS_2024 = "https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation"
FIC_DOCS_2025 = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"


def _assertion_time(epoch: float) -> str:
    """Entra's times in AADSTS700024: UTC with seven fractional digits."""
    t = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def unknown_client(client_id: str, tenant_id: str) -> AzureError:
    # Verbatim: 12Knocksinna/Office365itpros#23 (unauthorized_client). Status unconfirmed; 400 as for the
    # other non-credential errors. Entra names the directory; the lab's tenant has no display name, so its id.
    return entra_error(
        400,
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant_id}'. This can happen "
        "if the application has not been installed by the administrator of the tenant or consented to by any user "
        "in the tenant. You may have sent your authentication request to the wrong tenant.",
    )


def missing_client_credential() -> AzureError:
    # Verbatim: MicrosoftDocs/azure-docs#25959; invalid_client per Azure-Samples/ms-identity-javascript-v2#18.
    return entra_error(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )


def invalid_client_secret(client_id: str) -> AzureError:
    # Verbatim (401): OfficeDev/microsoft-365-agents-toolkit#8621, keycloak/keycloak#31294.
    return entra_error(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "
        f"not the client secret ID, for a secret added to app '{client_id}'.",
    )


def malformed_assertion() -> AzureError:
    # Verbatim (400, invalid_request): MSAL.NET test data of 2023-12 and GitLab's Azure OIDC notes.
    return entra_error(400, "invalid_request", 50027, "JWT token is invalid or malformed.")


def no_fic_for_issuer(issuer: str) -> AzureError:
    # Verbatim: Azure/azure-workload-identity#1200 (2024-03, invalid_client). 401 as AADSTS7002137 (the same
    # family) answers in microsoft/Agents#202, and as the 2023 AADSTS70021 capture in external-secrets#2783.
    return entra_error(
        401,
        "invalid_client",
        700211,
        f"No matching federated identity record found for presented assertion issuer '{issuer}'. Please check your "
        f"federated identity credential Subject, Audience and Issuer against the presented assertion. {FIC_DOCS_2024}",
    )


def no_fic_for_subject(subject: str) -> AzureError:
    # Verbatim: dotnet/maui#31978 (2025-10); the same wording in Azure/login#617 (2026). In 2024
    # (Azure/login#453) it still read "Please check …" with the docs.microsoft.com link.
    return entra_error(
        401,
        "invalid_client",
        700213,
        f"No matching federated identity record found for presented assertion subject '{subject}'. Check your "
        f"federated identity credential Subject, Audience and Issuer against the presented assertion. {FIC_DOCS_2025}",
    )


def subject_differs_in_case(subject: str) -> AzureError:
    # Verbatim: Azure/login#515 (2025-02). Subjects match case-sensitively since then (Entra's breaking
    # changes notice, linked from the message).
    return entra_error(
        401,
        "invalid_client",
        7002138,
        f"No matching federated identity record found for presented assertion subject '{subject}'. The subject "
        "matches with case-insensitive comparison, but not with case-sensitive comparison. Check your federated "
        "identity credential Subject, Audience and Issuer against the presented assertion. See documentation at: "
        f"{FIC_DOCS_2025}. See breaking change notification and remediation at: "
        "https://learn.microsoft.com/en-us/entra/identity-platform/reference-breaking-changes#august-2024.",
    )


def no_fic_for_audience(audience: str) -> AzureError:
    # Verbatim wording from a captured invalid_client body (a public test fixture; repository not named by
    # the index). Which audience Entra names when the assertion carries several is unconfirmed: the first.
    return entra_error(
        401,
        "invalid_client",
        700212,
        f"No matching federated identity record found for presented assertion audience '{audience}'. Please check "
        f"your federated identity credential Subject, Audience and Issuer against the presented assertion. "
        f"{FIC_DOCS_2024}",
    )


def issuer_unreachable() -> AzureError:
    # Verbatim (invalid_request): Azure/azure-workload-identity#642 (2022), Azure/azure-cli#28863 (2024).
    # Entra fetches the issuer's discovery document and keys; the lab reaches only its own issuers.
    return entra_error(400, "invalid_request", 50166, "Request to External OIDC endpoint failed.")


def signing_key_not_found(key_id: str, issuer: str) -> AzureError:
    # Verbatim: Azure/azure-workload-identity#1232 (2024-01, invalid_client). Entra showed a hex identifier
    # there; the lab names the assertion's `kid`. Status unconfirmed: 401, as for invalid_client elsewhere.
    return entra_error(
        401,
        "invalid_client",
        7000272,
        f"The certificate with identifier {key_id} used to sign the federated credential could not be found in the "
        f"metadata of identity provider {issuer}. Please validate that your Identity Provider's metadata exposes the "
        "key used to sign the incoming token.",
    )


def invalid_signature() -> AzureError:
    # The code (ClientAssertionContainsInvalidSignature) is from Microsoft.Identity.Web's tests; the text is
    # unconfirmed, worded after AADSTS700027's older "Client assertion contains an invalid signature".
    return entra_error(401, "invalid_client", 7000274, "Client assertion contains an invalid signature.")


def outside_time_range(now: float, not_before: float | None, expires: float) -> AzureError:
    # Verbatim format: AzureAD/microsoft-authentication-library-for-java#984 (2025-08); "valid from 1970-01-01"
    # when the assertion has no nbf. invalid_client (obikuro/Sato#1); status unconfirmed.
    return entra_error(
        401,
        "invalid_client",
        700024,
        f"Client assertion is not within its valid time range. Current time: {_assertion_time(now)}, assertion "
        f"valid from {_assertion_time(not_before or 0)}, expiry time of assertion {_assertion_time(expires)}. "
        "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
    )


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    return [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []


def match_federated_credential(credentials: list[dict[str, Any]], claims: dict[str, Any]) -> dict[str, Any]:
    """The credential whose issuer, subject and audiences trust the assertion, else Entra's refusal.

    Issuer and subject compare exactly — a trailing slash or a letter's case makes them differ
    (MicrosoftDocs/azure-docs#97700; case-sensitive since 2025). Issuer is checked first, then
    subject, then audience, as the code Entra answers narrows in that order.
    """
    issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
    by_issuer = [c for c in credentials if c["issuer"] == issuer]
    if not by_issuer:
        raise no_fic_for_issuer(issuer)
    by_subject = [c for c in by_issuer if c["subject"] == subject]
    if not by_subject:
        if any(c["subject"].lower() == subject.lower() for c in by_issuer):
            raise subject_differs_in_case(subject)
        raise no_fic_for_subject(subject)
    audiences = _audiences(claims)
    found = next((c for c in by_subject if any(a in c["audiences"] for a in audiences)), None)
    if found is None:
        raise no_fic_for_audience(audiences[0] if audiences else "")
    return found


def verify_assertion(call: TokenRequest, assertion: str, claims: dict[str, Any]) -> None:
    """Check the assertion against its issuer's published keys, then its time range (nbf/exp)."""
    issuer = call.state.issuers.by_url(call.base_url, str(claims.get("iss", "")))
    if issuer is None:
        raise issuer_unreachable()
    header = jwt.get_unverified_header(assertion)
    key_id = str(header.get("kid", ""))
    published = {k["kid"] for k in issuer.jwks()["keys"]}
    if key_id not in published:
        raise signing_key_not_found(key_id, str(claims["iss"]))
    try:
        jwt.decode(
            assertion,
            issuer.key.public_key(),
            algorithms=["RS256"],
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise invalid_signature() from None
    now = time.time()
    expires, not_before = claims.get("exp"), claims.get("nbf")
    if not isinstance(expires, (int, float)) or (not_before is not None and not isinstance(not_before, (int, float))):
        raise malformed_assertion()
    # No clock skew, as for the lab's own tokens: a lesson that shortens a lifetime sees the expiry at once.
    if now >= expires or (not_before is not None and now < not_before):
        raise outside_time_range(now, not_before, expires)


@grant("client_credentials")
async def client_credentials_grant(call: TokenRequest) -> Grant:
    """An app-only token for the identity whose federated credential trusts the presented assertion.

    Replay: the lab accepts the same assertion again while it is valid. Entra's behaviour on reuse of
    one ``jti`` is undocumented, but azure-identity's WorkloadIdentityCredential reads the token file
    at most every 10 minutes and presents the same assertion for every token it needs meanwhile, and
    a Kubernetes projected token (no ``jti`` at all) is reused for an hour — Entra accepts both.
    """
    client_id = call.require("client_id").lower()
    assertion = call.form.get("client_assertion", "").strip()
    resource = call.resource()
    principal = call.state.directory.by_client_id(client_id)
    if principal is None:
        raise unknown_client(client_id, call.tenant_id)
    if not assertion:
        # The lab's identities have no client secret, so any secret presented is a wrong one.
        raise invalid_client_secret(client_id) if call.form.get("client_secret") else missing_client_credential()
    if call.form.get("client_assertion_type", "").strip() != JWT_BEARER:
        # Entra's answer to another assertion type is unconfirmed; the lab names the parameter it needs.
        raise missing_parameter("client_assertion_type")
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise malformed_assertion() from None
    credentials = call.state.federated_credentials.get(principal.object_id, [])
    match_federated_credential(credentials, claims)
    verify_assertion(call, assertion, claims)
    return Grant(principal, resource)


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
        call = TokenRequest(state, tenant_id, version, form, _base(request))
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


routes = [
    Route("/{tenant}/oauth2/v2.0/token", _token_endpoint("v2"), methods=["POST"]),
    Route("/{tenant}/oauth2/token", _token_endpoint("v1"), methods=["POST"]),
    Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    Route("/{tenant}/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    Route("/{tenant}/discovery/v2.0/keys", keys, methods=["GET"]),
    Route("/{tenant}/discovery/keys", keys, methods=["GET"]),
    Route("/common/discovery/instance", instance_discovery, methods=["GET"]),
]
