// A user-assigned managed identity: an Entra service principal that lives on its own, so it can be
// granted roles before the resource that uses it exists, and shared by several resources.
metadata description = 'Creates a user-assigned managed identity.'

param name string
param location string = resourceGroup().location
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
@description('The identity\'s application (client) id: what AZURE_CLIENT_ID names in code.')
output clientId string = identity.properties.clientId
@description('The identity\'s object id: what role assignments name as principalId.')
output principalId string = identity.properties.principalId
