"""Fixtures shared by the connector tests."""

import pytest

from connectors.platforms.sandbox.serve import start_sandbox
from tests.connectors.sandbox_client import Client


@pytest.fixture(scope="module")
def _highlevel_server():
    with start_sandbox("highlevel") as running:
        yield running


@pytest.fixture
def running_highlevel(_highlevel_server):
    client = Client(_highlevel_server)
    client.control("POST", "reset")
    return client
