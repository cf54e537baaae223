// An Azure Container Registry with no admin user and no anonymous pull: images are pushed by the
// developer's Entra sign-in (`azd deploy`) and pulled by the Container App's managed identity.
metadata description = 'Creates a container registry that only Entra identities can use.'

param name string
param location string = resourceGroup().location
param tags object = {}

@description('Basic is enough for one small image; private networking and geo-replication need Premium.')
param skuName string = 'Basic'

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  // checkov:skip=CKV_AZURE_139: `azd deploy` pushes from the learner's machine; private endpoints need the Premium tier
  // checkov:skip=CKV_AZURE_163: image scanning is a Microsoft Defender plan billed separately; out of scope for a workshop registry
  // checkov:skip=CKV_AZURE_166: quarantine needs the Premium tier
  // checkov:skip=CKV_AZURE_233: zone redundancy needs the Premium tier
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

output id string = registry.id
output name string = registry.name
output loginServer string = registry.properties.loginServer
