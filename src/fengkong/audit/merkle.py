"""RFC 6962 Merkle tree hashing: tree heads and inclusion proofs.

Leaves are hashed as ``SHA-256(0x00 || leaf)``, inner nodes as
``SHA-256(0x01 || left || right)``; the tree over ``n`` leaves splits at the largest
power of two below ``n`` (RFC 6962 §2.1), so proofs verify with any RFC 6962 library.

>>> leaves = [leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")]
>>> root = tree_hash(leaves)
>>> verify_inclusion(leaves[2], 2, 3, inclusion_proof(leaves, 2), root)
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n ≥ 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def tree_hash(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree head over already-hashed leaves (iterative, O(n))."""
    if not leaves:
        return EMPTY_ROOT
    # Bottom-up pairing gives the RFC 6962 shape: an odd node is carried up unchanged.
    level = list(leaves)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree over ``leaves`` (RFC 6962 §2.1.1)."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside a tree of {len(leaves)}")
    path: list[bytes] = []
    lo, hi = 0, len(leaves)
    # Walk down from the root, keeping the sibling subtree of each split.
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            path.append(tree_hash(leaves[lo + k : hi]))
            hi = lo + k
        else:
            path.append(tree_hash(leaves[lo : lo + k]))
            lo = lo + k
    path.reverse()
    return path


def inclusion_proofs(leaves: Sequence[bytes], indices: Sequence[int]) -> dict[int, list[bytes]]:
    """Proofs for several leaves, sharing the subtree hashes between them."""
    cache: dict[tuple[int, int], bytes] = {}

    def sub(lo: int, hi: int) -> bytes:
        key = (lo, hi)
        if key not in cache:
            cache[key] = tree_hash(leaves[lo:hi])
        return cache[key]

    out: dict[int, list[bytes]] = {}
    for index in indices:
        if not 0 <= index < len(leaves):
            raise IndexError(f"leaf {index} is outside a tree of {len(leaves)}")
        path: list[bytes] = []
        lo, hi = 0, len(leaves)
        while hi - lo > 1:
            k = _split(hi - lo)
            if index - lo < k:
                path.append(sub(lo + k, hi))
                hi = lo + k
            else:
                path.append(sub(lo, lo + k))
                lo = lo + k
        path.reverse()
        out[index] = path
    return out


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` place ``leaf`` at ``index`` under ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
