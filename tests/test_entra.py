"""Entra ID's token service at the lab's authority host: the refresh-token grant, its errors in Entra's
JSON shape, OIDC discovery and JWKS, Graph ``/me``, and the lab's admin sign-in, over real HTTPS.
"""

from __future__ import annotations

import re
from typing import Any

import jwt
import msal
import pytest
import requests

from keyless_lab import Lab

CLI_APP = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
COGNITIVE = "https://cognitiveservices.azure.com"
ERROR_KEYS = ["error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"]
TRAILER = re.compile(
    r" Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$"
)


def sign_in(lab: Lab, user: str = "learner") -> str:
    answer = requests.post(
        f"{lab.url}/lab/cli/login",
        json={"user": user},
        headers={"x-lab-admin-secret": lab.state.admin_secret},
        verify=str(lab.ca_bundle),
    )
    assert answer.status_code == 200
    return answer.json()["refresh_token"]


def token_call(lab: Lab, form: dict[str, str], tenant: str | None = None, path: str = "oauth2/v2.0/token") -> Any:
    tenant = tenant or lab.state.directory.tenant_id
    return requests.post(f"{lab.url}/{tenant}/{path}", data=form, verify=str(lab.ca_bundle))


def test_refresh_token_grant_returns_a_token_for_the_signed_in_user(lab: Lab) -> None:
    refresh = sign_in(lab)
    answer = token_call(
        lab,
        {
            "client_id": CLI_APP,
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "scope": f"{COGNITIVE}/.default offline_access openid profile",
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert sorted(body) == sorted(
        ["token_type", "scope", "expires_in", "ext_expires_in", "access_token", "refresh_token"]
    )
    assert body["token_type"] == "Bearer"
    assert body["scope"] == f"{COGNITIVE}/user_impersonation"
    assert 3500 <= body["expires_in"] <= 5400
    assert body["refresh_token"] != refresh  # rotated, as Entra does
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    learner = lab.state.directory.learner
    assert (claims["aud"], claims["oid"], claims["upn"], claims["appid"]) == (
        COGNITIVE,
        learner.object_id,
        learner.upn,
        CLI_APP,
    )
    entries = lab.audit("entra")
    assert [(e.caller, e.caller_id, e.status) for e in entries] == [("Ada Learner", learner.object_id, 200)]
    assert refresh not in repr(entries) and body["refresh_token"] not in repr(entries)


def test_v1_endpoint_takes_a_resource_and_answers_in_strings(lab: Lab) -> None:
    refresh = sign_in(lab, "teammate")
    form = {"client_id": CLI_APP, "grant_type": "refresh_token", "refresh_token": refresh, "resource": COGNITIVE}
    body = token_call(lab, form, "organizations", "oauth2/token").json()
    assert body["resource"] == COGNITIVE
    assert isinstance(body["expires_in"], str) and isinstance(body["expires_on"], str)
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["oid"] == lab.state.directory.teammate.object_id


@pytest.mark.parametrize(
    ("form", "tenant", "error", "code", "text"),
    [
        (
            {
                "client_id": CLI_APP,
                "grant_type": "refresh_token",
                "refresh_token": "not-a-real-one",
                "scope": "x/.default",
            },
            None,
            "invalid_grant",
            70000,
            "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.",
        ),
        (
            {"client_id": CLI_APP, "scope": f"{COGNITIVE}/.default"},
            None,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
        (
            {"client_id": CLI_APP, "grant_type": "password", "scope": f"{COGNITIVE}/.default"},
            None,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type 'password'.",
        ),
        (
            {"client_id": CLI_APP, "grant_type": "refresh_token", "refresh_token": "x"},
            None,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        ),
        (
            {"client_id": CLI_APP, "grant_type": "refresh_token", "refresh_token": "x", "scope": "y/.default"},
            "contoso.example",
            "invalid_tenant",
            90002,
            "Tenant 'contoso.example' not found. Check to make sure you have the correct tenant ID and are signing "
            "into the correct cloud. Check with your subscription administrator, this may happen if there are no "
            "active subscriptions for the tenant.",
        ),
    ],
    ids=["unknown-refresh-token", "no-grant-type", "unsupported-grant", "no-scope", "unknown-tenant"],
)
def test_token_errors_have_entras_shape_and_codes(
    lab: Lab, form: dict[str, str], tenant: str | None, error: str, code: int, text: str
) -> None:
    answer = token_call(lab, form, tenant)
    assert answer.status_code == 400
    body = answer.json()
    assert list(body) == ERROR_KEYS
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: {text} Trace ID: ")
    assert TRAILER.search(body["error_description"])
    assert body["trace_id"] in body["error_description"] and body["correlation_id"] in body["error_description"]
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    assert [e.status for e in lab.audit("entra")] == [400]


def test_refresh_token_for_another_client_is_refused(lab: Lab) -> None:
    form = {
        "client_id": "11111111-2222-3333-4444-555555555555",
        "grant_type": "refresh_token",
        "refresh_token": sign_in(lab),
        "scope": f"{COGNITIVE}/.default",
    }
    assert token_call(lab, form).json()["error_codes"] == [70000]


@pytest.mark.parametrize(
    ("path", "issuer", "token_endpoint", "jwks"),
    [
        (
            "{tid}/v2.0/.well-known/openid-configuration",
            "https://login.microsoftonline.com/{tid}/v2.0",
            "{tid}/oauth2/v2.0/token",
            "{tid}/discovery/v2.0/keys",
        ),
        (
            "{tid}/.well-known/openid-configuration",
            "https://sts.windows.net/{tid}/",
            "{tid}/oauth2/token",
            "{tid}/discovery/keys",
        ),
        (
            "common/v2.0/.well-known/openid-configuration",
            "https://login.microsoftonline.com/{{tenantid}}/v2.0",
            "common/oauth2/v2.0/token",
            "common/discovery/v2.0/keys",
        ),
    ],
    ids=["v2", "v1", "common"],
)
def test_discovery_documents_point_at_the_lab(lab: Lab, path: str, issuer: str, token_endpoint: str, jwks: str) -> None:
    tid = lab.state.directory.tenant_id
    doc = requests.get(f"{lab.url}/{path.format(tid=tid)}", verify=str(lab.ca_bundle)).json()
    assert doc["issuer"] == issuer.format(tid=tid)
    assert doc["token_endpoint"] == f"{lab.url}/{token_endpoint.format(tid=tid)}"
    assert doc["jwks_uri"] == f"{lab.url}/{jwks.format(tid=tid)}"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


def test_discovery_of_an_unknown_tenant_is_aadsts90002(lab: Lab) -> None:
    answer = requests.get(f"{lab.url}/nowhere/v2.0/.well-known/openid-configuration", verify=str(lab.ca_bundle))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_tenant" and answer.json()["error_codes"] == [90002]


@pytest.mark.parametrize("path", ["common/discovery/keys", "{tid}/discovery/v2.0/keys"])
def test_jwks_verifies_a_lab_token(lab: Lab, path: str) -> None:
    keys = requests.get(f"{lab.url}/{path.format(tid=lab.state.directory.tenant_id)}", verify=str(lab.ca_bundle))
    token = lab.state.issuer.issue(lab.state.directory.learner, COGNITIVE).token
    key = jwt.PyJWKSet.from_dict(keys.json())[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=COGNITIVE)
    assert claims["oid"] == lab.state.directory.learner.object_id
    other = Lab()
    try:
        foreign = other.state.issuer.issue(other.state.directory.learner, COGNITIVE).token
    finally:
        other.stop()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(foreign, key.key, algorithms=["RS256"], audience=COGNITIVE)


def test_msal_validates_the_authority_and_redeems_a_refresh_token(lab_env: Lab) -> None:
    """MSAL itself: instance discovery and OIDC discovery at the lab, then the refresh-token grant."""
    tid = lab_env.state.directory.tenant_id
    app = msal.PublicClientApplication(
        CLI_APP, authority=f"{lab_env.url}/{tid}", instance_discovery=f"{lab_env.url}/common/discovery/instance"
    )
    result = app.acquire_token_by_refresh_token(sign_in(lab_env), [f"{COGNITIVE}/.default"])
    assert "error" not in result, result.get("error_description")
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["oid"] == lab_env.state.directory.learner.object_id
    operations = [e.operation.split(" ", 1)[1] for e in lab_env.audit("entra")]
    assert operations == [
        "/common/discovery/instance",
        f"/{tid}/v2.0/.well-known/openid-configuration",
        f"/{tid}/oauth2/v2.0/token",
    ]


def test_graph_me_is_the_users_directory_entry(lab: Lab) -> None:
    learner = lab.state.directory.learner
    graph = lab.state.issuer.issue(learner, "https://graph.microsoft.com/").token
    me = requests.get(
        f"{lab.url}/graph/v1.0/me", headers={"Authorization": f"Bearer {graph}"}, verify=str(lab.ca_bundle)
    )
    assert me.status_code == 200
    assert me.json()["id"] == learner.object_id and me.json()["userPrincipalName"] == learner.upn
    arm = lab.state.issuer.issue(learner, "https://management.azure.com/").token
    wrong = requests.get(
        f"{lab.url}/graph/v1.0/me", headers={"Authorization": f"Bearer {arm}"}, verify=str(lab.ca_bundle)
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "InvalidAuthenticationToken"
    app = lab.state.issuer.issue(lab.state.directory.principals["chat-app"], "https://graph.microsoft.com/").token
    refused = requests.get(
        f"{lab.url}/graph/v1.0/me", headers={"Authorization": f"Bearer {app}"}, verify=str(lab.ca_bundle)
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "/me request is only valid with delegated authentication flow."


@pytest.mark.parametrize(
    ("secret", "body", "status", "message"),
    [
        (None, {"user": "learner"}, 401, "The x-lab-admin-secret header is missing or does not match this lab."),
        ("wrong", {"user": "learner"}, 401, "The x-lab-admin-secret header is missing or does not match this lab."),
        ("right", {"user": "chat-app"}, 400, "'user' must be one of: learner, teammate."),
    ],
    ids=["no-secret", "wrong-secret", "not-a-user"],
)
def test_admin_sign_in_is_protected(
    lab: Lab, secret: str | None, body: dict[str, str], status: int, message: str
) -> None:
    headers = {} if secret is None else {"x-lab-admin-secret": lab.state.admin_secret if secret == "right" else secret}
    answer = requests.post(f"{lab.url}/lab/cli/login", json=body, headers=headers, verify=str(lab.ca_bundle))
    assert answer.status_code == status
    assert answer.json()["error"]["message"] == message
    assert [(e.surface, e.status) for e in lab.audit("lab")] == [("lab", status)]
    assert lab.state.refresh_tokens == {}


def test_lab_state_lists_principals_and_assignments_without_secrets(lab: Lab) -> None:
    headers = {"x-lab-admin-secret": lab.state.admin_secret}
    facts = requests.get(f"{lab.url}/lab/state", headers=headers, verify=str(lab.ca_bundle)).json()
    assert {p["key"] for p in facts["principals"]} == {
        "learner",
        "teammate",
        "chat-app",
        "id-chat-aca",
        "id-chat-aca-jobs",
    }
    assert facts["roleAssignments"][0]["role"] == "Owner"
    assert facts["disableLocalAuth"] is False
    text = repr(facts)
    assert lab.state.admin_secret not in text
    assert all(key not in text for key in lab.state.account.keys().values())
