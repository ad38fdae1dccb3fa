"""Fixtures for the sandbox tests: one server per test module, reset before every test."""

import pytest

from connectors.sandboxes import start_sandbox
from tests.connectors.sandbox_client import Client


@pytest.fixture(scope="module")
def running(request):
    with start_sandbox(request.module.PLATFORM) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running):
    client = Client(running)
    client.control("POST", "reset")
    if client.platform == "webflow":
        client.seed(items=[{"collectionId": "c1", "skuId": "s1", "quantity": 5}])
    return client
