// A Container App that runs as a user-assigned managed identity. The same identity pulls the image
// from the registry (it held AcrPull before the app existed) and gets tokens for Azure OpenAI;
// AZURE_CLIENT_ID tells the code which identity to ask for, since an app may carry several.
metadata description = 'Creates a Container App with a user-assigned identity, pulling from ACR with that identity.'

param name string
param location string = resourceGroup().location
param tags object = {}
param containerAppsEnvironmentId string

@description('Name of an existing user-assigned identity in this resource group.')
param identityName string

@description('Login server of the registry, e.g. crabc123.azurecr.io.')
param containerRegistryServer string

@description('Image to run. Before the first `azd deploy` there is none in the registry, so a public placeholder runs.')
param image string = ''

@description('The port the app listens on inside the container.')
param targetPort int = 8000

@description('Plain settings only (endpoint, deployment names): nothing secret belongs here.')
param appSettings object = {}

// Public sample image, replaced by the app's image at the first `azd deploy` (it listens on 80, so
// the app shows as unavailable until then).
var placeholderImage = 'mcr.microsoft.com/k8se/quickstart:latest'

var settingsEnv = [for setting in items(appSettings): {
  name: setting.key
  value: string(setting.value)
}]

resource userIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${userIdentity.id}': {}
    }
  }
  properties: {
    managedEnvironmentId: containerAppsEnvironmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: targetPort
        transport: 'auto'
        allowInsecure: false
      }
      registries: [
        {
          server: containerRegistryServer
          identity: userIdentity.id
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'main'
          image: empty(image) ? placeholderImage : image
          env: concat([
            {
              name: 'AZURE_CLIENT_ID'
              value: userIdentity.properties.clientId
            }
          ], settingsEnv)
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
        }
      ]
      scale: {
        minReplicas: 0
        maxReplicas: 1
      }
    }
  }
}

output id string = app.id
output name string = app.name
output uri string = 'https://${app.properties.configuration.ingress.fqdn}'
