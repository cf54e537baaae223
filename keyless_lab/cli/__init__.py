"""Stand-ins for the Azure CLI (``az``) and the Azure Developer CLI (``azd``), put first on ``PATH``
in lab mode only (DESIGN §3.5): the subset the lessons and ``AzureCliCredential`` /
``AzureDeveloperCliCredential`` use, with the real output formats and error texts.

They hold a refresh token from sign-in and redeem it at the lab's Entra token endpoint, as the real
CLIs do with Microsoft Entra ID; role and key commands call the lab's ARM REST API over HTTPS.
"""
