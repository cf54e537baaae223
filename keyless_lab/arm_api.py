"""Azure Resource Manager (control plane) at ``{lab}/arm``: role assignments and definitions
(``Microsoft.Authorization``) and the Azure OpenAI account (``Microsoft.CognitiveServices``).
"""

from __future__ import annotations

routes: list = []
