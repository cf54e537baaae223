// Grants one built-in role to one principal, on the resource group this module is deployed to.
// The assignment's name is a guid() of its inputs, so deploying twice is idempotent and anyone can
// work out the name in advance (notebook 02 reproduces it in Python).
metadata description = 'Assigns a role to a principal on the resource group.'

@description('Object id of the user, group or service principal that receives the role.')
param principalId string

@description('User for a person signed in with `azd auth login`; ServicePrincipal for managed identities and CI.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string

@description('GUID of a built-in role definition, e.g. 5e0bd9bd-7b93-4f28-af87-19fc36ad61bd (Cognitive Services OpenAI User).')
param roleDefinitionId string

resource role 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: resourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
  }
}

output id string = role.id
output name string = role.name
