"""The feature engine runs on any state backend; the in-memory one is the default."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping

import pytest

from fengkong.events import Event, parse_event
from fengkong.features import InMemoryState, StateBackend, default_engine
from fengkong.features.state import EntityState


class _Table(MutableMapping[str, EntityState]):
    """A mapping that is not a dict, counting what the engine asks of it."""

    def __init__(self) -> None:
        self.data: dict[str, EntityState] = {}
        self.reads = 0

    def __getitem__(self, key: str) -> EntityState:
        self.reads += 1
        return self.data[key]

    def __setitem__(self, key: str, value: EntityState) -> None:
        self.data[key] = value

    def __delitem__(self, key: str) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


class CountingBackend(InMemoryState):
    """Another backend: its tables are :class:`_Table`, deletes are counted."""

    def __init__(self) -> None:
        super().__init__()
        self.deleted = 0
        self._mine: dict[str, _Table] = {}

    def table(self, kind: str) -> _Table:  # type: ignore[override]
        return self._mine.setdefault(kind, _Table())

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, EntityState]:
        t = self.table(kind)
        return {k: t.data[k] for k in keys if k in t.data}

    def put_many(self, kind: str, states: Mapping[str, EntityState]) -> None:
        self.table(kind).data.update(states)

    def delete_many(self, kind: str, keys: Iterable[str]) -> None:
        for key in keys:
            self.deleted += self.table(kind).data.pop(key, None) is not None

    def keys(self, kind: str) -> list[str]:
        return list(self.table(kind).data)


def _events(n: int) -> list[Event]:
    return [
        parse_event(
            {
                "event_id": f"e{i}",
                "type": "payment" if i % 2 else "login",
                "user_id": f"u{i % 5}",
                "amount": f"{10 + i}.25" if i % 2 else None,
                "ip": f"10.0.{i % 3}.{i % 7 + 1}",
                "merchant_id": f"m{i % 4}" if i % 2 else None,
                "occurred_at": f"2026-11-20T{9 + i // 60:02d}:{i % 60:02d}:00+00:00",
            }
        )
        for i in range(n)
    ]


def test_a_backend_that_is_not_dicts_gives_the_same_features() -> None:
    backend = CountingBackend()
    plain, other = default_engine(), default_engine(state=backend)
    for event in _events(120):
        assert other.compute(event, "dev-1") == plain.compute(event, "dev-1")
    assert sum(t.reads for t in backend._mine.values()) > 0  # the step read through it
    assert other.entity_count() == plain.entity_count() > 0
    # Expiry goes through the backend's delete_many.
    assert other.expire(10**10) == plain.expire(10**10) > 0
    assert backend.deleted > 0 and other.entity_count() == 0


@pytest.mark.parametrize("backend", [InMemoryState, CountingBackend])
def test_backend_contract(backend: type[StateBackend]) -> None:
    state = backend()
    state.put_many("user", {"u1": [1.0, None], "u2": [2.0, None]})
    assert state.get_many("user", ["u1", "u3"]) == {"u1": [1.0, None]}
    assert sorted(state.keys("user")) == ["u1", "u2"]
    state.delete_many("user", ["u1", "u9"])
    assert state.keys("user") == ["u2"]
    assert state.table("user")["u2"] == [2.0, None]
