"""The console tests' shared fixture: the app over a real store, on the local stack, with one seeded alert."""

from __future__ import annotations

import pytest

from firewatch.console.app import create_app
from firewatch.console.store import ConsoleStore
from tests.fixtures.console_seed import console_config, seed_alert


@pytest.fixture
def console(gcp_resources):
    """(TestClient, the seeded alert, the store, the stack's resource names); no live feed."""
    from fastapi.testclient import TestClient

    seeded = seed_alert(gcp_resources)
    config = console_config(gcp_resources, live=False)
    store = ConsoleStore(config, gcp_resources.project)
    with TestClient(create_app(config, store), base_url="http://127.0.0.1:8080") as client:
        yield client, seeded, store, gcp_resources
