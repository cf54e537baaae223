"""Concurrent chat clients for the throughput measurement, run in a process of their own.

Started with the environment of the host ``chat-app``; prints ``{"calls": n, "seconds": s}``.
Usage: ``python -m bench.load_client CLIENTS CALLS``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from azure.identity.aio import ManagedIdentityCredential, get_bearer_token_provider
from openai import AsyncAzureOpenAI

from .calls import COGNITIVE_SCOPE, chat_async, client_settings


async def run(clients: int, calls: int) -> dict[str, float]:
    async with ManagedIdentityCredential() as credential:
        provider = get_bearer_token_provider(credential, COGNITIVE_SCOPE)
        openai_clients = [
            AsyncAzureOpenAI(**client_settings(), azure_ad_token_provider=provider) for _ in range(clients)
        ]
        try:
            # Each client's connection and the token come first: throughput is the steady state.
            await asyncio.gather(*(chat_async(c) for c in openai_clients))
            share, extra = divmod(calls, clients)

            async def worker(client: AsyncAzureOpenAI, n: int) -> None:
                for _ in range(n):
                    await chat_async(client)

            started = time.perf_counter()
            await asyncio.gather(*(worker(c, share + (i < extra)) for i, c in enumerate(openai_clients)))
            return {"calls": calls, "seconds": time.perf_counter() - started}
        finally:
            for c in openai_clients:
                await c.close()


def main() -> None:
    clients, calls = int(sys.argv[1]), int(sys.argv[2])
    print(json.dumps(asyncio.run(run(clients, calls))))


if __name__ == "__main__":
    main()
