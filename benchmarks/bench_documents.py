"""Forged-document detection on generated ID cards, licences and certificates.

    python benchmarks/bench_documents.py --per-kind 20 --capture B --seed 1

Generates genuine documents and forgeries of each kind (``fengkong.documents.synth``),
analyses every image as the documents stage does (OCR, number checks, seals, pixel
forensics, perceptual hash) in two worker processes, feeds the results through a
``DocumentsStage`` in upload order (so recycled templates meet their originals), and
prints per forgery kind: the share flagged by the default rules' conditions
(accuracy on that kind, genuine documents' false-flag rate beside it), the ROC AUC of
the document risk score against genuine documents of the same type, and each check's
latency (p50 / p95 wall and the CPU seconds of the whole analysis). ``--capture``
picks how the documents are photographed, edited and uploaded
(``fengkong.documents.synth.CAPTURES``): thresholds were set on profile A, seed 0;
profile B (other noise, blur, light, scale, JPEG qualities and app resizing) is the
held-out test.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from fengkong.documents import facts as document_facts
from fengkong.documents import synth
from fengkong.documents.analyse import analyse_document
from fengkong.documents.facts import document_risk
from fengkong.documents.stage import DocumentsStage
from fengkong.events import Event

# The forgeries of an ID card: every kind but the genuine one and the licence-only kinds.
_NOT_ID = ("genuine", "seal_mismatch", "bad_uscc")
ID_KINDS = tuple(k for k in synth.FORGERY_KINDS if k not in _NOT_ID)


def _samples(per_kind: int, seed: int, cap: str) -> list[synth.Sample]:
    out: list[synth.Sample] = []
    genuine = [synth.make_id_sample(n, "genuine", seed, capture=cap) for n in range(per_kind * 2)]
    out.extend(genuine)
    for kind in ID_KINDS:
        for n in range(per_kind):
            template = genuine[n] if kind == "recycled_template" else None
            out.append(synth.make_id_sample(1000 + n, kind, seed, template, capture=cap))
    for n in range(per_kind * 2):
        out.append(synth.make_licence_sample(n, "genuine", seed, capture=cap))
        out.append(synth.make_certificate_sample(n, "genuine", seed, capture=cap))
    for n in range(per_kind):
        out.append(synth.make_licence_sample(1000 + n, "bad_uscc", seed, capture=cap))
        out.append(synth.make_licence_sample(2000 + n, "seal_mismatch", seed, capture=cap))
        out.append(synth.make_certificate_sample(1000 + n, "seal_mismatch", seed, capture=cap))
    return out


def _analyse(sample: synth.Sample) -> tuple[dict[str, Any], float]:
    started = time.process_time()
    analysis = analyse_document(sample.image_b64, sample.kind, "2026-12-01")
    return analysis, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--capture", choices=sorted(synth.CAPTURES), default="A")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dump", help="write each sample's analysis (JSON lines) here")
    parser.add_argument(
        "--from-dump",
        help="score the analyses of an earlier --dump (same --per-kind, --seed, --capture)",
    )
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=sorted(document_facts.FORENSIC_LIMITS),
        help="score as if this forensic score carried no weight (the figure before it)",
    )
    args = parser.parse_args()
    for name in args.without:
        document_facts.FORENSIC_LIMITS[name] = (1e9, 2e9, 0.0)
    samples = _samples(args.per_kind, args.seed, args.capture)
    if args.from_dump:
        with open(args.from_dump, "rb") as dumped:
            rows = [orjson.loads(line) for line in dumped]
        assert [(r["kind"], r["forgery"]) for r in rows] == [
            (s.kind, s.forgery) for s in samples
        ], "the dump is of another --per-kind, --seed or --capture"
        results = [
            ({k: v for k, v in r.items() if k not in ("kind", "forgery", "cpu")}, r["cpu"])
            for r in rows
        ]
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(
                tqdm(pool.map(_analyse, samples, chunksize=2), total=len(samples), desc="analyse")
            )
    if args.dump:
        with open(args.dump, "wb") as out:
            for sample, (analysis, cpu) in zip(samples, results, strict=True):
                row = {"kind": sample.kind, "forgery": sample.forgery, "cpu": cpu, **analysis}
                out.write(orjson.dumps(row) + b"\n")
    stage = DocumentsStage()
    start = datetime(2026, 12, 1, tzinfo=UTC)
    scores: dict[tuple[str, str], list[float]] = {}
    flagged: dict[tuple[str, str], list[bool]] = {}
    for i, (sample, (analysis, _)) in enumerate(zip(samples, results, strict=True)):
        event = Event.model_validate(
            {
                "event_id": f"d{i}",
                "type": "document_upload",
                "user_id": sample.account,
                "occurred_at": (start + timedelta(minutes=i)).isoformat(),
                "document": {"kind": sample.kind, "image_b64": "aGVsbG8="},
            }
        )
        facts, _ = stage.facts_of(event, analysis)
        stage.learn(event, analysis)
        risk, flag = document_risk(facts)
        key = (sample.kind, sample.forgery)
        scores.setdefault(key, []).append(risk)
        flagged.setdefault(key, []).append(flag)
    print(f"{'document':<18}{'forgery':<20}{'n':>4}{'flagged':>10}{'AUC':>8}")
    for (kind, forgery), values in sorted(scores.items()):
        share = sum(flagged[(kind, forgery)]) / len(values)
        auc = ""
        if forgery != "genuine":
            honest = scores[(kind, "genuine")]
            labels = [0] * len(honest) + [1] * len(values)
            auc = f"{roc_auc_score(labels, honest + values):.3f}"
        print(f"{kind:<18}{forgery:<20}{len(values):>4}{share:>10.1%}{auc:>8}")
    forged = [f for (k, g), fl in flagged.items() if g != "genuine" for f in fl]
    honest = [f for (k, g), fl in flagged.items() if g == "genuine" for f in fl]
    correct = sum(forged) + sum(not f for f in honest)
    print(
        f"overall accuracy {correct / (len(forged) + len(honest)):.1%} "
        f"(forgeries caught {sum(forged) / len(forged):.1%}, "
        f"genuine flagged {sum(honest) / len(honest):.1%}); seed's claim: over 97 %"
    )
    _raw_aucs(samples, [a for a, _ in results])
    checks = sorted({name for analysis, _ in results for name in analysis.get("timings_ms", {})})
    for name in checks:
        ms = [a["timings_ms"][name] for a, _ in results if name in a.get("timings_ms", {})]
        q = statistics.quantiles(ms, n=20)
        print(f"  {name:<10} p50 {statistics.median(ms):8.1f} ms   p95 {q[18]:8.1f} ms (wall)")
    cpu = [c for _, c in results]
    print(f"  whole analysis CPU: p50 {statistics.median(cpu):.2f} s, max {max(cpu):.2f} s")


RAW_SCORES = ("ela_region", "noise_region", "copy_move_blocks", "djpeg_region", "text_box_z")


def _raw_aucs(samples: list[synth.Sample], analyses: list[dict[str, Any]]) -> None:
    """AUC of each raw forensic score, genuine ID cards against each pixel forgery."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for sample, analysis in zip(samples, analyses, strict=True):
        if sample.kind == "id_card":
            by_kind.setdefault(sample.forgery, []).append(analysis)
    honest = by_kind.get("genuine", [])
    print(f"raw forensic AUC (ID cards){'':<2}" + "".join(f"{n:>18}" for n in RAW_SCORES))
    for kind, forged in sorted(by_kind.items()):
        if kind == "genuine" or not honest:
            continue
        labels = [0] * len(honest) + [1] * len(forged)
        row = []
        for name in RAW_SCORES:
            values = [float(a.get(name) or 0.0) for a in honest + forged]
            row.append(f"{roc_auc_score(labels, values):>18.3f}")
        print(f"  {kind:<26}" + "".join(row))


if __name__ == "__main__":
    main()
