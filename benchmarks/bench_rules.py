"""Cost of the rules stage: per rule and for the whole default pack, per event.

Events come from the scenario simulator (honest users and attacks), replayed through
the enrich → features → graph stages so that rules see real point-in-time values.
Then, for every context, we time (a) each rule's compiled test alone and (b) the whole
pack: frame + per-type index + every applicable rule + turning hits into proposals.

    python benchmarks/bench_rules.py [--users 400] [--days 7] [--repeat 3] [--per-rule]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable

from fengkong.decisions.types import DecisionContext
from fengkong.events import parse_event
from fengkong.rules import Frame, ListSnapshot, compile_ruleset, default_ruleset
from fengkong.rules.stage import RulesStage, replay_contexts
from fengkong.runtime import default_replay_stages, default_rule_names
from fengkong.sim import SimConfig, simulate


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=400)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--per-rule", action="store_true", help="also time every rule alone")
    args = ap.parse_args()

    cfg = SimConfig(users=args.users, days=args.days, seed=7, attack_rate=0.2)
    events = [parse_event(ev) for ev, _lab in simulate(cfg) if ev]
    t0 = time.perf_counter()
    contexts = list(replay_contexts(events, default_replay_stages()))
    replay_s = time.perf_counter() - t0
    rs = compile_ruleset(default_ruleset(), default_rule_names())
    lists = ListSnapshot()
    stage = RulesStage(rs, lists)
    print(
        f"{len(contexts)} events replayed through enrich/features/graph in {replay_s:.1f} s; "
        f"{len(rs.rules)} rules"
    )

    # Whole pack, as the pipeline runs it: one fresh context per event. The collector is
    # paused while timing so that its pauses (caused by the replay's garbage) do not land
    # on whichever event happens to trigger them.
    gc.collect()
    gc.disable()
    pack_ns: list[float] = []
    eval_ns: list[float] = []
    hits = 0
    for _ in range(args.repeat):
        for c in contexts:
            ctx = DecisionContext(c.event, c.facts, c.features)
            t = time.perf_counter_ns()
            stage.run(ctx)
            pack_ns.append(time.perf_counter_ns() - t)
            t = time.perf_counter_ns()
            frame = rs.frame(c.event, c.features, c.facts, lists)
            hits += len(rs.evaluate(frame))
            eval_ns.append(time.perf_counter_ns() - t)
    gc.enable()
    print(
        f"whole pack (stage.run, with hits applied): p50 {_pct(pack_ns, 0.5) / 1000:.2f} µs, "
        f"p99 {_pct(pack_ns, 0.99) / 1000:.2f} µs, mean {statistics.fmean(pack_ns) / 1000:.2f} µs"
    )
    print(
        f"evaluation only (frame + index + tests):   p50 {_pct(eval_ns, 0.5) / 1000:.2f} µs, "
        f"p99 {_pct(eval_ns, 0.99) / 1000:.2f} µs; hit rate "
        f"{hits / len(eval_ns):.3f} rules/event"
    )
    by_type: dict[str, list[float]] = {}
    for c, ns in zip(contexts * args.repeat, pack_ns, strict=True):
        by_type.setdefault(str(c.event.type), []).append(ns)
    for t, ns in sorted(by_type.items()):
        print(
            f"  {t:16s} n={len(ns) // args.repeat:6d} rules={len(rs.by_type[t]):3d} "
            f"p50 {_pct(ns, 0.5) / 1000:6.2f} µs  p99 {_pct(ns, 0.99) / 1000:6.2f} µs"
        )

    if args.per_rule:
        frames = [(c.event.type, rs.frame(c.event, c.features, c.facts, lists)) for c in contexts]
        print("per rule (mean of its test alone over the events of the types it applies to,")
        print("best of 5 passes; the per-type index skips it for other types):")
        for rule in rs.rules:
            test = rule.expr.test
            mine = [fr for t, fr in frames if rule.expr.types is None or t in rule.expr.types]
            if not mine or rule.status == "disabled":
                continue
            best = min(_loop(test, mine) for _ in range(5))
            print(f"  {rule.name:36s} {best * 1e6:5.2f} µs  n={len(mine)}")


def _loop(test: Callable[[Frame], object], frames: list[Frame]) -> float:
    t = time.perf_counter()
    for fr in frames:
        test(fr)
    return (time.perf_counter() - t) / len(frames)


if __name__ == "__main__":
    main()
