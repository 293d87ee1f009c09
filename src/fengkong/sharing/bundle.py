"""Signed bundles of keyed hashes: the one thing a member sends the consortium.

A bundle file is two lines: the canonical JSON body (sorted keys, no whitespace) and
``fengkong-share-signature <member> <key id> <base64 Ed25519 signature of line 1>``.
The signature covers the exact bytes of the body, so nothing is re-serialised to
verify it and any changed byte is refused. The body::

    {"format": "fengkong-share/1", "member": "bank-a", "member_key": "3f9a1c2b",
     "consortium_key": "ck-2026", "created_at": 1795000000, "columns": [...],
     "entries": [["device", "<32 hex>", first_seen, last_seen, confidence, source,
                  expires_at], ...]}
"""

from __future__ import annotations

import base64
import gc
import hashlib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fengkong.sharing.identifiers import KINDS
from fengkong.sharing.keys import MemberDirectory, ShareKeyError

FORMAT = "fengkong-share/1"
SIGNATURE_TAG = b"fengkong-share-signature"
COLUMNS = ("kind", "digest", "first_seen", "last_seen", "confidence", "source", "expires_at")
SOURCES = ("chargeback", "confirmed_case", "customer_report", "analyst")
MAX_ENTRIES = 5_000_000
_HEX = re.compile(r"^[0-9a-f]{32}$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BundleError(ValueError):
    """A bundle that cannot be trusted: bad format, signature, member or key."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One reported identity: its keyed hash and what the member knows of it."""

    kind: str
    digest: str
    first_seen: int
    last_seen: int
    confidence: float
    source: str
    expires_at: int

    def row(self) -> list[object]:
        return [
            self.kind,
            self.digest,
            self.first_seen,
            self.last_seen,
            round(self.confidence, 3),
            self.source,
            self.expires_at,
        ]


@dataclass(frozen=True, slots=True)
class Bundle:
    """A verified bundle: who signed it, with which keys, and its live entries."""

    member: str
    member_key: str
    consortium_key: str
    created_at: int
    entries: list[Entry]
    expired: int
    digest: str


@contextmanager
def no_gc() -> Iterator[None]:
    """The cyclic GC paused: a million parsed rows are no cycles, and walking them again
    at every allocation threshold made decoding a bundle ten times slower."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def sign_bundle(
    entries: Iterable[Entry],
    *,
    member: str,
    signing_key: Ed25519PrivateKey,
    member_key_id: str,
    consortium_key: str,
    created_at: int,
) -> bytes:
    """The bundle file's bytes for ``entries``, signed by the member."""
    if not _NAME.match(member):
        raise BundleError(f"member id {member!r}: letters, digits, '.', '_', '-' (1-64)")
    with no_gc():
        body = {
            "format": FORMAT,
            "member": member,
            "member_key": member_key_id,
            "consortium_key": consortium_key,
            "created_at": int(created_at),
            "columns": list(COLUMNS),
            "entries": [e.row() for e in entries],
        }
        data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    signature = base64.b64encode(signing_key.sign(data))
    tail = b" ".join((SIGNATURE_TAG, member.encode(), member_key_id.encode(), signature))
    return data + b"\n" + tail + b"\n"


def verify_bundle(
    blob: bytes, directory: MemberDirectory, *, now: float, max_skew_s: float = 300.0
) -> Bundle:
    """Check a bundle's signature and every entry; expired entries are dropped and counted.

    Raises :class:`BundleError` naming what is wrong; nothing of a refused bundle is kept.
    """
    body, _, tail = blob.rstrip(b"\n").rpartition(b"\n")
    parts = tail.split(b" ")
    if not body or len(parts) != 4 or parts[0] != SIGNATURE_TAG:
        raise BundleError("not a fengkong-share/1 bundle: no signature line")
    member, key_id = parts[1].decode(errors="replace"), parts[2].decode(errors="replace")
    try:
        signature = base64.b64decode(parts[3], validate=True)
        directory.verify(member, key_id, signature, body)
    except (ValueError, ShareKeyError) as exc:
        raise BundleError(str(exc)) from None
    with no_gc():
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BundleError(f"bundle body is not JSON: {exc}") from None
        _check_header(data, member, key_id, now, max_skew_s)
        limit = directory.max_entries(member)
        if limit is not None and len(data["entries"]) > limit:
            raise BundleError(f"entries: {member!r} may send at most {limit:,}")
        entries, expired = _entries(data["entries"], now, directory.trust(member))
    return Bundle(
        member=member,
        member_key=key_id,
        consortium_key=str(data["consortium_key"]),
        created_at=int(data["created_at"]),
        entries=entries,
        expired=expired,
        digest=hashlib.sha256(blob).hexdigest(),
    )


def _check_header(data: object, member: str, key_id: str, now: float, skew: float) -> None:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BundleError(f"format: expected {FORMAT!r}")
    if data.get("member") != member or data.get("member_key") != key_id:
        raise BundleError("member: the body and the signature line disagree")
    if data.get("columns") != list(COLUMNS):
        raise BundleError(f"columns: expected {list(COLUMNS)}")
    created = data.get("created_at")
    if not isinstance(created, int) or created > now + skew:
        raise BundleError("created_at: missing or in the future")
    if not isinstance(data.get("consortium_key"), str) or not _NAME.match(data["consortium_key"]):
        raise BundleError("consortium_key: missing or malformed")
    if not isinstance(data.get("entries"), list) or len(data["entries"]) > MAX_ENTRIES:
        raise BundleError(f"entries: a list of at most {MAX_ENTRIES:,}")


def _entries(rows: list[object], now: float, trust: float) -> tuple[list[Entry], int]:
    out: list[Entry] = []
    expired = 0
    kinds, sources = set(KINDS), set(SOURCES)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(COLUMNS):
            raise BundleError(f"entries[{i}]: expected {len(COLUMNS)} columns")
        kind, digest, first, last, conf, source, expires = row
        ok = (
            kind in kinds
            and isinstance(digest, str)
            and _HEX.match(digest)
            and all(isinstance(t, int) and not isinstance(t, bool) for t in (first, last, expires))
            and isinstance(conf, int | float)
            and 0 < conf <= 1
            and source in sources
        )
        if not ok or first > last:
            raise BundleError(f"entries[{i}]: malformed entry")
        if expires <= now:
            expired += 1
            continue
        conf = round(float(conf) * trust, 3)
        if conf > 0:
            out.append(Entry(kind, digest, first, last, conf, source, expires))
    return out, expired
