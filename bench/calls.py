"""One chat call as an application makes it: the real ``openai`` client against the lab's endpoint."""

from __future__ import annotations

import os
from typing import Any

COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": "ping"}]


def client_settings() -> dict[str, str]:
    """Endpoint and API version read from the app settings, as production code reads them."""
    return {
        "azure_endpoint": os.environ["AZURE_OPENAI_ENDPOINT"],
        "api_version": os.environ["AZURE_OPENAI_API_VERSION"],
    }


def deployment() -> str:
    return os.environ["AZURE_OPENAI_CHAT_DEPLOYMENT"]


def chat(client: Any) -> None:
    client.chat.completions.create(model=deployment(), messages=MESSAGES)


async def chat_async(client: Any) -> None:
    await client.chat.completions.create(model=deployment(), messages=MESSAGES)
