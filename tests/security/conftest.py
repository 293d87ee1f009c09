"""A server app with the test admin key, and keys of each role made through the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from fengkong.api.app import create_app
from fengkong.settings import Settings
from tests.keys import AUTH

KeyMaker = Callable[..., dict[str, str]]


@pytest.fixture()
def client(settings: Settings) -> Iterator[TestClient]:
    """No key by default: each request says which key it uses."""
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture()
def key_for(client: TestClient) -> KeyMaker:
    """``key_for("ingest")`` -> headers of a new key with those roles."""

    def make(*roles: str, name: str = "") -> dict[str, str]:
        body = {"name": name or "-".join(roles), "roles": list(roles)}
        r = client.post("/v1/keys", json=body, headers=AUTH)
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['key']}"}

    return make
