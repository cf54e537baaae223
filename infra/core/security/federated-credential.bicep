// Lets a workload outside Azure (here a GitHub Actions job) sign in as a user-assigned identity
// with no secret: Entra exchanges the job's own OIDC token, if issuer, subject and audience match.
metadata description = 'Adds a federated identity credential to a user-assigned managed identity.'

@description('Name of an existing user-assigned identity in this resource group.')
param identityName string

@description('Name of the credential, unique per identity.')
param name string = 'github-actions'

@description('Who issues the workload\'s token.')
param issuer string = 'https://token.actions.githubusercontent.com'

@description('Which token is trusted, e.g. repo:OWNER/REPO:environment:NAME or repo:OWNER/REPO:ref:refs/heads/main.')
param subject string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource federatedCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: identity
  name: name
  properties: {
    issuer: issuer
    subject: subject
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

output id string = federatedCredential.id
output subject string = federatedCredential.properties.subject
