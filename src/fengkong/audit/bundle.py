"""Evidence bundles: one user's chain entries, their records and Merkle inclusion proofs
under a signed checkpoint, verifiable offline (:mod:`fengkong.audit.verify_bundle`).

The bundle file is canonical JSON (so any changed byte is detected)::

    {"format": "fengkong-evidence/1", "user": "u-1", "public_key": "name+hash+key",
     "checkpoint": "<signed note>",
     "items": [{"entry": "<the entry's exact JSON>", "proof": ["<base64 hash>", ...],
                "record": {<the record's columns>} or null}]}
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from typing import Any

import orjson

from fengkong.audit import log
from fengkong.audit.canonical import canonical
from fengkong.audit.checkpoint import Signer, verify_checkpoint
from fengkong.audit.merkle import inclusion_proofs, leaf_hash
from fengkong.audit.records import APPEND_ONLY, body_columns, record_fields
from fengkong.audit.stored import plain_of

FORMAT = "fengkong-evidence/1"
VERIFY_COMMAND = "python -m fengkong.audit.verify_bundle BUNDLE.json --key PUBLIC_KEY"


def _record(conn: log.Connection, kind: str, ref: str) -> dict[str, Any] | None:
    if kind not in APPEND_ONLY:
        return None
    table, columns, key, _, _ = APPEND_ONLY[kind]
    row = conn.execute(
        f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = ?", (ref,)
    ).fetchone()
    if row is None:
        return None
    return record_fields(kind, plain_of(conn).row(tuple(row), body_columns(kind)))


def export_bundle(conn: log.Connection, signer: Signer, note: str, user: str) -> dict[str, Any]:
    """The bundle of ``user``'s entries under checkpoint ``note`` (signed by ``signer``)."""
    cp = verify_checkpoint(note, signer.verifier)
    leaves = [leaf_hash(s.entry) for s in log.entries(conn)][: cp.size]
    mine = [s for s in log.entries(conn, user=user) if s.seq <= cp.size]
    proofs = inclusion_proofs(leaves, [s.seq - 1 for s in mine])
    items = []
    for s in mine:
        entry = s.parsed()
        items.append(
            {
                "entry": s.entry.decode(),
                "proof": [base64.b64encode(p).decode() for p in proofs[s.seq - 1]],
                "record": _record(conn, str(entry["kind"]), str(entry["ref"])),
            }
        )
    return {
        "format": FORMAT,
        "user": user,
        "public_key": signer.verifier.encode(),
        "checkpoint": note,
        "items": items,
    }


def bundle_bytes(bundle: dict[str, Any]) -> bytes:
    return canonical(bundle)


def _when(at: Any) -> str:
    try:
        return datetime.fromtimestamp(float(at), UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError):
        return "?"


def _summary(kind: str, record: dict[str, Any] | None, data: Any) -> str:
    if record is None:
        return orjson.dumps(data).decode() if data else ""
    if kind == "event":
        body = orjson.loads(record["body"])
        amount = f" {body['amount']} {body.get('currency', '')}" if "amount" in body else ""
        return f"{body['type']}{amount} at {body['occurred_at']}"
    if kind == "decision":
        body = orjson.loads(record["body"])
        reasons = ", ".join(r["name"] for r in body.get("reasons", []))
        return f"{body['decision']} (score {body['score']}){': ' + reasons if reasons else ''}"
    if kind == "label":
        return f"{record['label']} from {record['source']}"
    return ""


def bundle_html(bundle: dict[str, Any]) -> str:
    """A page a person can read; the JSON file is the evidence, this only shows it."""
    rows = []
    for item in bundle["items"]:
        e = orjson.loads(item["entry"])
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v))}</td>"
                for v in (
                    e["seq"],
                    _when(e["at"]),
                    e["kind"],
                    e["ref"],
                    e.get("actor") or "",
                    _summary(e["kind"], item["record"], e.get("data")),
                )
            )
            + "</tr>"
        )
    esc = html.escape
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evidence bundle: {esc(bundle["user"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}
pre{{background:#f4f4f4;padding:1em}}</style></head><body>
<h1>Evidence bundle for user {esc(bundle["user"])}</h1>
<p>{len(bundle["items"])} entries of the fengkong audit chain, each with a Merkle inclusion
proof (RFC 6962) under the signed checkpoint below. The JSON file beside this page is the
evidence; check it, without any fengkong database, with:</p>
<pre>{esc(VERIFY_COMMAND)}</pre>
<p>Public key (compare it with the one the operator published):</p>
<pre>{esc(bundle["public_key"])}</pre>
<h2>Signed checkpoint</h2><pre>{esc(bundle["checkpoint"])}</pre>
<h2>Entries</h2>
<table><tr><th>#</th><th>recorded (UTC)</th><th>kind</th><th>ref</th><th>by</th>
<th>what</th></tr>
{"".join(rows)}
</table></body></html>
"""
