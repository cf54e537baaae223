// An Azure OpenAI account that accepts Microsoft Entra tokens only, with a chat and an embeddings
// deployment. Keys exist on every account, but with disableLocalAuth the service refuses them.
metadata description = 'Creates a keyless Azure OpenAI account with a chat and an embeddings deployment.'

param name string
param location string = resourceGroup().location
param tags object = {}

@description('Unique DNS label: the endpoint becomes https://<label>.openai.azure.com/. Entra ID auth needs it.')
param customSubDomainName string = name

@description('Enabled lets a learner\'s laptop reach the account; callers still need an Entra token and a role.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

param chatDeploymentName string = 'chat'
param chatModelName string = 'gpt-4o-mini'
param chatModelVersion string = '2024-07-18'
@description('Deployment type. GlobalStandard is offered in most regions.')
param chatSkuName string = 'GlobalStandard'
@description('Capacity in thousands of tokens per minute.')
param chatCapacity int = 10

param embeddingsDeploymentName string = 'embeddings'
param embeddingsModelName string = 'text-embedding-3-small'
param embeddingsModelVersion string = '1'
param embeddingsSkuName string = 'Standard'
param embeddingsCapacity int = 10

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  // checkov:skip=CKV_AZURE_134: learners call the account from their own machines and Codespaces; every call still needs an Entra token and a data-plane role (local auth is disabled)
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    customSubDomainName: customSubDomainName
    disableLocalAuth: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: 'Allow'
    }
  }
}

resource chat 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: chatDeploymentName
  sku: {
    name: chatSkuName
    capacity: chatCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: chatModelName
      version: chatModelVersion
    }
  }
}

// One deployment at a time: the service rejects concurrent deployment writes on an account.
resource embeddings 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: embeddingsDeploymentName
  sku: {
    name: embeddingsSkuName
    capacity: embeddingsCapacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: embeddingsModelName
      version: embeddingsModelVersion
    }
  }
  dependsOn: [
    chat
  ]
}

output id string = account.id
output name string = account.name
output endpoint string = account.properties.endpoint
output chatDeploymentName string = chat.name
output embeddingsDeploymentName string = embeddings.name
