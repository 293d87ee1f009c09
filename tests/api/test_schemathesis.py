"""Schemathesis against the OpenAPI document: every check, on every operation, bounded.

Cases are generated from the declared request schemas (valid and invalid ones); each
answer must be no 5xx, use a declared status code and content type, match its
declared response schema, refuse what the schema forbids and accept what it allows.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis import checks  # noqa: E402

from fengkong.api.app import create_app  # noqa: E402
from fengkong.runtime import Runtime, build_runtime  # noqa: E402
from fengkong.settings import Settings  # noqa: E402
from tests.keys import ADMIN_KEY, AUTH  # noqa: E402

checks.load_all_checks()
# Stateful checks across operations need links between them, which this API has not.
SKIPPED = {"use_after_free", "ensure_resource_availability", "object_level_authorization"}
ALL_CHECKS = [c for c in checks.CHECKS.get_all() if c.__name__ not in SKIPPED]
# Bodies with rules JSON Schema cannot state: timestamps against the server's clock
# (events, labels), the rule language (rule sets), values checked per kind (freezes).
# Every other check still runs on them; a schema-valid body may get a 422 naming why.
SEMANTIC = {
    ("POST", "/v1/events"),
    ("POST", "/v1/events/batch"),
    ("POST", "/v1/labels"),
    ("POST", "/v1/rules/versions"),
    ("POST", "/v1/rules/validate"),
    ("POST", "/v1/rules/freezes"),
    ("POST", "/v1/rules/backtest"),
    # The answer's fields depend on the challenge's method (code, or audio for voice).
    ("POST", "/v1/challenges/{challenge_id}"),
    # The request is an OpenMined PSI message (protobuf bytes in base64).
    ("POST", "/v1/share/psi"),
}


def _app(tmp: Path) -> tuple[Any, Runtime]:
    s = Settings(
        db_path=tmp / "st.db",
        token_secret="s" * 32,
        sqlite_synchronous="OFF",
        bootstrap_key=ADMIN_KEY,
    )
    rt = build_runtime(s, server=True)
    app = create_app(s, runtime=rt)
    app.state.runtime = rt
    return app, rt


# The schema is loaded at collection time, so the app (and its store) exist by then.
_TMP = Path(tempfile.mkdtemp(prefix="fengkong-st-"))
APP, RT = _app(_TMP)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module", autouse=True)
def _close_store() -> Iterator[None]:
    yield
    RT.close()
    shutil.rmtree(_TMP, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_keeps_its_contract(case: Any) -> None:
    chosen = ALL_CHECKS
    if (case.operation.method.upper(), case.operation.path) in SEMANTIC:
        chosen = [c for c in ALL_CHECKS if c.__name__ != "positive_data_acceptance"]
    case.call_and_validate(checks=chosen, headers=AUTH)
