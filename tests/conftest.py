"""Shared fixtures: a private lab per test, reached over real HTTPS on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keyless_lab import Lab

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
