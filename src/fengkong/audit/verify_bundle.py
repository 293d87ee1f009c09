"""Verify an evidence bundle offline: ``python -m fengkong.audit.verify_bundle B.json --key K``.

Needs only the bundle and the operator's published public key (``--key``; without it
the key inside the bundle is used, which proves integrity but not origin). Checks that
the file is canonical JSON, that the checkpoint is signed by the key, that every entry
is included in the checkpoint's tree (RFC 6962 inclusion proof), that every record
hashes to its entry's digest, and that every entry is about the bundle's user.
Exit status 0 when all holds, 1 with the first problem otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from fengkong.audit.canonical import canonical
from fengkong.audit.checkpoint import CheckpointError, parse_verifier, strict_b64, verify_checkpoint
from fengkong.audit.merkle import leaf_hash, verify_inclusion
from fengkong.audit.records import fields_digest

FORMAT = "fengkong-evidence/1"


class BundleInvalid(ValueError):
    """The bundle does not verify; the message says where."""


def _item(i: int, item: Any, user: str, size: int, root: bytes) -> None:
    where = f"items[{i}]"
    if not isinstance(item, dict) or set(item) != {"entry", "proof", "record"}:
        raise BundleInvalid(f"{where}: expected entry, proof and record")
    raw = item["entry"]
    if not isinstance(raw, str):
        raise BundleInvalid(f"{where}.entry: not a string")
    data = raw.encode()
    try:
        entry = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BundleInvalid(f"{where}.entry: not JSON") from None
    if not isinstance(entry, dict) or canonical(entry) != data:
        raise BundleInvalid(f"{where}.entry: not a canonical JSON object")
    seq = entry.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise BundleInvalid(f"{where}.entry: no seq")
    if entry.get("user") != user:
        raise BundleInvalid(f"{where} (entry {seq}): about {entry.get('user')!r}, not {user!r}")
    proof = item["proof"]
    if not isinstance(proof, list) or not all(isinstance(p, str) for p in proof):
        raise BundleInvalid(f"{where}.proof: expected a list of base64 hashes")
    try:
        path = [strict_b64(p) for p in proof]
    except CheckpointError as exc:
        raise BundleInvalid(f"{where}.proof: {exc}") from None
    if not verify_inclusion(leaf_hash(data), seq - 1, size, path, root):
        raise BundleInvalid(f"{where} (entry {seq}): not included in the signed checkpoint")
    record, digest = item["record"], entry.get("digest")
    if digest is None:
        if record is not None:
            raise BundleInvalid(f"{where} (entry {seq}): a record where the entry covers none")
        return
    if not isinstance(record, dict):
        raise BundleInvalid(f"{where} (entry {seq}): the record is missing")
    try:
        actual = fields_digest(str(entry.get("kind")), record)
    except (KeyError, ValueError, AttributeError) as exc:
        raise BundleInvalid(f"{where} (entry {seq}): bad record: {exc}") from None
    if actual != digest:
        raise BundleInvalid(f"{where} (entry {seq}): the record does not match its digest")


def verify_bundle(raw: bytes, key: str | None = None) -> dict[str, Any]:
    """Check a bundle's bytes; returns a summary, raises :class:`BundleInvalid`."""
    try:
        bundle = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BundleInvalid("not JSON") from None
    if not isinstance(bundle, dict) or canonical(bundle) != raw:
        raise BundleInvalid("not a canonical JSON object (the file was changed)")
    fields = {"format", "user", "public_key", "checkpoint", "items"}
    if set(bundle) != fields:
        raise BundleInvalid(f"expected the fields {', '.join(sorted(fields))}")
    if bundle["format"] != FORMAT:
        raise BundleInvalid(f"format is not {FORMAT}")
    user, items = bundle["user"], bundle["items"]
    if not isinstance(user, str) or not isinstance(items, list):
        raise BundleInvalid("user must be a string and items a list")
    try:
        verifier = parse_verifier(str(bundle["public_key"]))
        if key is not None and parse_verifier(key).encode() != verifier.encode():
            raise BundleInvalid("the bundle is signed with another key than the one given")
        cp = verify_checkpoint(str(bundle["checkpoint"]), verifier)
    except CheckpointError as exc:
        raise BundleInvalid(f"checkpoint: {exc}") from None
    for i, item in enumerate(items):
        _item(i, item, user, cp.size, cp.root)
    seqs = [orjson.loads(item["entry"])["seq"] for item in items]
    if seqs != sorted(set(seqs)):
        raise BundleInvalid("items are not in chain order, or repeat")
    return {"user": user, "entries": len(items), "tree_size": cp.size, "origin": cp.origin}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fengkong.audit.verify_bundle")
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--key", help="the operator's published public key (name+hash+key)")
    args = parser.parse_args(argv)
    try:
        summary = verify_bundle(args.bundle.read_bytes(), args.key)
    except (BundleInvalid, OSError) as exc:
        print(f"INVALID: {exc}", file=sys.stderr)
        return 1
    print(
        f"OK: {summary['entries']} entries about {summary['user']!r}, included in the "
        f"checkpoint of {summary['origin']} at tree size {summary['tree_size']}"
        + ("" if args.key else " (signature checked with the bundle's own key; pass --key)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
