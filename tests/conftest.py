"""Shared fixtures: a private lab per test, reached over real HTTPS on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from keyless_lab import Lab, tls

# As in a notebook, where connect() runs before anything else is imported: aiohttp reads the
# trust store once, when first imported, so the process trusts the lab CA from the start.
os.environ["SSL_CERT_FILE"] = os.environ["REQUESTS_CA_BUNDLE"] = str(tls.authority().bundle)

COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
MANAGEMENT_SCOPE = "https://management.azure.com/.default"


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A new lab (preset ``fresh``); this process does not point at it."""
    with Lab() as running:
        yield running


@pytest.fixture
def lab_env(lab: Lab) -> Iterator[Lab]:
    """A new lab with this process's environment pointed at it, as ``connect()`` does."""
    with lab.environment():
        yield lab
