"""Do image checks stall other requests? Payment latency with and without uploads.

    python benchmarks/bench_image_latency.py --payments 400 --documents 12

Builds a server runtime (image worker pool, default budget), then in one event loop
sends payments every 25 ms through ``Engine.decide_async`` as the HTTP app does, first
alone (baseline), then while ID-card uploads arrive every 0.8 s. Prints payment
latency p50 / p99 / max in both runs, how the uploads were answered (decided within
the budget, or ``review`` pending with the result attached later) and their latency.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from fengkong.documents import synth
from fengkong.runtime import Runtime, build_runtime
from fengkong.settings import Settings


def _payment(i: int, run: str) -> dict[str, Any]:
    return {
        "event_id": f"{run}-p{i}",
        "type": "payment",
        "user_id": f"u{i % 50}",
        "occurred_at": "2026-12-01T10:00:00+08:00",
        "amount": "25.00",
    }


def _upload(i: int, sample: synth.Sample) -> dict[str, Any]:
    return {
        "event_id": f"doc{i}",
        "type": "document_upload",
        "user_id": sample.account,
        "occurred_at": "2026-12-01T10:00:00+08:00",
        "document": {"kind": sample.kind, "image_b64": sample.image_b64},
    }


async def _timed(rt: Runtime, raw: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    (out,) = await rt.engine.decide_async([rt.engine.accept(raw)])
    return (time.perf_counter() - started) * 1000.0, out


async def _run(rt: Runtime, payments: int, uploads: list[dict[str, Any]], run: str) -> Any:
    async def pay() -> list[float]:
        times = []
        for i in range(payments):
            times.append((await _timed(rt, _payment(i, run)))[0])
            await asyncio.sleep(0.025)
        return times

    async def docs() -> list[tuple[float, dict[str, Any]]]:
        answers = []
        for raw in uploads:
            answers.append(await _timed(rt, raw))
            await asyncio.sleep(0.8)
        return answers

    return await asyncio.gather(pay(), docs())


def _summary(name: str, times: list[float]) -> None:
    q = statistics.quantiles(times, n=100)
    print(f"{name:<34} p50 {q[49]:7.1f} ms  p99 {q[98]:7.1f} ms  max {max(times):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=400)
    parser.add_argument("--documents", type=int, default=12)
    args = parser.parse_args()
    samples = [synth.make_id_sample(n, "genuine", seed=5) for n in range(args.documents)]
    uploads = [_upload(i, s) for i, s in enumerate(samples)]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db_path=Path(tmp) / "lat.db", token_secret="t" * 32)
        rt = build_runtime(settings, server=True)
        try:
            base, _ = asyncio.run(_run(rt, args.payments, [], "a"))
            loaded, answers = asyncio.run(_run(rt, args.payments, uploads, "b"))
            time.sleep(settings.image_budget_s * 4)
            late = sum(
                "documents" in (rt.store.decision(u["event_id"]) or (b"", b"{}"))[1].decode()
                for u in uploads
            )
        finally:
            rt.close()
    print(f"image workers {settings.image_workers}, budget {settings.image_budget_s} s")
    _summary("payments alone", base)
    _summary("payments during document uploads", loaded)
    _summary("document uploads (answer)", [t for t, _ in answers])
    pending = [
        o for _, o in answers if any(r["name"] == "document_checks_pending" for r in o["reasons"])
    ]
    print(
        f"uploads decided within the budget: {len(answers) - len(pending)}/{len(answers)}; "
        f"pending (review, result attached later): {len(pending)}; "
        f"decisions carrying document facts afterwards: {late}/{len(answers)}"
    )


if __name__ == "__main__":
    main()
