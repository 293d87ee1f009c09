"""What industry sharing costs: bundle export / import for N entries, PSI for n × n.

    python benchmarks/bench_sharing.py --entries 1000000 --psi 10000

Bundle: hashing N canonical identities under the consortium key, signing the bundle,
verifying it (signature and every entry), storing it in a fresh database; with the
JSON encoding and decoding of the same rows as the floor (measured in the same run).
PSI: one exchange between two sets of n items sharing 10 %, revealing the common
items and count-only, with a plain hash-set intersection as the floor.
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

import orjson

from fengkong.sharing import ConsortiumKeys, Entry, MemberDirectory, sign_bundle, verify_bundle
from fengkong.sharing.bundle import no_gc
from fengkong.sharing.keys import key_id_of, load_signing_key, public_key_text
from fengkong.sharing.psi import PsiClient, answer
from fengkong.sharing.stage import build_index
from fengkong.storage.sharing_sqlite import SharingStore


def _timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    took = time.perf_counter() - t0
    print(f"  {label:44s} {took:8.2f} s")
    return out, took


def bench_bundle(n: int, tmp: Path) -> None:
    print(f"bundle of {n:,} entries")
    keys = ConsortiumKeys({"ck": b"k" * 32})
    now = int(time.time())

    def make() -> list[Entry]:
        return [
            Entry(
                "phone",
                keys.digest("ck", "phone", f"+86139{i:08d}"),
                now - 86_400,
                now - 3600,
                0.95,
                "confirmed_case",
                now + 180 * 86_400,
            )
            for i in range(n)
        ]

    entries, t_hash = _timed("hash (HMAC-SHA256, canonical values)", make)
    key = load_signing_key(tmp / "member.key")
    public = public_key_text(key)
    (tmp / "members.toml").write_text(f'[[members]]\nid = "bank-a"\nkeys = ["{public}"]\n')
    rows = [e.row() for e in entries]
    plain, t_floor_enc = _timed("floor: orjson encode of the rows", orjson.dumps, rows)
    blob, t_sign = _timed(
        "export: encode + Ed25519 sign",
        sign_bundle,
        entries,
        member="bank-a",
        signing_key=key,
        member_key_id=key_id_of(public),
        consortium_key="ck",
        created_at=now,
    )
    with no_gc():  # as import decodes
        _, t_floor_dec = _timed("floor: orjson decode of the rows", orjson.loads, plain)
    directory = MemberDirectory.load(tmp / "members.toml")
    bundle, t_verify = _timed("import: verify signature + every entry", verify_bundle, blob,
                              directory, now=now)  # fmt: skip
    store = SharingStore(tmp / "b.db")
    _, t_store = _timed("import: store (one transaction)", store.import_bundle, bundle,
                        via="bench", now=now)  # fmt: skip
    _timed("matching stage: load the index", lambda: build_index(store.rows()))
    store.close()
    gz = len(gzip.compress(blob, 6))
    print(f"  size: {len(blob) / 1e6:.1f} MB ({len(blob) / n:.0f} B/entry), gzip {gz / 1e6:.1f} MB")
    print(f"  export {t_hash + t_sign:.2f} s, import {t_verify + t_store:.2f} s; "
          f"floor encode {t_floor_enc:.2f} s, decode {t_floor_dec:.2f} s")  # fmt: skip


def bench_psi(n: int) -> None:
    print(f"PSI {n:,} x {n:,} (10 % common)")
    mine = [f"phone:{i:032x}" for i in range(n)]
    theirs = [f"phone:{i:032x}" for i in range(n - n // 10, 2 * n - n // 10)]
    _timed("floor: plain set intersection", lambda: set(mine) & set(theirs))
    for reveal in (True, False):
        t0 = time.perf_counter()
        client = PsiClient(mine, reveal=reveal)
        request = client.request()
        got = answer(theirs, request, reveal=reveal)
        result = client.result(got)
        took = time.perf_counter() - t0
        common = len(result) if isinstance(result, list) else result
        size = len(request) + len(got.setup) + len(got.response)
        mode = "reveal" if reveal else "count-only"
        print(f"  {mode:10s} {took:8.2f} s, {common:,} common, {size / 1e6:.1f} MB exchanged")
        assert common == n // 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--psi", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_bundle(args.entries, Path(tmp))
    bench_psi(args.psi)


if __name__ == "__main__":
    main()
