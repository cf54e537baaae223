"""Azure Resource Manager at ``{lab}/arm``, driven by the real management SDKs over HTTPS: role
assignments and definitions, the OpenAI account's keys and local-auth switch, federated credentials.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.identity import ManagedIdentityCredential, get_bearer_token_provider
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient
from azure.mgmt.msi import ManagedServiceIdentityClient

from conftest import COGNITIVE_SCOPE
from keyless_lab import Lab

OPENAI_USER = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
WRITE = "Microsoft.Authorization/roleAssignments/write"
HELLO = [{"role": "user", "content": "Hi"}]
GITHUB = "https://token.actions.githubusercontent.com"
EXCHANGE = "api://AzureADTokenExchange"
ASSIGNMENT_KEYS = {
    "roleDefinitionId",
    "principalId",
    "principalType",
    "scope",
    "condition",
    "conditionVersion",
    "createdOn",
    "updatedOn",
    "createdBy",
    "updatedBy",
    "delegatedManagedIdentityResourceId",
    "description",
}
PRINCIPAL_NOT_FOUND = (
    "Principal {pid} does not exist in the directory {tenant}. Check that you have the correct principal ID. If you "
    "are creating this principal and then immediately assigning a role, this error might be related to a "
    "replication delay. In this case, set the role assignment principalType property to a value, such as "
    "ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype"
)


@pytest.fixture(scope="module")
def shared_lab() -> Iterator[Lab]:
    """One lab for the tables whose rows change nothing another row reads."""
    with Lab() as running:
        yield running


@pytest.fixture
def shared_env(shared_lab: Lab) -> Iterator[Lab]:
    with shared_lab.environment():
        yield shared_lab


class LabSignIn:
    """A signed-in principal's tokens, straight from the lab's issuer (what ``az login`` would hold)."""

    def __init__(self, lab: Lab, principal: str) -> None:
        self._lab = lab
        self._principal = lab.state.directory.principals[principal]

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        audience = scopes[0].removesuffix(".default")
        issued = self._lab.state.issuer.issue(self._principal, audience)
        return AccessToken(issued.token, issued.expires_on)


def authorization(lab: Lab, who: str = "learner") -> AuthorizationManagementClient:
    return AuthorizationManagementClient(
        LabSignIn(lab, who), lab.state.directory.subscription_id, base_url=os.environ["AZURE_RESOURCE_MANAGER_ENDPOINT"]
    )


def cognitive(lab: Lab, who: str = "learner") -> CognitiveServicesManagementClient:
    return CognitiveServicesManagementClient(
        LabSignIn(lab, who), lab.state.directory.subscription_id, base_url=os.environ["AZURE_RESOURCE_MANAGER_ENDPOINT"]
    )


def identities(lab: Lab, who: str = "learner") -> ManagedServiceIdentityClient:
    return ManagedServiceIdentityClient(
        LabSignIn(lab, who), lab.state.directory.subscription_id, base_url=os.environ["AZURE_RESOURCE_MANAGER_ENDPOINT"]
    )


def role_id(lab: Lab, guid: str) -> str:
    return (
        f"/subscriptions/{lab.state.directory.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    )


def assignment(lab: Lab, principal: str, role: str = OPENAI_USER, principal_type: str | None = "User") -> dict:
    body = {"role_definition_id": role_id(lab, role), "principal_id": principal}
    if principal_type:
        body["principal_type"] = principal_type
    return body


def chat(lab: Lab, **auth: object) -> openai.types.chat.ChatCompletion:
    client = openai.AzureOpenAI(
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        api_version=os.environ["AZURE_OPENAI_API_VERSION"],
        max_retries=0,
        **auth,
    )
    return client.chat.completions.create(model=os.environ["AZURE_OPENAI_CHAT_DEPLOYMENT"], messages=HELLO)


def denied_message(client: str, object_id: str, action: str, scope: str) -> str:
    return (
        f"The client '{client}' with object id '{object_id}' does not have authorization to perform action "
        f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh "
        "your credentials."
    )


def arm_get(lab: Lab, path: str, token: str | None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    headers.update(kwargs.pop("headers", {}))
    method = kwargs.pop("method", "GET")
    return requests.request(
        method, f"{lab.url}/arm{path}", headers=headers, verify=str(lab.ca_bundle), timeout=10, **kwargs
    )


def management_token(lab: Lab, who: str = "learner", **claims: Any) -> str:
    state = lab.state
    issued = state.issuer.claims_for(state.directory.principals[who], "https://management.azure.com/")
    return state.issuer.sign({**issued, **claims})


# --- role assignments --------------------------------------------------------------------


def test_owner_grants_openai_user_and_the_data_plane_follows_at_once(lab_env: Lab) -> None:
    d = lab_env.state.directory
    learner = LabSignIn(lab_env, "learner")
    provider = get_bearer_token_provider(learner, COGNITIVE_SCOPE)
    with pytest.raises(openai.AuthenticationError) as before:
        chat(lab_env, azure_ad_token_provider=provider)
    assert before.value.status_code == 401 and before.value.body["code"] == "PermissionDenied"

    name = str(uuid.uuid4())
    created = authorization(lab_env).role_assignments.create(
        d.resource_group_scope, name, assignment(lab_env, d.learner.object_id)
    )
    assert (created.name, created.scope, created.principal_id) == (name, d.resource_group_scope, d.learner.object_id)
    assert created.role_definition_id == role_id(lab_env, OPENAI_USER)
    assert created.type == "Microsoft.Authorization/roleAssignments"
    assert created.id == f"{d.resource_group_scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert created.created_by is None and created.updated_by == d.learner.object_id

    assert chat(lab_env, azure_ad_token_provider=provider).choices[0].message.content

    with pytest.raises(ResourceExistsError) as duplicate:  # same principal, role and scope, another name
        authorization(lab_env).role_assignments.create(
            d.resource_group_scope.upper(), str(uuid.uuid4()), assignment(lab_env, d.learner.object_id)
        )
    assert duplicate.value.status_code == 409
    assert (duplicate.value.error.code, duplicate.value.error.message) == (
        "RoleAssignmentExists",
        "The role assignment already exists.",
    )
    # The same name again, as a redeployed template with guid() names sends it: done, not a duplicate.
    again = authorization(lab_env).role_assignments.create(
        d.resource_group_scope, name, assignment(lab_env, d.learner.object_id)
    )
    assert (again.name, again.principal_id) == (name, d.learner.object_id)
    assert len([a for a in lab_env.state.rbac.assignments() if a.name == name]) == 1


def test_managed_identity_without_a_role_cannot_assign_one(lab_env: Lab) -> None:
    d = lab_env.state.directory
    base_url = os.environ["AZURE_RESOURCE_MANAGER_ENDPOINT"]
    app = d.principals["chat-app"]
    name = str(uuid.uuid4())
    with lab_env.hosted("chat-app"):
        client = AuthorizationManagementClient(ManagedIdentityCredential(), d.subscription_id, base_url=base_url)
        with pytest.raises(HttpResponseError) as denied:
            client.role_assignments.create(
                d.account_scope, name, assignment(lab_env, app.object_id, principal_type=None)
            )
    assert denied.value.status_code == 403
    assert denied.value.error.code == "AuthorizationFailed"
    scope = f"{d.account_scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert denied.value.error.message == denied_message(app.object_id, app.object_id, WRITE, scope)
    assert not [a for a in lab_env.state.rbac.assignments() if a.principal_id == app.object_id]
    entry = lab_env.audit("arm")[-1]
    assert (entry.caller, entry.caller_id, entry.status) == ("chat-app", app.object_id, 403)


def test_a_user_without_a_role_is_named_by_upn(lab_env: Lab) -> None:
    d = lab_env.state.directory
    name = str(uuid.uuid4())
    with pytest.raises(HttpResponseError) as denied:
        authorization(lab_env, "teammate").role_assignments.create(
            d.resource_group_scope, name, assignment(lab_env, d.teammate.object_id)
        )
    scope = f"{d.resource_group_scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert denied.value.status_code == 403
    assert denied.value.error.message == denied_message(d.teammate.upn, d.teammate.object_id, WRITE, scope)


def test_list_get_and_delete_with_scope_inheritance(lab_env: Lab) -> None:
    d = lab_env.state.directory
    client = authorization(lab_env).role_assignments
    name = str(uuid.uuid4())
    client.create(d.account_scope, name, assignment(lab_env, d.teammate.object_id))

    at_group = {a.name for a in client.list_for_scope(d.resource_group_scope)}
    only_at_or_above = {a.name for a in client.list_for_scope(d.resource_group_scope, filter="atScope()")}
    for_teammate = list(client.list_for_scope(d.account_scope, filter=f"principalId eq '{d.teammate.object_id}'"))
    owner = next(a.name for a in lab_env.state.rbac.assignments() if a.role_definition_id == OWNER)
    assert at_group == {owner, name}  # the Owner assignment above, the new one below
    assert only_at_or_above == {owner}
    assert [a.name for a in for_teammate] == [name]

    raw = arm_get(
        lab_env,
        f"{d.account_scope.lower()}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01",
        management_token(lab_env),
    )
    assert raw.status_code == 200 and raw.headers["x-ms-request-id"] and raw.headers["x-ms-correlation-request-id"]
    body = raw.json()
    assert set(body) == {"id", "name", "type", "properties"} and set(body["properties"]) == ASSIGNMENT_KEYS
    assert body["properties"]["createdBy"] == d.learner.object_id and body["properties"]["createdOn"].endswith("Z")

    deleted = client.delete(d.account_scope, name)
    assert deleted is not None and deleted.name == name
    assert client.delete(d.account_scope, name) is None  # 204: already gone
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get(d.account_scope, name)
    assert (missing.value.status_code, missing.value.error.code) == (404, "RoleAssignmentNotFound")


def test_listing_for_the_subscription_needs_read_there(lab_env: Lab) -> None:
    d = lab_env.state.directory
    subscription = f"/subscriptions/{d.subscription_id}"
    with pytest.raises(HttpResponseError) as denied:
        list(authorization(lab_env).role_assignments.list_for_subscription())
    assert denied.value.status_code == 403
    assert denied.value.error.message == denied_message(
        d.learner.upn, d.learner.object_id, "Microsoft.Authorization/roleAssignments/read", subscription
    )
    lab_env.state.grant(d.learner.object_id, READER, subscription, "User")
    listed = list(authorization(lab_env).role_assignments.list_for_subscription())
    assert {a.role_definition_id.rsplit("/", 1)[1] for a in listed} == {OWNER, READER}


def test_role_definitions_by_name_and_by_id(lab_env: Lab) -> None:
    d = lab_env.state.directory
    client = authorization(lab_env).role_definitions
    [found] = client.list(d.resource_group_scope, filter="roleName eq 'Cognitive Services OpenAI User'")
    assert (found.name, found.role_type, found.assignable_scopes) == (OPENAI_USER, "BuiltInRole", ["/"])
    assert found.id == role_id(lab_env, OPENAI_USER)
    assert found.permissions[0].data_actions == list(lab_env.state.rbac.definitions[OPENAI_USER].data_actions)
    assert "Microsoft.CognitiveServices/accounts/OpenAI/*/read" in found.permissions[0].data_actions
    owner = client.get_by_id(f"/providers/Microsoft.Authorization/roleDefinitions/{OWNER}")
    assert (owner.role_name, owner.permissions[0].actions, owner.permissions[0].data_actions) == ("Owner", ["*"], [])
    assert client.get(d.account_scope, READER).id == role_id(lab_env, READER)
    unknown = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get(d.resource_group_scope, unknown)
    assert (missing.value.error.code, missing.value.error.message) == (
        "RoleDefinitionDoesNotExist",
        "The specified role definition with ID '88d8e3e38f554a1e953a9b9898b8876b' does not exist.",
    )


GOOD_NAME = "00000000-0000-0000-0000-00000000a001"
UNKNOWN_PRINCIPAL = "11b1042e-d5b6-4f65-b308-d69565f16f1e"


@pytest.mark.parametrize(
    ("name", "role", "principal", "principal_type", "status", "code", "message"),
    [
        pytest.param(
            "not-a-guid", OPENAI_USER, "learner", "User", 400, "InvalidRoleAssignmentId",
            "The role assignment ID 'not-a-guid' is not valid. The role assignment ID must be a GUID.",
            id="assignment-name-not-a-guid",
        ),
        pytest.param(
            GOOD_NAME, "072dd7ad-7dc5-fe96-411f-a4a223b5d3cf|", "learner", "User", 400, "InvalidRoleDefinitionId",
            "The role definition ID '072dd7ad-7dc5-fe96-411f-a4a223b5d3cf|' is not valid.",
            id="role-definition-id-malformed",
        ),
        pytest.param(
            GOOD_NAME, "88d8e3e3-8f55-4a1e-953a-9b9898b8876b", "learner", "User", 400, "RoleDefinitionDoesNotExist",
            "The specified role definition with ID '88d8e3e38f554a1e953a9b9898b8876b' does not exist.",
            id="role-definition-unknown",
        ),
        pytest.param(
            GOOD_NAME, OPENAI_USER, "/servicePrincipals/7f8b31f8-a448-4a4b-9a79-ea375ea2adcb", "User", 400,
            "InvalidPrincipalId",
            "The Principal ID '/servicePrincipals/7f8b31f8-a448-4a4b-9a79-ea375ea2adcb' is not valid. "
            "Principal ID must be a GUID.",
            id="principal-id-not-a-guid",
        ),
        pytest.param(
            GOOD_NAME, OPENAI_USER, UNKNOWN_PRINCIPAL, None, 400, "PrincipalNotFound", PRINCIPAL_NOT_FOUND,
            id="principal-unknown-without-type",
        ),
        pytest.param(
            GOOD_NAME, OPENAI_USER, UNKNOWN_PRINCIPAL, "ServicePrincipal", 201, None, None,
            id="principal-unknown-with-type-accepted",
        ),
    ],
)  # fmt: skip
def test_create_rejects_bad_input(
    shared_env: Lab,
    name: str,
    role: str,
    principal: str,
    principal_type: str | None,
    status: int,
    code: str | None,
    message: str | None,
) -> None:
    d = shared_env.state.directory
    principal_id = d.principals[principal].object_id if principal in d.principals else principal
    body = {"role_definition_id": role_id(shared_env, role), "principal_id": principal_id}
    if principal_type:
        body["principal_type"] = principal_type
    client = authorization(shared_env).role_assignments
    if code is None:
        created = client.create(d.resource_group_scope, name, body)
        assert (created.principal_id, created.principal_type) == (principal_id, principal_type)
        return
    with pytest.raises(HttpResponseError) as err:
        client.create(d.resource_group_scope, name, body)
    expected = message.format(pid=UNKNOWN_PRINCIPAL.replace("-", ""), tenant=d.tenant_id) if message else None
    assert (err.value.status_code, err.value.error.code, err.value.error.message) == (status, code, expected)


# --- the OpenAI account --------------------------------------------------------------------


def test_account_shows_endpoint_identity_and_local_auth(lab_env: Lab) -> None:
    d = lab_env.state.directory
    account = cognitive(lab_env).accounts.get(d.resource_group, d.account_name)
    assert (account.kind, account.sku.name, account.identity.type) == ("OpenAI", "S0", "SystemAssigned")
    assert account.identity.principal_id and account.id == d.account_scope
    assert account.properties.endpoint == lab_env.url + "/"
    assert account.properties.disable_local_auth is False
    assert account.properties.provisioning_state == "Succeeded"
    assert [x.name for x in cognitive(lab_env).deployments.list(d.resource_group, d.account_name)] == [
        "chat",
        "embeddings",
    ]
    with pytest.raises(ResourceNotFoundError) as missing:
        cognitive(lab_env).accounts.get(d.resource_group, "x")
    assert missing.value.error.message == (
        "The Resource 'Microsoft.CognitiveServices/accounts/x' under resource group 'rg-keyless-lab' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix"
    )


def test_disabling_local_auth_turns_keys_off(lab_env: Lab) -> None:
    d = lab_env.state.directory
    accounts = cognitive(lab_env).accounts
    key = accounts.list_keys(d.resource_group, d.account_name).key1
    assert chat(lab_env, api_key=key).choices[0].message.content
    updated = accounts.begin_update(d.resource_group, d.account_name, {"properties": {"disable_local_auth": True}})
    assert updated.result().properties.disable_local_auth is True
    with pytest.raises(openai.PermissionDeniedError) as refused:
        chat(lab_env, api_key=key)
    assert refused.value.status_code == 403
    assert refused.value.body == {
        "code": "AuthenticationTypeDisabled",
        "message": "Key based authentication is disabled for this resource.",
    }
    with pytest.raises(HttpResponseError) as no_keys:
        accounts.list_keys(d.resource_group, d.account_name)
    assert (no_keys.value.status_code, no_keys.value.error.code, no_keys.value.error.message) == (
        400,
        "BadRequest",
        "Failed to list key. disableLocalAuth is set to be true",
    )


def test_regenerating_key1_breaks_its_holders_only(lab_env: Lab) -> None:
    d = lab_env.state.directory
    accounts = cognitive(lab_env).accounts
    before = accounts.list_keys(d.resource_group, d.account_name)
    after = accounts.regenerate_key(d.resource_group, d.account_name, "Key1")
    assert after.key1 != before.key1 and after.key2 == before.key2 and len(after.key1) == 32
    with pytest.raises(openai.AuthenticationError) as old:
        chat(lab_env, api_key=before.key1)
    assert old.value.status_code == 401 and old.value.body["code"] == "401"
    assert chat(lab_env, api_key=before.key2).choices[0].message.content
    assert chat(lab_env, api_key=after.key1).choices[0].message.content


def test_list_keys_needs_the_list_keys_action(lab_env: Lab) -> None:
    """The data role *Cognitive Services OpenAI User* can call the model but not read its keys."""
    d = lab_env.state.directory
    lab_env.grant_openai_user("teammate")
    with pytest.raises(HttpResponseError) as denied:
        cognitive(lab_env, "teammate").accounts.list_keys(d.resource_group, d.account_name)
    assert denied.value.status_code == 403
    assert denied.value.error.message == denied_message(
        d.teammate.upn, d.teammate.object_id, "Microsoft.CognitiveServices/accounts/listKeys/action", d.account_scope
    )


# --- user-assigned identities and federated credentials ------------------------------------


def test_federated_credentials_create_list_get_delete(lab_env: Lab) -> None:
    d = lab_env.state.directory
    aca = d.principals["id-chat-aca"]
    client = identities(lab_env)
    identity = client.user_assigned_identities.get(d.resource_group, "id-chat-aca")
    assert (identity.principal_id, identity.client_id, identity.tenant_id) == (
        aca.object_id,
        aca.client_id,
        d.tenant_id,
    )

    fics = client.federated_identity_credentials
    main = {"issuer": GITHUB, "subject": "repo:contoso/chat:ref:refs/heads/main", "audiences": [EXCHANGE]}
    created = fics.create_or_update(d.resource_group, "id-chat-aca", "github-main", main)
    assert (created.name, created.subject, created.audiences) == ("github-main", main["subject"], [EXCHANGE])
    assert created.id == f"{aca.resource_id}/federatedIdentityCredentials/github-main"
    assert lab_env.state.federated_credentials[aca.object_id] == [{"name": "github-main", **main}]
    assert [f.name for f in fics.list(d.resource_group, "id-chat-aca")] == ["github-main"]
    assert fics.get(d.resource_group, "id-chat-aca", "github-main").issuer == GITHUB

    with pytest.raises(HttpResponseError) as duplicate:
        fics.create_or_update(d.resource_group, "id-chat-aca", "github-copy", main)
    assert (duplicate.value.status_code, duplicate.value.error.message) == (
        400,
        "Issuer and subject combination already exists for this Managed Identity.",
    )
    with pytest.raises(HttpResponseError) as incomplete:
        fics.create_or_update(
            d.resource_group, "id-chat-aca", "no-subject", {"issuer": GITHUB, "audiences": [EXCHANGE]}
        )
    assert (incomplete.value.status_code, incomplete.value.error.code, incomplete.value.error.message) == (
        400,
        "BadRequest",
        "The request format was unexpected. Federated Identity Credential must specify 'issuer', 'subject' and "
        "'audience'.",
    )

    fics.delete(d.resource_group, "id-chat-aca", "github-main")
    assert list(fics.list(d.resource_group, "id-chat-aca")) == []
    assert aca.object_id not in lab_env.state.federated_credentials
    with pytest.raises(ResourceNotFoundError):
        fics.get(d.resource_group, "id-chat-aca", "github-main")


# --- faults and retries --------------------------------------------------------------------


@pytest.mark.parametrize(("status", "count", "minimum_seconds"), [(429, 1, 1.0), (500, 1, 0.0), (503, 1, 0.0)])
def test_sdk_retries_recover_from_injected_faults(
    lab_env: Lab, status: int, count: int, minimum_seconds: float
) -> None:
    d = lab_env.state.directory
    accounts = cognitive(lab_env).accounts
    since = time.time()
    lab_env.faults("arm", status, count, retry_after=1)
    started = time.perf_counter()
    assert accounts.get(d.resource_group, d.account_name).name == d.account_name
    assert time.perf_counter() - started >= minimum_seconds  # a 429's Retry-After is honoured
    assert [e.status for e in lab_env.audit("arm", since=since)] == [status] * count + [200]
    assert lab_env.state.faults.pending() == 0


# --- the wire: tokens, bodies, paths -------------------------------------------------------


def _wire_cases(lab: Lab) -> dict[str, tuple[str, str | None, dict[str, Any]]]:
    d = lab.state.directory
    rg = d.resource_group_scope
    foreign = lab.state.issuer.issue(d.learner, "https://management.azure.com/", tenant_id=d.foreign_tenant_id).token
    cognitive_token = lab.state.issuer.issue(d.learner, "https://cognitiveservices.azure.com").token
    put = {"method": "PUT", "data": b"{not json", "headers": {"Content-Type": "application/json"}}
    return {
        "no-token": (f"{rg}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", None, {}),
        "garbage": (f"{rg}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", "abc.def", {}),
        "expired": (
            f"{rg}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01",
            management_token(lab, exp=1_600_000_000, nbf=1_599_990_000, iat=1_599_990_000),
            {},
        ),
        "audience": (
            f"{rg}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01",
            cognitive_token,
            {},
        ),
        "tenant": (f"{rg}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", foreign, {}),
        "bad-json": (
            f"{rg}/providers/Microsoft.Authorization/roleAssignments/{GOOD_NAME}?api-version=2022-04-01",
            management_token(lab),
            put,
        ),
        "no-api-version": (f"{rg}/providers/Microsoft.Authorization/roleAssignments", management_token(lab), {}),
        "unknown-type": (
            f"{rg}/providers/Microsoft.Web/sites/chat-app?api-version=2023-01-01",
            management_token(lab),
            {},
        ),
        "unknown-group": (
            f"/subscriptions/{d.subscription_id}/resourceGroups/rg-other/providers/Microsoft.CognitiveServices/"
            "accounts/x?api-version=2025-09-01",
            management_token(lab),
            {},
        ),
    }


@pytest.mark.parametrize(
    ("case", "status", "code", "message"),
    [
        ("no-token", 401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."),
        ("garbage", 401, "InvalidAuthenticationToken", "The access token is invalid."),
        ("expired", 401, "ExpiredAuthenticationToken", "The access token expiry UTC time '9/13/2020 12:26:40 PM' is"),
        ("audience", 401, "InvalidAuthenticationTokenAudience",
         "The access token has been obtained for wrong audience or resource 'https://cognitiveservices.azure.com'."),
        ("tenant", 401, "InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer 'https://sts."),
        ("bad-json", 400, "InvalidRequestContent", "The request content was invalid and could not be deserialized: '"),
        ("no-api-version", 400, "MissingApiVersionParameter",
         "The api-version query parameter (?api-version=) is required for all requests."),
        ("unknown-type", 404, "InvalidResourceType",
         "The resource type could not be found in the namespace 'Microsoft.Web' for api version '2023-01-01'."),
        ("unknown-group", 404, "ResourceGroupNotFound", "Resource group 'rg-other' could not be found."),
    ],
)  # fmt: skip
def test_arm_answers_bad_requests_in_its_own_shape(
    shared_lab: Lab, case: str, status: int, code: str, message: str
) -> None:
    lab = shared_lab
    path, token, kwargs = _wire_cases(lab)[case]
    response = arm_get(lab, path, token, **kwargs)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"].startswith(message)
    assert response.headers["x-ms-request-id"] and response.headers["x-ms-correlation-request-id"]
    assert lab.audit("arm")[-1].status == status
