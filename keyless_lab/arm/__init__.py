"""Azure Resource Manager (control plane) at ``{lab}/arm``: one module per resource provider, plus ARM's
request handling. Documented at https://learn.microsoft.com/azure/azure-resource-manager/management/overview .
"""

from .routing import routes

__all__ = ["routes"]
