// App Service (Linux, Python) hosting app/ with a system-assigned managed identity: the platform
// creates the identity with the app and deletes it with the app; the code gets tokens from the
// host's identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER) with no secret in its settings.
metadata description = 'Creates a Python web app on Linux App Service with a system-assigned identity.'

param name string
param location string = resourceGroup().location
param tags object = {}
param appServicePlanId string

param pythonVersion string = '3.11'

@description('Starts the ASGI app exposed as `app` in app/main.py.')
param appCommandLine string = 'python -m uvicorn main:app --host 0.0.0.0 --port 8000'

@description('Plain settings only (endpoint, deployment names): nothing secret belongs here.')
param appSettings object = {}

@description('A route of app/main.py that answers without calling Azure OpenAI.')
param healthCheckPath string = '/healthz'

var buildSettings = {
  SCM_DO_BUILD_DURING_DEPLOYMENT: 'true'
  ENABLE_ORYX_BUILD: 'true'
}

resource appService 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: browsers of workshop attendees carry no client certificates
  // checkov:skip=CKV_AZURE_222: the chat page must be reachable from the learner's browser
  // checkov:skip=CKV_AZURE_212: a workshop app runs on one B1 instance; failover instances would multiply the cost
  name: name
  location: location
  tags: tags
  kind: 'app,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: appServicePlanId
    httpsOnly: true
    clientAffinityEnabled: false
    siteConfig: {
      linuxFxVersion: 'PYTHON|${pythonVersion}'
      pythonVersion: pythonVersion
      appCommandLine: appCommandLine
      alwaysOn: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      remoteDebuggingEnabled: false
      detailedErrorLoggingEnabled: true
      httpLoggingEnabled: true
      requestTracingEnabled: true
      healthCheckPath: healthCheckPath
      appSettings: [for setting in items(union(buildSettings, appSettings)): {
        name: setting.key
        value: string(setting.value)
      }]
    }
  }
}

// No publishing passwords either: `azd deploy` signs in to the deployment endpoint with Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: appService
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: appService
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = appService.id
output name string = appService.name
output uri string = 'https://${appService.properties.defaultHostName}'
@description('Object id of the system-assigned identity: the principal that gets the OpenAI role.')
output identityPrincipalId string = appService.identity.principalId
