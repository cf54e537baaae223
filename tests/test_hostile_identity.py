"""Hostile input on the managed-identity endpoint of App Service / Container Apps (``IDENTITY_ENDPOINT``):
missing or stolen ``X-IDENTITY-HEADER``, identities of another host, odd selectors and api-versions.

Texts and statuses: reference/azure-error-texts.md §d; each row is sent over real HTTPS and the endpoint
must still issue a token afterwards, with no 5xx, no traceback and no secret in a refusal.
"""

from __future__ import annotations

import logging
import re
import ssl
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from keyless_lab import Lab

JWT_PATTERN = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]*")
RESOURCE = "https://cognitiveservices.azure.com"
NOT_FOUND = {
    "statusCode": 400,
    "message": "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
}
AMBIGUOUS = "Unable to load the proper Managed Identity."


def selector(principal: str, kind: str) -> Callable[[Lab], dict[str, str]]:
    """``{kind: <that id of principal>}``; ``kind`` is client_id, principal_id, object_id or mi_res_id."""
    field_of = {
        "client_id": "client_id",
        "principal_id": "object_id",
        "object_id": "object_id",
        "mi_res_id": "resource_id",
    }
    return lambda lab: {kind: lab.principal(principal)[field_of[kind]]}


@dataclass
class Case:
    id: str
    status: int
    body: Any  # a dict, None (empty body), or a callable of (lab, url) for texts that echo the request
    host: str | None = "chat-app"  # whose X-IDENTITY-HEADER is sent; None sends none
    header: Callable[[Lab], str] | None = None  # overrides the header value
    query: Callable[[Lab], dict[str, str]] = lambda lab: {}
    api_version: str | None = "2019-08-01"
    resource: str | None = RESOURCE
    method: str = "GET"


def unsupported(version: str) -> Callable[[Lab, str], dict[str, Any]]:
    def body(lab: Lab, url: str) -> dict[str, Any]:
        message = f"The HTTP resource that matches the request URI '{url}' does not support the API version '{version}'"
        return {"error": {"code": "UnsupportedApiVersion", "message": message}}

    return body


CASES = [
    # the header that proves the caller runs on the host
    Case("header-missing", 403, None, host=None),
    Case("header-wrong", 403, None, header=lambda lab: uuid.uuid4().hex),
    Case("header-empty", 403, None, header=lambda lab: ""),
    Case("header-prefix-of-real-one", 403, None, header=lambda lab: lab.state.host_secrets["chat-app"][:-1]),
    Case("header-real-one-plus-char", 403, None, header=lambda lab: lab.state.host_secrets["chat-app"] + "0"),
    Case("header-admin-secret", 403, None, header=lambda lab: lab.state.admin_secret),
    Case("header-not-ascii", 403, None, header=lambda lab: "clé-" + lab.state.host_secrets["chat-app"]),
    Case("header-missing-and-client-id", 403, None, host=None, query=selector("id-chat-aca", "client_id")),
    # what is asked for
    Case(
        "resource-missing",
        400,
        {"statusCode": 400, "message": "The 'resource' query parameter is required."},
        resource=None,
    ),
    Case(
        "resource-blank",
        400,
        {"statusCode": 400, "message": "The 'resource' query parameter is required."},
        resource="  ",
    ),
    Case("client-id-unknown", 400, NOT_FOUND, query=lambda lab: {"client_id": str(uuid.uuid4())}),
    Case("client-id-not-a-guid", 400, NOT_FOUND, query=lambda lab: {"client_id": "../../admin"}),
    Case("client-id-of-a-user", 400, NOT_FOUND, query=lambda lab: {"client_id": lab.principal("learner")["object_id"]}),
    # identities of the other host, asked for with this host's header
    Case("client-id-of-other-host", 400, NOT_FOUND, query=selector("id-chat-aca", "client_id")),
    Case("principal-id-of-other-host", 400, NOT_FOUND, query=selector("id-chat-aca", "principal_id")),
    Case("object-id-of-other-host", 400, NOT_FOUND, query=selector("id-chat-aca-jobs", "object_id")),
    Case("mi-res-id-of-other-host", 400, NOT_FOUND, query=selector("id-chat-aca", "mi_res_id")),
    Case("aca-asks-for-app-service-identity", 400, NOT_FOUND, host="chat-aca", query=selector("chat-app", "client_id")),
    Case("aca-asks-for-app-principal", 400, NOT_FOUND, host="chat-aca", query=selector("chat-app", "principal_id")),
    # selectors
    Case(
        "two-selectors",
        400,
        {"statusCode": 400, "message": "Only one of client_id, principal_id, object_id or mi_res_id may be given."},
        host="chat-aca",
        query=lambda lab: {**selector("id-chat-aca", "client_id")(lab), **selector("id-chat-aca", "principal_id")(lab)},
    ),
    Case("aca-no-selector", 400, AMBIGUOUS, host="chat-aca"),
    # protocol version
    Case("api-version-missing", 400, unsupported(""), api_version=None),
    Case("api-version-2017", 400, unsupported("2017-09-01"), api_version="2017-09-01"),
    Case("api-version-garbage", 400, unsupported("v2"), api_version="v2"),
    # methods and paths
    Case("post-on-token", 405, {"error": {"code": "405", "message": "Method not allowed"}}, method="POST"),
]


def secrets_of(lab: Lab) -> list[str]:
    return [*lab.state.account.keys().values(), *lab.state.host_secrets.values(), lab.state.admin_secret]


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(preset="ready") as running:
        yield running


@pytest.fixture(scope="module")
def client(lab: Lab) -> Iterator[httpx.Client]:
    trust = ssl.create_default_context(cafile=str(lab.ca_bundle))
    with httpx.Client(base_url=lab.url, verify=trust, timeout=10) as http:
        yield http


def token_request(lab: Lab, case: Case) -> tuple[str, dict[str, Any]]:
    params: dict[str, str] = {}
    if case.resource is not None:
        params["resource"] = case.resource
    if case.api_version is not None:
        params["api-version"] = case.api_version
    params.update(case.query(lab))
    headers: dict[str, Any] = {}
    if case.header is not None:
        headers["X-IDENTITY-HEADER"] = case.header(lab).encode()  # bytes: sent as is, even when not ASCII
    elif case.host is not None:
        headers["X-IDENTITY-HEADER"] = lab.state.host_secrets[case.host]
    return f"/msi/token?{urlencode(params)}", headers


def assert_still_issues(lab: Lab, client: httpx.Client) -> None:
    for host, query in (("chat-app", {}), ("chat-aca", selector("id-chat-aca", "client_id")(lab))):
        params = {"resource": RESOURCE, "api-version": "2019-08-01", **query}
        response = client.get("/msi/token", params=params, headers={"X-IDENTITY-HEADER": lab.state.host_secrets[host]})
        assert response.status_code == 200, response.text
        assert response.json()["token_type"] == "Bearer"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_token_request(case: Case, lab: Lab, client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    path, headers = token_request(lab, case)
    issued_before = lab.state.issuer.issued
    with caplog.at_level(logging.DEBUG):
        response = client.request(case.method, path, headers=headers)

    assert response.status_code == case.status, response.text
    if case.body is None:
        assert response.content == b""
    elif case.body == AMBIGUOUS:
        body = response.json()
        # Azure adds a fresh correlation id to this one; its value cannot be in a table.
        assert body == {"statusCode": 400, "message": AMBIGUOUS, "correlationId": body["correlationId"]}
        uuid.UUID(body["correlationId"])
    elif callable(case.body):
        assert response.json() == case.body(lab, f"{lab.url}{path}")
    else:
        assert response.json() == case.body
    assert lab.state.issuer.issued == issued_before, "a refused request must not mint a token"

    text = response.text + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    assert "Traceback" not in text and 'File "' not in text
    assert not JWT_PATTERN.search(text)
    for secret in secrets_of(lab):
        assert secret not in text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert_still_issues(lab, client)


def test_refusals_are_in_the_audit_log_without_a_5xx(lab: Lab) -> None:
    entries = lab.audit("identity")
    assert entries and all(e.status < 500 for e in entries)
    assert {e.status for e in entries} >= {200, 400, 403}
