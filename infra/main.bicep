// Go Keyless: everything a learner needs to call Azure OpenAI without keys, deployed by `azd up`.
// Nothing here creates, reads or outputs a key or a password: people and apps sign in with
// Microsoft Entra ID and hold the least role that lets them call the model.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names the resource group and seeds unique resource names.')
param environmentName string

@minLength(1)
@description('Region for every resource. Pick one that offers the models below (see README).')
param location string

@description('Object id of whoever runs azd (set by azd). Gets Cognitive Services OpenAI User.')
param principalId string = ''

@description('User when a person runs azd; ServicePrincipal when a CI identity runs it.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Optional OWNER/REPO: creates an identity that this repository\'s GitHub Actions can sign in as.')
param githubRepository string = ''

@description('GitHub environment whose jobs may sign in as that identity.')
param githubEnvironment string = 'azure'

@description('Image of the aca service, set by azd after the first deploy so that provisioning again keeps it.')
param acaImageName string = ''

param chatModelName string = 'gpt-4o-mini'
param chatModelVersion string = '2024-07-18'
param embeddingsModelName string = 'text-embedding-3-small'
param embeddingsModelVersion string = '1'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var chatDeploymentName = 'chat'
var embeddingsDeploymentName = 'embeddings'
var openAiApiVersion = '2024-10-21'

// Built-in role definitions (the same GUID in every tenant). Least privilege: no Owner, no Contributor.
var roles = {
  cognitiveServicesOpenAiUser: '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------- Azure OpenAI (keys disabled)

module openAi 'core/ai/openai.bicep' = {
  name: 'openai'
  scope: rg
  params: {
    name: 'oai-${resourceToken}'
    location: location
    tags: tags
    customSubDomainName: 'oai-${resourceToken}'
    chatDeploymentName: chatDeploymentName
    chatModelName: chatModelName
    chatModelVersion: chatModelVersion
    embeddingsDeploymentName: embeddingsDeploymentName
    embeddingsModelName: embeddingsModelName
    embeddingsModelVersion: embeddingsModelVersion
  }
}

// The learner (or the CI principal running azd) may call the models, and do nothing else with them.
module learnerOpenAiUser 'core/security/role.bicep' = if (!empty(principalId)) {
  name: 'learner-openai-user'
  scope: rg
  params: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: roles.cognitiveServicesOpenAiUser
  }
}

var openAiSettings = {
  AZURE_OPENAI_ENDPOINT: openAi.outputs.endpoint
  AZURE_OPENAI_CHAT_DEPLOYMENT: chatDeploymentName
  AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT: embeddingsDeploymentName
  AZURE_OPENAI_API_VERSION: openAiApiVersion
  KEYLESS_TARGET: 'azure'
}

// ---------------------------------------------------------------- App Service, system-assigned identity

module appServicePlan 'core/host/appservice-plan.bicep' = {
  name: 'appservice-plan'
  scope: rg
  params: {
    name: 'plan-${resourceToken}'
    location: location
    tags: tags
  }
}

module web 'core/host/appservice.bicep' = {
  name: 'web'
  scope: rg
  params: {
    name: 'app-${resourceToken}'
    location: location
    tags: union(tags, { 'azd-service-name': 'web' })
    appServicePlanId: appServicePlan.outputs.id
    appSettings: openAiSettings
  }
}

module webOpenAiUser 'core/security/role.bicep' = {
  name: 'web-openai-user'
  scope: rg
  params: {
    principalId: web.outputs.identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roles.cognitiveServicesOpenAiUser
  }
}

// ---------------------------------------------------------------- Container Apps, user-assigned identity

module acaIdentity 'core/security/managed-identity.bicep' = {
  name: 'aca-identity'
  scope: rg
  params: {
    name: 'id-aca-${resourceToken}'
    location: location
    tags: tags
  }
}

module containerRegistry 'core/host/container-registry.bicep' = {
  name: 'container-registry'
  scope: rg
  params: {
    name: 'cr${resourceToken}'
    location: location
    tags: tags
  }
}

// Granted before the app exists, so that its very first image pull already works.
module acaAcrPull 'core/security/role.bicep' = {
  name: 'aca-acr-pull'
  scope: rg
  params: {
    principalId: acaIdentity.outputs.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roles.acrPull
  }
}

module acaOpenAiUser 'core/security/role.bicep' = {
  name: 'aca-openai-user'
  scope: rg
  params: {
    principalId: acaIdentity.outputs.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roles.cognitiveServicesOpenAiUser
  }
}

module containerAppsEnvironment 'core/host/container-apps-environment.bicep' = {
  name: 'container-apps-environment'
  scope: rg
  params: {
    name: 'cae-${resourceToken}'
    location: location
    tags: tags
  }
}

module aca 'core/host/container-app.bicep' = {
  name: 'aca'
  scope: rg
  params: {
    name: 'ca-${resourceToken}'
    location: location
    tags: union(tags, { 'azd-service-name': 'aca' })
    containerAppsEnvironmentId: containerAppsEnvironment.outputs.id
    identityName: acaIdentity.outputs.name
    containerRegistryServer: containerRegistry.outputs.loginServer
    image: acaImageName
    appSettings: openAiSettings
  }
  dependsOn: [
    acaAcrPull
  ]
}

// ---------------------------------------------------------------- Optional: GitHub Actions, no secret

module ciIdentity 'core/security/managed-identity.bicep' = if (!empty(githubRepository)) {
  name: 'ci-identity'
  scope: rg
  params: {
    name: 'id-ci-${resourceToken}'
    location: location
    tags: tags
  }
}

module ciFederatedCredential 'core/security/federated-credential.bicep' = if (!empty(githubRepository)) {
  name: 'ci-federated-credential'
  scope: rg
  params: {
    identityName: ciIdentity.outputs.name
    name: 'github-${githubEnvironment}'
    subject: 'repo:${githubRepository}:environment:${githubEnvironment}'
  }
}

module ciOpenAiUser 'core/security/role.bicep' = if (!empty(githubRepository)) {
  name: 'ci-openai-user'
  scope: rg
  params: {
    principalId: ciIdentity.outputs.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roles.cognitiveServicesOpenAiUser
  }
}

// ---------------------------------------------------------------- What azd writes into .env

output AZURE_OPENAI_ENDPOINT string = openAi.outputs.endpoint
output AZURE_OPENAI_CHAT_DEPLOYMENT string = openAi.outputs.chatDeploymentName
output AZURE_OPENAI_EMBEDDINGS_DEPLOYMENT string = openAi.outputs.embeddingsDeploymentName
output AZURE_OPENAI_API_VERSION string = openAiApiVersion
output AZURE_OPENAI_ACCOUNT_NAME string = openAi.outputs.name
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_SUBSCRIPTION_ID string = subscription().subscriptionId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_LOCATION string = location
output AZURE_APP_SERVICE_NAME string = web.outputs.name
output AZURE_APP_SERVICE_URL string = web.outputs.uri
output AZURE_CONTAINER_APP_NAME string = aca.outputs.name
output AZURE_CONTAINER_APP_URL string = aca.outputs.uri
// Named so that it does not become AZURE_CLIENT_ID on the learner's machine, where it would
// point DefaultAzureCredential at an identity that only exists inside the Container App.
output AZURE_CONTAINER_APP_CLIENT_ID string = acaIdentity.outputs.clientId
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = containerRegistry.outputs.loginServer
output AZURE_CI_CLIENT_ID string = !empty(githubRepository) ? ciIdentity.outputs.clientId : ''
output KEYLESS_TARGET string = 'azure'
