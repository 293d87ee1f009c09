"""Property-based fuzzing of the public API: no input a client can send gives a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengkong.api.app import create_app
from fengkong.settings import Settings
from tests.keys import ADMIN_KEY, AUTH

EXAMPLES = [
    json.loads(line)
    for line in (Path(__file__).resolve().parents[1] / "data" / "examples.jsonl")
    .read_text()
    .splitlines()
    if line.strip()
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = sorted({key for ev in EXAMPLES for key in ev} | {"amount", "geo", "context", "attributes"})


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    event = dict(draw(st.sampled_from(EXAMPLES)))
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(FIELDS) | st.text(max_size=8))
        if draw(st.booleans()):
            event[key] = draw(json_values)
        else:
            event.pop(key, None)
    event["event_id"] = draw(st.text(min_size=0, max_size=140))
    return event


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    s = Settings(
        db_path=db, token_secret="f" * 32, sqlite_synchronous="OFF", bootstrap_key=ADMIN_KEY
    )
    with TestClient(create_app(s), raise_server_exceptions=False, headers=AUTH) as c:
        yield c


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=mutated_events() | json_values)
def test_no_event_body_gives_a_5xx(client: TestClient, body: Any) -> None:
    r = client.post("/v1/events", content=json.dumps(body, allow_nan=True))
    assert r.status_code in {200, 409, 413, 422}, r.text
    if r.status_code == 422:
        assert all("field" in d for d in r.json()["detail"])


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.lists(mutated_events(), max_size=5) | json_values)
def test_no_batch_or_label_body_gives_a_5xx(client: TestClient, body: Any) -> None:
    for path in ("/v1/events/batch", "/v1/labels"):
        r = client.post(path, content=json.dumps(body, allow_nan=True))
        assert r.status_code in {200, 201, 409, 413, 422}, r.text


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_raw_bytes_never_give_a_5xx(client: TestClient, raw: bytes) -> None:
    assert client.post("/v1/events", content=raw).status_code in {200, 409, 422}
