"""The App Service / Container Apps identity endpoint, through the real ``azure-identity`` credentials."""

from __future__ import annotations

import os

import jwt
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import CredentialUnavailableError, DefaultAzureCredential, ManagedIdentityCredential

from conftest import COGNITIVE_SCOPE
from keyless_lab import Lab


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_system_assigned_identity_on_app_service(lab: Lab) -> None:
    app = lab.principal("chat-app")
    with lab.hosted("chat-app"):
        token = ManagedIdentityCredential().get_token(COGNITIVE_SCOPE)
        via_default = DefaultAzureCredential().get_token(COGNITIVE_SCOPE)
    assert claims(token.token)["oid"] == app["object_id"]
    assert claims(token.token)["aud"] == "https://cognitiveservices.azure.com"
    assert claims(via_default.token)["oid"] == app["object_id"]
    assert [(e.caller, e.status) for e in lab.audit("identity")] == [("chat-app (chat-app)", 200)] * 2


def test_user_assigned_identities_need_a_client_id(lab: Lab) -> None:
    chosen = lab.principal("id-chat-aca")
    other = lab.principal("id-chat-aca-jobs")
    with lab.hosted("chat-aca"):
        with pytest.raises((CredentialUnavailableError, ClientAuthenticationError)) as ambiguous:
            ManagedIdentityCredential().get_token(COGNITIVE_SCOPE)
        by_client_id = ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"]).get_token(COGNITIVE_SCOPE)
        by_other = ManagedIdentityCredential(client_id=other["client_id"]).get_token(COGNITIVE_SCOPE)
        by_default = DefaultAzureCredential().get_token(COGNITIVE_SCOPE)  # reads AZURE_CLIENT_ID
    assert "Unable to load the proper Managed Identity." in str(ambiguous.value)
    assert claims(by_client_id.token)["oid"] == chosen["object_id"]
    assert claims(by_client_id.token)["xms_mirid"].endswith("/userAssignedIdentities/id-chat-aca")
    assert claims(by_other.token)["oid"] == other["object_id"]
    assert claims(by_default.token)["oid"] == chosen["object_id"]


def test_identity_of_another_host_is_not_found(lab: Lab) -> None:
    with lab.hosted("chat-app"):
        aca_client_id = lab.principal("id-chat-aca")["client_id"]
        with pytest.raises((CredentialUnavailableError, ClientAuthenticationError)) as missing:
            ManagedIdentityCredential(client_id=aca_client_id).get_token(COGNITIVE_SCOPE)
    assert "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId." in str(
        missing.value
    )


# One row per answer of the endpoint: query, header, expected status and body.
PROTOCOL = {
    "token": ({"resource": "https://cognitiveservices.azure.com"}, "right", 200, None),
    "missing header": ({"resource": "https://cognitiveservices.azure.com"}, None, 403, b""),
    "wrong header": ({"resource": "https://cognitiveservices.azure.com"}, "wrong", 403, b""),
    "old api-version": ({"resource": "x", "api-version": "2017-09-01"}, "right", 400, "UnsupportedApiVersion"),
    "unknown client_id": (
        {"resource": "x", "client_id": "00000000-0000-0000-0000-000000000000"},
        "right",
        400,
        {
            "statusCode": 400,
            "message": "No User Assigned or Delegated Managed Identity found for specified "
            "ClientId/ResourceId/PrincipalId.",
        },
    ),
}


@pytest.mark.parametrize("case", list(PROTOCOL))
def test_endpoint_protocol(lab: Lab, case: str) -> None:
    query, header, status, body = PROTOCOL[case]
    headers = {}
    if header == "right":
        headers["X-IDENTITY-HEADER"] = lab.state.host_secrets["chat-app"]
    elif header == "wrong":
        headers["X-IDENTITY-HEADER"] = "0" * 32
    params = {"api-version": "2019-08-01", **query}
    response = requests.get(f"{lab.url}/msi/token", params=params, headers=headers, verify=lab.ca_bundle, timeout=5)
    assert response.status_code == status
    if status == 200:
        payload = response.json()
        assert set(payload) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
        assert isinstance(payload["expires_on"], str) and payload["token_type"] == "Bearer"
    elif isinstance(body, bytes):
        assert response.content == body
    elif isinstance(body, str):
        assert response.json()["error"]["code"] == body
    else:
        assert response.json() == body
