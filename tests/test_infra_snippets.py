"""The Bicep that the notebooks show from infra/, checked verbatim so that no lesson cites a line
that is no longer there.

Snippets notebooks may cite (file under infra/ — exact text):

  core/security/role.bicep
    resource role 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
      name: guid(subscription().id, resourceGroup().id, principalId, roleDefinitionId)
    principalType: principalType
    roleDefinitionId: resourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
  main.bicep
    cognitiveServicesOpenAiUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
    principalId: web.outputs.identityPrincipalId            (App Service identity gets the role)
    principalId: acaIdentity.outputs.principalId            (Container App identity gets the role)
    principalType: 'ServicePrincipal'
    subject: 'repo:${githubRepository}:environment:${githubEnvironment}'
  core/ai/openai.bicep
    disableLocalAuth: true
    customSubDomainName: customSubDomainName
  core/host/appservice.bicep
    resource appService 'Microsoft.Web/sites@2024-04-01' = {
    identity: {  type: 'SystemAssigned'  }                   (the block, see IDENTITY_BLOCKS)
    output identityPrincipalId string = appService.identity.principalId
  core/security/managed-identity.bicep
    resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  core/host/container-app.bicep
    type: 'UserAssigned'
    '${userIdentity.id}': {}
    name: 'AZURE_CLIENT_ID'
    value: userIdentity.properties.clientId
    identity: userIdentity.id                                (registry pull with the same identity)
  core/security/federated-credential.bicep
    resource federatedCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/
      federatedIdentityCredentials@2023-01-31' = {            (one line in the file)
    param issuer string = 'https://token.actions.githubusercontent.com'
    'api://AzureADTokenExchange'

A whole resource can be shown from its file with `resource_block(text, "role")` as defined below:
from the line `resource role ` to the first line that is exactly `}`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[1] / "infra"

SNIPPETS = [
    ("core/security/role.bicep", "resource role 'Microsoft.Authorization/roleAssignments@2022-04-01' = {"),
    (
        "core/security/role.bicep",
        "\n  name: guid(subscription().id, resourceGroup().id, principalId, roleDefinitionId)\n",
    ),
    ("core/security/role.bicep", "principalType: principalType"),
    (
        "core/security/role.bicep",
        "roleDefinitionId: resourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)",
    ),
    ("main.bicep", "cognitiveServicesOpenAiUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'"),
    ("main.bicep", "principalId: web.outputs.identityPrincipalId"),
    ("main.bicep", "principalId: acaIdentity.outputs.principalId"),
    ("main.bicep", "principalType: 'ServicePrincipal'"),
    ("main.bicep", "subject: 'repo:${githubRepository}:environment:${githubEnvironment}'"),
    ("core/ai/openai.bicep", "disableLocalAuth: true"),
    ("core/ai/openai.bicep", "customSubDomainName: customSubDomainName"),
    ("core/host/appservice.bicep", "resource appService 'Microsoft.Web/sites@2024-04-01' = {"),
    ("core/host/appservice.bicep", "identity: {"),
    ("core/host/appservice.bicep", "type: 'SystemAssigned'"),
    ("core/host/appservice.bicep", "output identityPrincipalId string = appService.identity.principalId"),
    (
        "core/security/managed-identity.bicep",
        "resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {",
    ),
    ("core/host/container-app.bicep", "type: 'UserAssigned'"),
    ("core/host/container-app.bicep", "'${userIdentity.id}': {}"),
    ("core/host/container-app.bicep", "name: 'AZURE_CLIENT_ID'"),
    ("core/host/container-app.bicep", "value: userIdentity.properties.clientId"),
    ("core/host/container-app.bicep", "identity: userIdentity.id"),
    (
        "core/security/federated-credential.bicep",
        "resource federatedCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
        "@2023-01-31' = {",
    ),
    ("core/security/federated-credential.bicep", "param issuer string = 'https://token.actions.githubusercontent.com'"),
    ("core/security/federated-credential.bicep", "'api://AzureADTokenExchange'"),
]

# Identity blocks shown whole, with their indentation as in the file.
IDENTITY_BLOCKS = [
    ("core/host/appservice.bicep", "  identity: {\n    type: 'SystemAssigned'\n  }\n"),
    (
        "core/host/container-app.bicep",
        "  identity: {\n    type: 'UserAssigned'\n    userAssignedIdentities: {\n"
        "      '${userIdentity.id}': {}\n    }\n  }\n",
    ),
]

# Resources a notebook shows whole: (file, symbol, text the block must contain).
RESOURCE_BLOCKS = [
    ("core/security/role.bicep", "role", "roleDefinitionId: resourceId("),
    ("core/host/appservice.bicep", "appService", "type: 'SystemAssigned'"),
    ("core/host/container-app.bicep", "app", "AZURE_CLIENT_ID"),
    ("core/security/managed-identity.bicep", "identity", "location: location"),
    ("core/security/federated-credential.bicep", "federatedCredential", "audiences: ["),
]


def resource_block(text: str, symbol: str) -> str:
    """A top-level resource as written: from `resource <symbol> ` to the first line that is `}`."""
    start = text.index(f"\nresource {symbol} ") + 1
    end = text.index("\n}\n", start) + 3
    return text[start:end]


@pytest.mark.parametrize(("relative", "snippet"), SNIPPETS)
def test_cited_snippet_is_in_file(relative: str, snippet: str) -> None:
    assert snippet in (INFRA / relative).read_text(), f"infra/{relative} no longer contains {snippet!r}"


@pytest.mark.parametrize(("relative", "block"), IDENTITY_BLOCKS)
def test_identity_block_is_in_file(relative: str, block: str) -> None:
    assert block in (INFRA / relative).read_text()


@pytest.mark.parametrize(("relative", "symbol", "inside"), RESOURCE_BLOCKS)
def test_resource_block_can_be_cut_out(relative: str, symbol: str, inside: str) -> None:
    block = resource_block((INFRA / relative).read_text(), symbol)
    assert block.startswith(f"resource {symbol} ") and block.endswith("\n}\n")
    assert inside in block
    assert block.count("{") == block.count("}"), "the cut ends inside the resource"


def test_role_name_line_is_one_line_as_in_the_seed() -> None:
    lines = (INFRA / "core/security/role.bicep").read_text().splitlines()
    assert "  name: guid(subscription().id, resourceGroup().id, principalId, roleDefinitionId)" in lines
