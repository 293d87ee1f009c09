"""The simulation loop: one day at a time, honest users in blocks, attacks merged in.

Memory stays bounded: each day's events of one block of users are sorted into a *run*
(kept in memory for small populations, spilled to a temporary file for large ones), and
the runs of a day are merged with :func:`heapq.merge`. Attack campaigns are planned up
front and generated when they start; their pending events wait in a heap.
"""

from __future__ import annotations

import heapq
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson
from tqdm import tqdm

from fengkong.sim import identity as ident
from fengkong.sim.campaign import LABEL_TIMING, AttackRec, Campaign
from fengkong.sim.population import DAY, Population
from fengkong.sim.scenarios import SCENARIOS, SPAN_DAYS, TYPICAL_ACCOUNTS
from fengkong.sim.world import WORLD_A, World

# Fixed: the block structure is part of what the seed reproduces.
BLOCK_SIZE = 5000
# Above this many users, each block's day is spilled to a temporary file.
SPILL_ABOVE_USERS = 20_000

# Campaigns may act this long before their planned start (accounts registered early).
LOOKAHEAD = 21 * DAY

Line = tuple[int, int, int, bytes, bytes]  # ts, run, seq, event JSON, label JSON (or b"")


@dataclass(frozen=True)
class SimConfig:
    """What to simulate. ``attack_rate``: share of users that are attackers or victims
    per 30 days, spread evenly over the chosen scenarios."""

    users: int = 1000
    days: int = 30
    seed: int = 0
    start: date = date(2026, 10, 1)
    scenarios: tuple[str, ...] = tuple(SCENARIOS)
    attack_rate: float = 0.01
    datacenter_csv: Path | None = None
    new_user_share: float = 0.25
    world: World = WORLD_A

    def __post_init__(self) -> None:
        unknown = [s for s in self.scenarios if s not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenarios: {', '.join(unknown)}")
        if self.users < 1 or self.days < 1:
            raise ValueError("users and days must be at least 1")
        if not 0 <= self.attack_rate <= 1:
            raise ValueError("attack_rate must be within [0, 1]")

    @property
    def start_ts(self) -> int:
        midnight = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        return int((midnight - timedelta(hours=8)).timestamp())  # midnight in China


@dataclass
class SimStats:
    """What was written: counts by event type and by scenario."""

    events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    fraud_events: Counter[str] = field(default_factory=Counter)
    fraud_accounts: Counter[str] = field(default_factory=Counter)
    campaigns: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class _Plan:
    start_ts: int
    scenario: str
    cid: int


def plan_campaigns(cfg: SimConfig, pop: Population) -> list[_Plan]:
    """How many campaigns of each scenario, and when each starts."""
    rnd = random.Random(ident.h64(cfg.seed, "plan"))
    plans: list[_Plan] = []
    chosen = [s for s in SCENARIOS if s in cfg.scenarios]
    if not chosen or cfg.attack_rate == 0:
        return plans
    per_scenario = cfg.users * cfg.attack_rate * cfg.days / 30 / len(chosen)
    for name in chosen:
        count = max(1, round(per_scenario / TYPICAL_ACCOUNTS[name]))
        latest = max(cfg.days - SPAN_DAYS[name], 0)
        for _ in range(count):
            day = rnd.randint(0, latest)
            ts = cfg.start_ts + day * DAY + rnd.randrange(DAY)
            plans.append(_Plan(ts, name, len(plans)))
    plans.sort(key=lambda p: (p.start_ts, p.cid))
    return plans


class _Spill:
    """A sorted run written to a temporary file and read back lazily."""

    def __init__(self, lines: list[Line], tmpdir: str) -> None:
        # Closed once read to the end, by __iter__.
        self.fh: IO[bytes] = tempfile.TemporaryFile(dir=tmpdir)  # noqa: SIM115
        for ts, run, seq, ev, lab in lines:
            self.fh.write(b"%d\t%d\t%d\t%s\t%s\n" % (ts, run, seq, ev, lab))
        self.fh.seek(0)

    def __iter__(self) -> Iterator[Line]:
        for raw in self.fh:
            ts, run, seq, ev, lab = raw.rstrip(b"\n").split(b"\t")
            yield int(ts), int(run), int(seq), ev, lab
        self.fh.close()


def simulate(
    cfg: SimConfig, stats: SimStats | None = None, progress: bool = False, tmpdir: str | None = None
) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(event JSON, label JSON or b"")`` in ``occurred_at`` order, then the
    account labels as ``(b"", label JSON)``."""
    stats = stats if stats is not None else SimStats()
    datacenter = ident.load_datacenter_pool(cfg.datacenter_csv)
    pop = Population(
        cfg.users, cfg.days, cfg.seed, cfg.start_ts, cfg.new_user_share, cfg.world, datacenter
    )
    fmt = _Formats(cfg.world)
    plans = plan_campaigns(cfg, pop)
    for p in plans:
        stats.campaigns[p.scenario] += 1
    end_ts = cfg.start_ts + cfg.days * DAY
    pending: list[tuple[int, int, int, AttackRec]] = []
    carry: list[Line] = []  # honest events past the end of their day
    accounts: dict[str, tuple[str, int]] = {}  # fraud account -> (scenario, last event ts)
    blocks = list(range(0, cfg.users, BLOCK_SIZE))
    spill = cfg.users > SPILL_ABOVE_USERS
    bar = tqdm(
        total=cfg.days * (len(blocks) + 1),
        unit="slice",
        file=sys.stderr,
        disable=not progress,
        desc="simulating",
    )
    with tempfile.TemporaryDirectory(dir=tmpdir) as tdir:
        next_plan = 0
        for day in range(cfg.days):
            day_end = cfg.start_ts + (day + 1) * DAY
            day_start = day_end - DAY
            # Campaigns are built ahead of their start: some accounts register weeks early.
            while next_plan < len(plans) and plans[next_plan].start_ts < day_end + LOOKAHEAD:
                p = plans[next_plan]
                next_plan += 1
                camp = Campaign(pop, datacenter, p.scenario, p.cid, p.start_ts)
                SCENARIOS[p.scenario](camp)
                for rec in camp.recs:
                    if day_start <= rec.ts < end_ts:
                        heapq.heappush(pending, (rec.ts, p.cid, rec.seq, rec))
            runs: list[Iterable[Line]] = []
            for b, lo in enumerate(blocks):
                hi = min(lo + BLOCK_SIZE, cfg.users)
                recs = pop.day_events(day, lo, hi, run_key=day * 100_003 + b)
                lines = []
                for ts, seq, event in recs:
                    line = (ts, b, seq, fmt.dumps(event), b"")
                    if ts < day_end:
                        lines.append(line)
                    elif ts < end_ts:  # a late session running past midnight
                        heapq.heappush(carry, line)
                runs.append(_Spill(lines, tdir) if spill else lines)
                bar.update(1)
            attack: list[Line] = []
            while pending and pending[0][0] < day_end:
                ts, cid, seq, rec = heapq.heappop(pending)
                label = orjson.dumps(rec.label) if rec.label else b""
                attack.append((ts, len(blocks) + cid, seq, fmt.dumps(rec.event), label))
                if rec.label:
                    stats.fraud_events[rec.label["scenario"]] += 1
                if rec.fraud_account is not None:
                    accounts[rec.fraud_account] = (rec.label["scenario"], rec.ts)
            runs.append(attack)
            today: list[Line] = []
            while carry and carry[0][0] < day_end:
                today.append(heapq.heappop(carry))
            runs.append(today)
            bar.update(1)
            for _ts, _run, _seq, ev, lab in heapq.merge(*runs):
                stats.events += 1
                yield ev, lab
            bar.set_postfix(events=stats.events)
    bar.close()
    for uid in sorted(accounts):
        scenario, last = accounts[uid]
        source, lo, hi = LABEL_TIMING[scenario]
        delay = lo + ident.h64(cfg.seed, "acct-label", uid) % (hi - lo)
        stats.fraud_accounts[scenario] += 1
        yield (
            b"",
            orjson.dumps(
                {
                    "user_id": uid,
                    "label": "fraud",
                    "source": source,
                    "at": ident.iso_local(last + delay),
                    "scenario": scenario,
                }
            ),
        )


class _Formats:
    """How clients write events: amounts as decimal strings or numbers, the currency
    often omitted (CNY assumed). Applied alike to honest and attack events, chosen by a
    hash of the event id."""

    def __init__(self, world: World) -> None:
        self.numeric = int(world.numeric_amount_share * 1000)
        self.omitted = int(world.currency_omitted_share * 1000)

    def dumps(self, event: dict[str, Any]) -> bytes:
        amount = event.get("amount")
        if isinstance(amount, str):
            h = ident.h64(event["event_id"])
            if h % 1000 < self.numeric:
                event = {**event, "amount": float(amount)}
            if (h >> 10) % 1000 >= self.omitted:
                event = {**event, "currency": "CNY" if (h >> 20) % 4 else "cny"}
        return orjson.dumps(event)


def _type_of(event_json: bytes) -> str:
    # The type is the second key written by base_event; avoid a full parse per event.
    start = event_json.index(b'"type":"') + 8
    return event_json[start : event_json.index(b'"', start)].decode()


def write_simulation(
    cfg: SimConfig, events_path: Path, labels_path: Path | None = None, progress: bool = False
) -> SimStats:
    """Write the simulated events (and labels) as JSON Lines; returns what was written."""
    stats = SimStats()
    lab_fh: IO[bytes] | None = labels_path.open("wb") if labels_path is not None else None
    try:
        with events_path.open("wb") as ev_fh:
            for ev, lab in simulate(cfg, stats, progress):
                if ev:
                    ev_fh.write(ev + b"\n")
                    stats.by_type[_type_of(ev)] += 1
                if lab and lab_fh is not None:
                    lab_fh.write(lab + b"\n")
    finally:
        if lab_fh is not None:
            lab_fh.close()
    return stats


def scenario_names() -> list[str]:
    return list(SCENARIOS)


def describe(stats: SimStats) -> dict[str, Any]:
    """A JSON-friendly summary of :class:`SimStats`."""
    return {
        "events": stats.events,
        "by_type": dict(sorted(stats.by_type.items())),
        "campaigns": dict(stats.campaigns),
        "fraud_events": dict(stats.fraud_events),
        "fraud_accounts": dict(stats.fraud_accounts),
    }
