// A Container Apps environment on the Consumption plan: pay per use, scales to zero.
metadata description = 'Creates a Container Apps environment with a Consumption workload profile.'

param name string
param location string = resourceGroup().location
param tags object = {}

resource environment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    // Console logs are streamed with `az containerapp logs show`; no Log Analytics workspace to pay for.
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
  }
}

output id string = environment.id
output name string = environment.name
output defaultDomain string = environment.properties.defaultDomain
