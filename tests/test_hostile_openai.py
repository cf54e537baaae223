"""Hostile input on the data plane, the control plane and the token service: forged, stale and foreign
tokens and assertions, odd headers and bodies, strange names, scopes and api-versions — each answered as
Azure answers (DESIGN §3.4, §3.7).

Every row is sent over real HTTPS; afterwards the lab must still serve a good call, and no answer may
carry a 5xx, a traceback or a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from keyless_lab import Lab
from keyless_lab.directory import COGNITIVE_SERVICES, MANAGEMENT
from keyless_lab.errors import DEPLOYMENT_NOT_FOUND_MESSAGE, TOKEN_INVALID_MESSAGE, WRONG_KEY_MESSAGE

API = "api-version=2024-10-21"
CHAT = f"/openai/deployments/chat/chat/completions?{API}"
EMBEDDINGS = f"/openai/deployments/embeddings/embeddings?{API}"
HELLO = {"messages": [{"role": "user", "content": "Hi"}]}
JWT_PATTERN = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]*")

TOKEN_INVALID = {"statusCode": 401, "message": TOKEN_INVALID_MESSAGE}
WRONG_KEY = {"error": {"code": "401", "message": WRONG_KEY_MESSAGE}}
KEYS_DISABLED = {
    "error": {
        "code": "AuthenticationTypeDisabled",
        "message": "Key based authentication is disabled for this resource.",
    }
}
RESOURCE_NOT_FOUND = {"error": {"code": "404", "message": "Resource not found"}}
DEPLOYMENT_NOT_FOUND = {"error": {"code": "DeploymentNotFound", "message": DEPLOYMENT_NOT_FOUND_MESSAGE}}
METHOD_NOT_ALLOWED = {"error": {"code": "405", "message": "Method not allowed"}}
TOO_LARGE = {"error": {"code": "RequestTooLarge", "message": "The request body exceeds 1048576 bytes."}}
NOT_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON."
)
# Azure's front door answers oversized headers with a 4xx whose text is unconfirmed: the lab answers
# 431 with its own body, or uvicorn's plain 400 when the block arrives in pieces and trips its bound first.
HEADERS_TOO_LARGE = {
    "error": {"code": "RequestHeaderFieldsTooLarge", "message": "The request headers exceed 32768 bytes."}
}
HEADERS_TOO_LARGE_IN_PIECES = (400, "Invalid HTTP request received.")
COMPLETION = object()  # marker: a 200 chat completion (its id and time vary)
ANY_TEXT = object()  # marker: a message whose wording comes from a parser, not from Azure


def bad_request(message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}


# --- forging tokens, as an attacker who has seen one real token and the public JWKS could -------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    parts = [b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode())]
    return ".".join([*parts, b64url(signature)])


def claims(lab: Lab, key: str = "learner", audience: str = COGNITIVE_SERVICES, **changes: Any) -> dict[str, Any]:
    result = lab.state.issuer.claims_for(lab.state.directory.principals[key], audience)
    for name, value in changes.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = value
    return result


def signed(lab: Lab, **changes: Any) -> str:
    return lab.state.issuer.sign(claims(lab, **changes))


def alg_none(lab: Lab) -> str:
    return unsigned({"alg": "none", "typ": "JWT", "kid": lab.state.issuer.kid}, claims(lab))


def hs256_with_public_key(lab: Lab) -> str:
    """The classic algorithm-confusion forgery: HMAC keyed with the published RSA public key."""
    public = RSAAlgorithm.from_jwk(json.dumps(lab.state.issuer.jwks()["keys"][0]))
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "typ": "JWT", "kid": lab.state.issuer.kid}
    head_and_body = unsigned(header, claims(lab)).rstrip(".")
    mac = hmac.new(pem, head_and_body.encode(), hashlib.sha256).digest()
    return f"{head_and_body}.{b64url(mac)}"


_STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def unknown_kid(lab: Lab) -> str:
    return jwt.encode(claims(lab), _STRANGER, algorithm="RS256", headers={"kid": "not-a-lab-key"})


def known_kid_wrong_key(lab: Lab) -> str:
    return jwt.encode(claims(lab), _STRANGER, algorithm="RS256", headers={"kid": lab.state.issuer.kid})


def edited_after_signing(lab: Lab) -> str:
    """A real token of the teammate (no role) whose payload now claims the learner (who has one)."""
    head, _, signature = signed(lab, key="teammate").split(".")
    forged = claims(lab, key="teammate", oid=lab.principal("learner")["object_id"])
    return ".".join([head, b64url(json.dumps(forged).encode()), signature])


def foreign_tenant(lab: Lab) -> str:
    other = lab.state.directory.foreign_tenant_id
    return signed(lab, tid=other, iss=f"https://sts.windows.net/{other}/")


def bearer(make: Callable[[Lab], str]) -> Callable[[Lab], dict[str, str]]:
    return lambda lab: {"Authorization": f"Bearer {make(lab)}"}


def learner_bearer(lab: Lab) -> dict[str, str]:
    return {"Authorization": f"Bearer {signed(lab)}"}


def key1(lab: Lab) -> str:
    return lab.state.account.keys()["key1"]


# --- the table ------------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    status: int
    body: Any  # a dict (JSON body), a str (plain body), None (empty body) or COMPLETION
    path: str = CHAT
    method: str = "POST"
    headers: Callable[[Lab], dict[str, Any]] = learner_bearer
    json_body: Any = field(default_factory=lambda: HELLO)
    content: bytes | Callable[[], Iterator[bytes]] | None = None
    preset: str = "ready"  # learner, chat-app and the aca identities hold OpenAI User; keys are off
    or_else: tuple[int, Any] | None = None  # a second acceptable answer, where the transport decides
    content_type: str = "application/json"
    surface: str = "openai"  # where the audit log records the answer


def tenant_mismatch(lab: Lab) -> dict[str, Any]:
    tid = lab.state.directory.foreign_tenant_id
    return {
        "error": {
            "code": "Tenant provided in token does not match resource token",
            "message": f"Token tenant {tid} does not match resource tenant.",
        }
    }


def too_big_in_chunks() -> Iterator[bytes]:
    # No content-length: the lab must count what arrives, not trust what is declared.
    yield b'{"messages": [{"role": "user", "content": "'
    for _ in range(17):
        yield b"x" * 65_536
    yield b'"}]}'


DATA_PLANE_CASES = [
    # tokens
    Case("alg-none", 401, TOKEN_INVALID, headers=bearer(alg_none)),
    Case("hs256-signed-with-public-key", 401, TOKEN_INVALID, headers=bearer(hs256_with_public_key)),
    Case("unknown-kid", 401, TOKEN_INVALID, headers=bearer(unknown_kid)),
    Case("lab-kid-foreign-signature", 401, TOKEN_INVALID, headers=bearer(known_kid_wrong_key)),
    Case("payload-edited-after-signing", 401, TOKEN_INVALID, headers=bearer(edited_after_signing)),
    Case("expired", 401, TOKEN_INVALID, headers=bearer(lambda lab: signed(lab, exp=int(time.time()) - 60))),
    Case("nbf-in-future", 401, TOKEN_INVALID, headers=bearer(lambda lab: signed(lab, nbf=int(time.time()) + 600))),
    Case("arm-audience", 401, TOKEN_INVALID, headers=bearer(lambda lab: signed(lab, audience=MANAGEMENT))),
    Case(
        "graph-audience", 401, TOKEN_INVALID, headers=bearer(lambda lab: signed(lab, aud="https://graph.microsoft.com"))
    ),
    Case(
        "wrong-issuer",
        401,
        TOKEN_INVALID,
        headers=bearer(lambda lab: signed(lab, iss="https://sts.windows.net/00000000-0000-0000-0000-000000000000/")),
    ),
    Case("other-tenant", 400, tenant_mismatch, headers=bearer(foreign_tenant)),
    Case("missing-oid", 401, TOKEN_INVALID, headers=bearer(lambda lab: signed(lab, oid=None))),
    Case("missing-exp", 401, TOKEN_INVALID, headers=bearer(lambda lab: signed(lab, exp=None))),
    Case("truncated-token", 401, TOKEN_INVALID, headers=bearer(lambda lab: signed(lab)[:-12])),
    Case("two-segment-token", 401, TOKEN_INVALID, headers=bearer(lambda lab: signed(lab).rsplit(".", 1)[0])),
    Case("not-a-jwt", 401, TOKEN_INVALID, headers=lambda lab: {"Authorization": "Bearer hello-azure"}),
    Case("bearer-without-token", 401, TOKEN_INVALID, headers=lambda lab: {"Authorization": "Bearer"}),
    Case("bearer-null", 401, TOKEN_INVALID, headers=lambda lab: {"Authorization": "Bearer null"}),
    Case("basic-scheme", 401, TOKEN_INVALID, headers=lambda lab: {"Authorization": "Basic YWRhOnBhc3N3b3Jk"}),
    Case("no-credentials", 401, TOKEN_INVALID, headers=lambda lab: {}),
    Case(
        "key-as-bearer",
        401,
        TOKEN_INVALID,
        headers=lambda lab: {"Authorization": f"Bearer {key1(lab)}"},
        preset="fresh",
    ),
    # api-key and Authorization together. Azure checks the key first: azure-ai-inference sends
    # both headers with a key (Azure/azure-sdk-for-python#37888) and Azure OpenAI accepts that call,
    # which it could not if it validated the bearer value first. The reverse order is unconfirmed.
    Case(
        "both-good-key-bogus-bearer",
        200,
        COMPLETION,
        headers=lambda lab: {"api-key": key1(lab), "Authorization": "Bearer hello-azure"},
        preset="fresh",
    ),
    Case(
        "both-wrong-key-good-bearer",
        401,
        WRONG_KEY,
        headers=lambda lab: {"api-key": "0" * 32, **learner_bearer(lab)},
        preset="fresh",
    ),
    Case(
        "both-with-keys-disabled",
        403,
        KEYS_DISABLED,
        headers=lambda lab: {"api-key": key1(lab), **learner_bearer(lab)},
    ),
    Case("empty-api-key", 401, WRONG_KEY, headers=lambda lab: {"api-key": ""}, preset="fresh"),
    Case("api-key-not-ascii", 401, WRONG_KEY, headers=lambda lab: {"api-key": "clé".encode()}, preset="fresh"),
    Case(
        "bearer-not-ascii",
        401,
        TOKEN_INVALID,
        headers=lambda lab: {"Authorization": f"Bearer {signed(lab)}é".encode()},
    ),
    # headers and bodies beyond the bounds
    Case(
        "header-40-kb",
        431,
        HEADERS_TOO_LARGE,
        headers=lambda lab: {**learner_bearer(lab), "x-pad": "a" * 40_000},
        or_else=HEADERS_TOO_LARGE_IN_PIECES,
    ),
    Case(
        "header-100-kb",
        431,
        HEADERS_TOO_LARGE,
        headers=lambda lab: {**learner_bearer(lab), "x-pad": "a" * 100_000},
        or_else=HEADERS_TOO_LARGE_IN_PIECES,
    ),
    Case(
        "header-block-1-mb",
        431,
        HEADERS_TOO_LARGE,
        headers=lambda lab: {**learner_bearer(lab), **{f"x-pad-{i}": "b" * 1000 for i in range(1000)}},
        or_else=HEADERS_TOO_LARGE_IN_PIECES,
    ),
    Case("body-over-1-mib", 413, TOO_LARGE, content=b"{" + b" " * 1_048_576 + b"}"),
    Case("body-over-1-mib-chunked", 413, TOO_LARGE, content=too_big_in_chunks),
    Case("body-not-json", 400, bad_request(NOT_JSON), content=b'{"messages": [}'),
    Case("body-not-utf8", 400, bad_request(NOT_JSON), content=b"\xff\xfe\x00{"),
    Case("body-empty", 400, bad_request("The request body is empty; a JSON object was expected."), content=b""),
    Case("body-a-list", 400, bad_request("The request body must be a JSON object."), json_body=[HELLO]),
    Case("messages-missing", 400, bad_request("'messages' is a required property", "messages"), json_body={}),
    Case(
        "messages-not-a-list",
        400,
        bad_request("'messages' must be a non-empty array.", "messages"),
        json_body={"messages": "Hi"},
    ),
    Case(
        "messages-empty",
        400,
        bad_request("'messages' must be a non-empty array.", "messages"),
        json_body={"messages": []},
    ),
    Case(
        "role-missing",
        400,
        bad_request("'messages[0].role' is a required property", "messages[0].role"),
        json_body={"messages": [{"content": "Hi"}]},
    ),
    Case(
        "content-wrong-type",
        400,
        bad_request("Invalid type for 'messages[0].content'.", "messages[0].content"),
        json_body={"messages": [{"role": "user", "content": 42}]},
    ),
    Case(
        "stream-not-bool",
        400,
        bad_request("Invalid type for 'stream': expected a boolean.", "stream"),
        json_body={**HELLO, "stream": "yes"},
    ),
    Case("input-missing", 400, bad_request("'input' is a required property", "input"), path=EMBEDDINGS, json_body={}),
    Case(
        "input-wrong-type",
        400,
        bad_request("Invalid type for 'input'.", "input"),
        path=EMBEDDINGS,
        json_body={"input": [{"text": "Hi"}]},
    ),
    *(
        Case(
            f"dimensions-{value!r}",
            400,
            bad_request("'dimensions' must be an integer between 1 and 3072.", "dimensions"),
            path=EMBEDDINGS,
            json_body={"input": "Hi", "dimensions": value},
        )
        for value in (0, 3073, "256", True, 1.5)
    ),
    # deployment names
    Case(
        "deployment-traversal-encoded",
        404,
        RESOURCE_NOT_FOUND,
        path=f"/openai/deployments/..%2F..%2Flab/chat/completions?{API}",
    ),
    # httpx resolves a literal ../ before sending, as browsers do; the encoded forms reach the lab as is.
    Case(
        "deployment-traversal-plain",
        404,
        RESOURCE_NOT_FOUND,
        path=f"/openai/deployments/../../lab/chat/completions?{API}",
    ),
    Case(
        "deployment-traversal-dots-encoded",
        404,
        RESOURCE_NOT_FOUND,
        path=f"/openai/deployments/%2E%2E/%2E%2E/chat/completions?{API}",
    ),
    Case(
        "deployment-encoded-slash", 404, RESOURCE_NOT_FOUND, path=f"/openai/deployments/chat%2Fx/chat/completions?{API}"
    ),
    Case("deployment-dot-dot", 404, DEPLOYMENT_NOT_FOUND, path=f"/openai/deployments/%2E%2E/chat/completions?{API}"),
    Case(
        "deployment-unicode",
        404,
        DEPLOYMENT_NOT_FOUND,
        path=f"/openai/deployments/%C3%A7h%C3%A0t/chat/completions?{API}",
    ),
    Case("deployment-nul", 404, DEPLOYMENT_NOT_FOUND, path=f"/openai/deployments/chat%00/chat/completions?{API}"),
    Case(
        "deployment-quote", 404, DEPLOYMENT_NOT_FOUND, path=f"/openai/deployments/chat%27%3B--/chat/completions?{API}"
    ),
    Case(
        "deployment-very-long",
        404,
        DEPLOYMENT_NOT_FOUND,
        path=f"/openai/deployments/{'c' * 5000}/chat/completions?{API}",
    ),
    Case(
        "deployment-of-other-kind",
        404,
        DEPLOYMENT_NOT_FOUND,
        path=f"/openai/deployments/embeddings/chat/completions?{API}",
    ),
    Case(
        "v1-model-not-a-string",
        404,
        DEPLOYMENT_NOT_FOUND,
        path="/openai/v1/chat/completions",
        json_body={**HELLO, "model": ["chat"]},
    ),
    # api-version
    Case("api-version-missing", 404, RESOURCE_NOT_FOUND, path="/openai/deployments/chat/chat/completions"),
    Case(
        "api-version-too-old",
        404,
        RESOURCE_NOT_FOUND,
        path="/openai/deployments/chat/chat/completions?api-version=2022-12-01",
    ),
    Case(
        "api-version-malformed",
        404,
        RESOURCE_NOT_FOUND,
        path="/openai/deployments/chat/chat/completions?api-version=latest",
    ),
    Case(
        "api-version-not-a-date",
        404,
        RESOURCE_NOT_FOUND,
        path="/openai/deployments/chat/chat/completions?api-version=2024-13-45",
    ),
    Case(
        "api-version-from-future",
        404,
        RESOURCE_NOT_FOUND,
        path="/openai/deployments/chat/chat/completions?api-version=2999-01-01",
    ),
    # paths and methods
    Case("unknown-path", 404, RESOURCE_NOT_FOUND, path=f"/openai/deployments/chat/completions?{API}"),
    Case("unknown-operation", 404, RESOURCE_NOT_FOUND, path=f"/openai/deployments/chat/images/generations?{API}"),
    Case("root-path", 404, RESOURCE_NOT_FOUND, path="/", method="GET"),
    Case("get-on-chat", 405, METHOD_NOT_ALLOWED, method="GET"),
    Case("delete-on-embeddings", 405, METHOD_NOT_ALLOWED, path=EMBEDDINGS, method="DELETE"),
]

# --- ARM and Entra rows ---------------------------------------------------------------------------
# The control plane and the token service, in the same shape. Their texts are asserted word for word
# in test_arm_api.py and test_entra.py; here every row must be answered as Azure answers, and survived.

ROLE_PUT = "/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01"
OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"


def arm_error(code: str, message: str | Callable[[Lab], str]) -> Callable[[Lab], dict[str, Any]]:
    return lambda lab: {"error": {"code": code, "message": message(lab) if callable(message) else message}}


def management_bearer(lab: Lab, **changes: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {signed(lab, audience=MANAGEMENT, **changes)}"}


def assignment_path(scope: Callable[[Lab], str], name: str) -> Callable[[Lab], str]:
    return lambda lab: "/arm" + scope(lab) + ROLE_PUT.format(name=name)


def rg_scope(lab: Lab) -> str:
    return lab.state.directory.resource_group_scope


def subscription_scope(lab: Lab) -> str:
    return f"/subscriptions/{lab.state.directory.subscription_id}"


def assignment(lab: Lab, role: str = OPENAI_USER, principal: str | None = None) -> dict[str, Any]:
    role_id = (
        f"/subscriptions/{lab.state.directory.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"
    )
    return {
        "properties": {
            "roleDefinitionId": role_id,
            "principalId": principal or lab.principal("teammate")["object_id"],
            "principalType": "User",
        }
    }


NEW_NAME = "3f0c3a52-8a57-4f0e-9b43-0d6a3b2f7a10"


def not_owner_message(lab: Lab) -> str:
    learner = lab.state.directory.learner
    scope = subscription_scope(lab) + f"/providers/Microsoft.Authorization/roleAssignments/{NEW_NAME}"
    return (
        f"The client '{learner.upn}' with object id '{learner.object_id}' does not have authorization to perform "
        f"action 'Microsoft.Authorization/roleAssignments/write' over scope '{scope}' or the scope is invalid. "
        "If access was recently granted, please refresh your credentials."
    )


def assign(case_id: str, status: int, body: Any, **request: Any) -> Case:
    """A role-assignment PUT by the learner (Owner of the resource group) with a management token."""
    request.setdefault("path", assignment_path(rg_scope, NEW_NAME))
    request.setdefault("json_body", assignment)
    return Case(case_id, status, body, method="PUT", headers=management_bearer, surface="arm", **request)


LIST_ASSIGNMENTS = "/arm/subscriptions/x/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"

ARM_CASES: list[Case] = [
    Case(
        "arm-no-token",
        401,
        arm_error("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."),
        path=LIST_ASSIGNMENTS,
        method="GET",
        headers=lambda lab: {},
        surface="arm",
    ),
    Case(
        "arm-data-plane-token",
        401,
        arm_error(
            "InvalidAuthenticationTokenAudience",
            "The access token has been obtained for wrong audience or resource 'https://cognitiveservices.azure.com'. "
            "It should exactly match with one of the allowed audiences 'https://management.core.windows.net/',"
            "'https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.",
        ),
        path=LIST_ASSIGNMENTS,
        method="GET",
        surface="arm",
    ),
    Case(
        "arm-alg-none",
        401,
        arm_error("InvalidAuthenticationToken", "The access token is invalid."),
        path=LIST_ASSIGNMENTS,
        method="GET",
        headers=bearer(alg_none),
        surface="arm",
    ),
    assign(
        "arm-assign-on-a-scope-not-owned",
        403,
        arm_error("AuthorizationFailed", not_owner_message),
        path=assignment_path(subscription_scope, NEW_NAME),
    ),
    assign(
        "arm-assignment-name-not-a-guid",
        400,
        arm_error(
            "InvalidRoleAssignmentId",
            "The role assignment ID 'not-a-guid' is not valid. The role assignment ID must be a GUID.",
        ),
        path=assignment_path(rg_scope, "not-a-guid"),
    ),
    assign(
        "arm-role-definition-malformed",
        400,
        arm_error("InvalidRoleDefinitionId", "The role definition ID '5e0bd9bd|' is not valid."),
        json_body=lambda lab: assignment(lab, role="5e0bd9bd|"),
    ),
    assign(
        "arm-role-definition-unknown",
        400,
        arm_error(
            "RoleDefinitionDoesNotExist",
            "The specified role definition with ID '0000000000000000000000000000abcd' does not exist.",
        ),
        json_body=lambda lab: assignment(lab, role="00000000-0000-0000-0000-00000000abcd"),
    ),
    assign(
        "arm-principal-not-a-guid",
        400,
        arm_error(
            "InvalidPrincipalId",
            "The Principal ID '/servicePrincipals/x' is not valid. Principal ID must be a GUID.",
        ),
        json_body=lambda lab: assignment(lab, principal="/servicePrincipals/x"),
    ),
    assign(
        "arm-body-not-json",
        400,
        lambda lab: {"error": {"code": "InvalidRequestContent", "message": ANY_TEXT}},
        content=b"{not json",
    ),
]

TOKEN = "/{tenant}/oauth2/v2.0/token"
CLI_APP = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class EntraError:
    """Entra's error JSON: the OAuth error, the AADSTS code, and a description that starts with it."""

    status: int
    error: str
    code: int


def token_path(lab: Lab) -> str:
    return TOKEN.format(tenant=lab.state.directory.tenant_id)


def form(**fields: str) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


def github_assertion(lab: Lab) -> str:
    from keyless_lab.oidc_issuers import GitHubJob

    return lab.state.issuers.github_token(lab.url, GitHubJob("contoso/go-keyless"))


def forged_github_assertion(lab: Lab) -> str:
    """The issuer's claims, signed by a key the issuer never published."""
    real = jwt.decode(github_assertion(lab), options={"verify_signature": False})
    return jwt.encode(real, _STRANGER, algorithm="RS256", headers={"kid": lab.state.issuers.github.kid})


def exchange(make_assertion: Callable[[Lab], str], client: str = "id-chat-aca-jobs") -> Callable[[Lab], bytes]:
    def body(lab: Lab) -> bytes:
        client_id = lab.principal(client)["client_id"] if client in lab.state.directory.principals else client
        return form(
            grant_type="client_credentials",
            client_id=client_id,
            client_assertion_type=ASSERTION,
            client_assertion=make_assertion(lab),
            scope="https://cognitiveservices.azure.com/.default",
        )

    return body


def entra(case_id: str, expected: EntraError, content: Callable[[Lab], bytes] | bytes, tenant: str = "") -> Case:
    return Case(
        case_id,
        expected.status,
        expected,
        path=(lambda lab: TOKEN.format(tenant=tenant)) if tenant else token_path,
        headers=lambda lab: {},
        content=content,
        content_type="application/x-www-form-urlencoded",
        surface="entra",
    )


ENTRA_CASES: list[Case] = [
    entra(
        "entra-unsupported-grant",
        EntraError(400, "unsupported_grant_type", 70003),
        form(grant_type="password", client_id=CLI_APP),
    ),
    entra("entra-no-grant-type", EntraError(400, "invalid_request", 900144), form(client_id=CLI_APP)),
    entra("entra-body-not-a-form", EntraError(400, "invalid_request", 900144), b"\xff\xfe"),
    entra(
        "entra-refresh-token-not-issued",
        EntraError(400, "invalid_grant", 70000),
        form(grant_type="refresh_token", client_id=CLI_APP, refresh_token="made-up", scope=f"{MANAGEMENT}.default"),
    ),
    entra(
        "entra-unknown-tenant",
        EntraError(400, "invalid_tenant", 90002),
        form(grant_type="refresh_token", client_id=CLI_APP, refresh_token="made-up"),
        tenant="00000000-0000-0000-0000-000000000009",
    ),
    entra("entra-assertion-not-a-jwt", EntraError(400, "invalid_request", 50027), exchange(lambda lab: "not-a-jwt")),
    entra(
        "entra-unknown-client-id",
        EntraError(400, "unauthorized_client", 700016),
        exchange(github_assertion, client="04b815dd-69c6-4b73-ac03-68739d5867af"),
    ),
    entra(
        "entra-no-federated-credential",
        EntraError(401, "invalid_client", 700211),
        exchange(github_assertion),
    ),
    entra(
        "entra-assertion-signed-by-another-key",
        EntraError(401, "invalid_client", 700211),
        exchange(forged_github_assertion),
    ),
]

CASES = [*DATA_PLANE_CASES, *ARM_CASES, *ENTRA_CASES]


# --- checks shared by every row -------------------------------------------------------------------


def lab_secrets(lab: Lab) -> list[str]:
    """Every secret the lab holds: keys, host identity headers, the admin secret."""
    return [*lab.state.account.keys().values(), *lab.state.host_secrets.values(), lab.state.admin_secret]


def assert_clean(response: httpx.Response, lab: Lab, sent: list[str]) -> None:
    """No 5xx, no traceback, no whole token and no secret in what the lab sent back."""
    assert response.status_code < 500, response.text
    text = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    assert "Traceback" not in text and 'File "' not in text
    assert not JWT_PATTERN.search(text), "a whole token came back"
    for secret in [*lab_secrets(lab), *sent]:
        if len(secret) >= 16:
            assert secret not in text


def assert_still_serves(lab: Lab, client: httpx.Client) -> None:
    lab.preset("ready")
    response = client.post(CHAT, json=HELLO, headers=learner_bearer(lab))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == 'Hello from the Go Keyless lab! You said: "Hi"'


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(preset="ready") as running:
        yield running


@pytest.fixture(scope="module")
def trust(lab: Lab) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(lab.ca_bundle))


@pytest.fixture
def client(lab: Lab, trust: ssl.SSLContext) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lab.url, verify=trust, timeout=10) as http:
        yield http


def send(client: httpx.Client, lab: Lab, case: Case) -> tuple[httpx.Response, list[str]]:
    headers = case.headers(lab)
    sent = [v for k, v in headers.items() if k.lower() in ("authorization", "api-key") and isinstance(v, str)]
    sent = [v.split(" ", 1)[-1] for v in sent]
    path = case.path(lab) if callable(case.path) else case.path
    if case.content is not None:
        content = case.content
        if callable(content):
            content = content(lab) if case.surface == "entra" else content()
        request = client.build_request(
            case.method, path, content=content, headers={"content-type": case.content_type, **headers}
        )
    else:
        body = case.json_body(lab) if callable(case.json_body) else case.json_body
        request = client.build_request(case.method, path, json=body, headers=headers)
    return client.send(request), sent


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_request(case: Case, lab: Lab, client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    lab.preset(case.preset)
    before = len(lab.audit())
    with caplog.at_level(logging.DEBUG):
        response, sent = send(client, lab, case)

    status, expected = case.status, case.body(lab) if callable(case.body) else case.body
    if case.or_else is not None and response.status_code == case.or_else[0]:
        status, expected = case.or_else
    assert response.status_code == status, response.text
    if expected is COMPLETION:
        assert response.json()["object"] == "chat.completion"
    elif isinstance(expected, EntraError):
        answer = response.json()
        assert (answer["error"], answer["error_codes"]) == (expected.error, [expected.code])
        assert answer["error_description"].startswith(f"AADSTS{expected.code}: ")
    elif isinstance(expected, dict) and expected.get("error", {}).get("message") is ANY_TEXT:
        assert response.json()["error"]["code"] == expected["error"]["code"]
        assert isinstance(response.json()["error"]["message"], str)
    elif isinstance(expected, dict):
        assert response.json() == expected
    elif isinstance(expected, str):
        assert response.text == expected
    else:
        assert response.content == b""
    assert_clean(response, lab, sent)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "the lab logged a failure"
    # Every answer the lab itself gives is in its audit log, with the status the caller saw.
    recorded = [e.status for e in lab.audit()[before:] if e.surface == case.surface]
    assert recorded in ([status], [])
    assert_still_serves(lab, client)


def test_the_table_is_wide_enough() -> None:
    assert len(DATA_PLANE_CASES) >= 30 and len(ARM_CASES) >= 8 and len(ENTRA_CASES) >= 8


def test_no_hostile_call_left_a_5xx_in_the_audit_log(lab: Lab) -> None:
    assert lab.audit(), "run with the table"
    assert all(entry.status < 500 for entry in lab.audit())
