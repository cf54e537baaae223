// A Linux App Service plan: the machines an App Service app runs on.
metadata description = 'Creates a Linux App Service plan.'

param name string
param location string = resourceGroup().location
param tags object = {}

@description('B1 is the smallest tier with Always On; enough for one learner\'s chat app.')
param skuName string = 'B1'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy needs a Premium plan and several instances; a workshop app runs on one B1 instance
  name: name
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: skuName
  }
  properties: {
    reserved: true
  }
}

output id string = plan.id
output name string = plan.name
