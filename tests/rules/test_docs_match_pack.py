"""docs/rules.md's table of the default pack says what the pack does.

The table is the analysts' reference: one row per rule with its condition, action and
score. Rows drifted from the pack before (rules turned into points-only rules while
the docs still showed them challenging), so every row is compared with the loaded pack:
same rules, same status, same action, same score, same condition (whitespace aside).
The description column is prose that may add links, so it is not compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from fengkong.rules import Rule, default_ruleset

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
HEADER = "| rule | attack it answers | condition | action | score |"
_NAME_CELL = re.compile(r"^`([A-Za-z0-9_.-]+)`(?: \((shadow|disabled)\))?$")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True)
class Row:
    """One documented rule, as the table states it."""

    name: str
    status: str
    condition: str
    action: tuple[str, ...]
    score: float


def _action_cell(text: str) -> tuple[str, ...]:
    # "points only" is how the table writes action = "allow".
    if text == "points only":
        return ("allow",)
    return tuple(part.strip() for part in text.split(" + "))


def _squash(text: str) -> str:
    return " ".join(text.split())


def parse_table(markdown: str) -> list[Row]:
    """The rows of the default pack's table (raises ValueError on a malformed row)."""
    lines = markdown.splitlines()
    try:
        start = lines.index(HEADER)
    except ValueError:
        raise ValueError(f"docs/rules.md has no table headed {HEADER!r}") from None
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in _CELL_SPLIT.split(line.strip()[1:-1])]
        if len(cells) != 5:
            raise ValueError(f"row with {len(cells)} cells, not 5: {line[:80]}")
        name = _NAME_CELL.match(cells[0])
        if name is None:
            raise ValueError(f"rule cell is not `name` or `name` (shadow): {cells[0]!r}")
        rows.append(
            Row(
                name=name.group(1),
                status=name.group(2) or "active",
                condition=_squash(cells[2].strip("`").replace("\\|", "|")),
                action=_action_cell(cells[3]),
                score=float(cells[4]),
            )
        )
    return rows


def drift(rules: list[Rule], rows: list[Row]) -> list[str]:
    """Every difference between the pack's rules and the documented rows."""
    problems: list[str] = []
    documented: dict[str, Row] = {}
    for row in rows:
        if row.name in documented:
            problems.append(f"{row.name}: documented twice")
        documented[row.name] = row
    in_pack = {rule.name for rule in rules}
    problems += [f"{n}: documented but not in the pack" for n in documented if n not in in_pack]
    for rule in rules:
        doc = documented.get(rule.name)
        if doc is None:
            problems.append(f"{rule.name}: in the pack but missing from the table")
            continue
        pack_row = Row(rule.name, rule.status, _squash(rule.when), tuple(rule.actions), rule.score)
        for field in ("status", "action", "score", "condition"):
            want, got = getattr(pack_row, field), getattr(doc, field)
            if want != got:
                problems.append(f"{rule.name}: {field} is {want!r} in the pack, docs say {got!r}")
    return problems


@pytest.fixture(scope="module")
def docs_text() -> str:
    if not DOCS.exists():
        pytest.skip("docs/rules.md is not here (installed package, not a checkout)")
    return DOCS.read_text(encoding="utf-8")


def test_docs_table_matches_the_default_pack(docs_text: str) -> None:
    problems = drift(default_ruleset().rules, parse_table(docs_text))
    assert not problems, "docs/rules.md drifted from the default pack:\n" + "\n".join(problems)


def _edited(text: str, name: str, old: str, new: str) -> str:
    """The docs with one cell text of one rule's row replaced."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"| `{name}` "):
            assert old in line, (name, old)
            lines[i] = line.replace(old, new)
            return "\n".join(lines)
    raise AssertionError(f"no row for {name}")


def test_drift_is_reported_for_each_kind_of_change(docs_text: str) -> None:
    rules = default_ruleset().rules
    shadow = "`ring_registration_shadow`"
    without_row = "\n".join(
        line for line in docs_text.splitlines() if not line.startswith("| `reg_id_reuse` ")
    )
    cases = {  # what the report must say: the docs with one change
        "reg_rooted: action": _edited(docs_text, "reg_rooted", "| points only |", "| review |"),
        "reg_device_day: score": _edited(docs_text, "reg_device_day", "| 60 |", "| 70 |"),
        "reg_device_day: condition": _edited(docs_text, "reg_device_day", "_24h >= 8", "_24h >= 9"),
        "ring_registration_shadow: status": _edited(
            docs_text, "ring_registration_shadow", f"{shadow} (shadow)", shadow
        ),
        "reg_id_reuse: in the pack but missing": without_row,
        "reg_id_gone: documented but not in the pack": _edited(
            docs_text, "reg_id_reuse", "`reg_id_reuse`", "`reg_id_gone`"
        ),
    }
    # Only what the edit adds counts, so this test says nothing about the real table.
    before = set(drift(rules, parse_table(docs_text)))
    for expected, text in cases.items():
        added = set(drift(rules, parse_table(text))) - before
        assert any(p.startswith(expected) for p in added), (expected, added)
        assert len(added) == (2 if "gone" in expected else 1), added


def test_a_malformed_row_is_an_error_not_a_silent_skip(docs_text: str) -> None:
    broken = _edited(docs_text, "reg_id_reuse", "| review | 40 |", "| review |")
    with pytest.raises(ValueError, match="cells"):
        parse_table(broken)
