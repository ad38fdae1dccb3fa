"""Fixtures for the sandbox tests: one server per test module (its PLATFORM), reset before
every test, with what its probe reads seeded."""

import pytest

from connectors.platforms.sandbox.serve import start_sandbox
from tests.connectors.sandbox_client import Client


@pytest.fixture(scope="module")
def running(request):
    with start_sandbox(request.module.PLATFORM) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running):
    client = Client(running)
    client.control("POST", "reset")
    client.hooks.prepare_probe(client)
    return client
