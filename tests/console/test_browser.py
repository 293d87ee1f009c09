"""The console in real headless Chromium over a server fed with simulated traffic."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.browser import (
    Served,
    browser_page,
    labels_in,
    login,
    need_browser,
    screenshots_dir,
    simulate_and_serve,
)

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    need_browser()
    yield from simulate_and_serve(tmp_path_factory.mktemp("console"))


@pytest.fixture()
def page(served: Served, tmp_path: Path) -> Iterator[Any]:
    yield from browser_page(need_browser(), tmp_path / "profile")


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(screenshots_dir() / f"{name}.png"), full_page=True)


def test_a_wrong_key_is_refused_and_a_right_one_opens_the_queue(page: Any, served: Served) -> None:
    page.goto(f"{served.base}/console/")
    assert page.url.endswith("/console/login")
    page.fill("#key", "fk_not-a-key")
    page.click("#login-button")
    assert "Unknown or revoked" in page.inner_text("#login-error")
    login(page, served.base)
    rows = page.locator("#cases tr").count() - 1
    assert rows > 0, "the simulated reviews should have opened cases"
    shot(page, "01-queue")


def test_confirm_fraud_stores_labels_and_closes_the_case(page: Any, served: Served) -> None:
    login(page, served.base)
    page.locator("a.case-link").first.click()
    page.wait_for_selector("#timeline")
    case_id = page.inner_text("#case-id")
    assert page.inner_text("#case-status") in ("open", "investigating")
    assert page.locator("#timeline .reason").count() > 0
    shot(page, "02-case")
    before = len(labels_in(served.db))
    page.click("#confirm-fraud")
    page.wait_for_selector("#case-outcome")
    assert page.inner_text("#case-status") == "closed"
    assert "confirmed fraud" in page.inner_text("#case-outcome")
    written = int(re.findall(r"\d+", page.inner_text("#labels-written"))[0])
    after = labels_in(served.db)
    assert written > 0 and len(after) == before + written
    assert {r[2] for r in after[before:]} == {"fraud"}
    assert {r[3] for r in after[before:]} == {"confirmed_case"}
    shot(page, "03-case-closed")
    # The closed case left the queue.
    page.goto(f"{served.base}/console/")
    assert case_id not in page.inner_text("#cases")


def _rules_text(page: Any) -> str:
    return str(page.input_value("#ruleset"))


def test_a_rule_with_a_syntax_error_shows_the_error_beside_the_editor(
    page: Any, served: Served
) -> None:
    login(page, served.base)
    page.click("text=Rules")
    text = _rules_text(page)
    broken = text.replace("accounts_registered_1h >= 3", "accounts_registered_1h >= >= 3", 1)
    assert broken != text
    page.fill("#ruleset", broken)
    page.click("#validate")
    errors = page.inner_text("#rule-errors")
    assert "reg_device_burst" in errors
    shot(page, "04-rule-syntax-error")
    page.fill("#ruleset", text)
    page.click("#validate")
    assert page.locator("#rule-valid").count() == 1


def test_a_backtest_renders_the_candidate_beside_live(page: Any, served: Served) -> None:
    login(page, served.base)
    page.click("text=Rules")
    ruleset = json.loads(_rules_text(page))
    for rule in ruleset["rules"]:
        if rule["name"] == "shared_device_money":
            rule["action"] = "block"
    page.fill("#ruleset", json.dumps(ruleset, indent=2))
    page.click("#backtest")
    page.wait_for_selector("#backtest-report", timeout=240_000)
    rows = page.locator("#backtest-report table.backtest tr")
    cells = {rows.nth(i).locator("td").first.inner_text(): rows.nth(i) for i in (1, 2)}
    blocks = {k.split()[0]: int(v.locator("td").nth(4).inner_text()) for k, v in cells.items()}
    assert blocks["candidate"] > blocks["live"], blocks
    assert page.locator("#backtest-rules tr").count() > 5
    shot(page, "05-backtest")


def test_the_graph_view_shows_the_ring_of_a_cash_out_ring(page: Any, served: Served) -> None:
    login(page, served.base)
    page.goto(f"{served.base}/console/?inbox=rings")
    links = [page.locator("a.case-link").nth(i).get_attribute("href") for i in range(5)]
    best = 0
    for href in links:
        page.goto(served.base + str(href))
        if page.locator("#ring-size").count():
            best = int(page.inner_text("#ring-size"))
            if best >= 3 and page.locator("#graph g.ring").count() >= 3:
                break
    assert best >= 3, "a cash-out ring's account should sit in a cluster of several"
    assert page.locator("#graph g.ring").count() >= 3
    shot(page, "06-ring-graph")
