"""Keystroke / touch templates: the detector, the stage, the contract."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from fengkong.events import EventValidationError, parse_event
from fengkong.identity.behaviour import BehaviourTemplates, ScaledManhattan
from fengkong.identity.eer import equal_error_rate
from fengkong.rules.ruleset import compile_ruleset, parse_ruleset
from fengkong.runtime import Runtime, default_rule_names
from fengkong.sim.keystrokes import behaviour_payload, make_typists, type_password


def test_scaled_manhattan_divides_by_each_timings_spread() -> None:
    t = ScaledManhattan.fit([[100.0, 10.0], [120.0, 10.0], [80.0, 10.0]])
    # Timing 2 never varied: its floor keeps the distance finite.
    assert np.isfinite(t.distance([100.0, 11.0]))
    assert t.distance([100.0, 10.0]) == 0.0
    assert t.distance([140.0, 10.0]) == pytest.approx(((40 / (40 / 3)) + 0) / 2)


def test_genuine_typing_is_closer_than_impostors() -> None:
    rng = np.random.default_rng(1)
    typists = make_typists(6, rng)
    data = [type_password(t, 60, rng) for t in typists]
    eers = []
    for s, reps in enumerate(data):
        model = ScaledManhattan.fit(reps[:30])
        impostor = np.concatenate([d[:5] for t, d in enumerate(data) if t != s])
        eers.append(equal_error_rate(model.distances(reps[30:]), model.distances(impostor)))
    assert float(np.mean(eers)) < 0.2


def test_templates_learn_only_from_matching_samples() -> None:
    templates = BehaviourTemplates(enrol_samples=3, update_below=1.0)
    genuine = np.array([100.0, 50.0])
    for x in ([100.0, 50.0], [104.0, 48.0], [96.0, 52.0]):
        assert templates.score("u", "k", np.array(x)) is None
        templates.add("u", "k", np.array(x), None)
    far = np.array([400.0, 300.0])
    before = templates.score("u", "k", genuine)
    templates.add("u", "k", far, templates.score("u", "k", far))
    assert templates.score("u", "k", genuine) == before


def _login(i: int, user: str, vector: np.ndarray) -> dict[str, Any]:
    return {
        "event_id": f"b{i}",
        "type": "login",
        "user_id": user,
        "occurred_at": f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}+08:00",
        "behaviour": behaviour_payload(vector),
    }


def _features(runtime: Runtime, event_id: str) -> dict[str, Any]:
    found = runtime.engine.store.decision(event_id)
    assert found is not None
    features: dict[str, Any] = orjson.loads(found[1])["features"]
    return features


def test_the_stage_scores_after_enrolment(runtime: Runtime) -> None:
    rng = np.random.default_rng(3)
    owner, thief = make_typists(2, rng)
    own = type_password(owner, 12, rng)
    for i in range(10):
        runtime.engine.decide(_login(i, "u1", own[i]))
    assert _features(runtime, "b0")["behaviour.enrolled"] is False
    assert _features(runtime, "b9")["behaviour.match_score"] is not None
    runtime.engine.decide(_login(10, "u1", own[10]))
    runtime.engine.decide(_login(11, "u1", type_password(thief, 1, rng)[0]))
    genuine = _features(runtime, "b10")["behaviour.match_score"]
    stolen = _features(runtime, "b11")["behaviour.match_score"]
    assert genuine > stolen
    plain = runtime.engine.decide({**_login(12, "u1", own[11]), "behaviour": None})
    assert _features(runtime, plain["event_id"])["behaviour.match_score"] is None


def test_rules_can_read_the_match_score() -> None:
    ruleset = parse_ruleset(
        b'name = "b"\n[[rules]]\nname = "typing_unlike_owner"\ndescription = "d"\n'
        b'when = \'type == "login" and behaviour.match_score < 0.3\'\naction = "challenge:otp"\n',
        "toml",
    )
    compile_ruleset(ruleset, default_rule_names())


@pytest.mark.parametrize(
    ("behaviour", "field"),
    [
        ({"keystrokes": {"hold_ms": [1, 2, 3], "flight_ms": [1]}}, "behaviour.keystrokes"),
        ({"keystrokes": {"hold_ms": [1, -2], "flight_ms": [1]}}, "behaviour.keystrokes.hold_ms.1"),
        (
            {"keystrokes": {"hold_ms": [1.0] * 300, "flight_ms": [1.0] * 299}},
            "behaviour.keystrokes.hold_ms",
        ),
        ({"touch": {"pressure": [1.5]}}, "behaviour.touch.pressure.0"),
        ({"mouse": []}, "behaviour.mouse"),
    ],
)
def test_bad_behaviour_names_the_field(behaviour: dict[str, Any], field: str) -> None:
    raw = {
        "event_id": "x",
        "type": "login",
        "user_id": "u",
        "occurred_at": "2026-11-20T10:00:00+08:00",
        "behaviour": behaviour,
    }
    with pytest.raises(EventValidationError) as err:
        parse_event(raw)
    assert any(
        e.path.replace("[", ".").replace("]", "").startswith(field) for e in err.value.errors
    ), [e.path for e in err.value.errors]
