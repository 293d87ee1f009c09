"""RFC 6962 hashing against the reference vectors; checkpoints in the signed-note format."""

from __future__ import annotations

from pathlib import Path

import pytest

from fengkong.audit.checkpoint import (
    CheckpointError,
    format_checkpoint,
    load_signer,
    parse_verifier,
    verify_checkpoint,
)
from fengkong.audit.merkle import (
    EMPTY_ROOT,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    tree_hash,
    verify_inclusion,
)

# The certificate-transparency reference leaves and the tree heads of their prefixes.
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_tree_heads_match_rfc6962_vectors() -> None:
    assert tree_hash([]) == EMPTY_ROOT
    hashed = [leaf_hash(x) for x in LEAVES]
    for n, root in enumerate(ROOTS, start=1):
        assert tree_hash(hashed[:n]).hex() == root


def test_every_inclusion_proof_verifies_and_no_other_leaf_does() -> None:
    for n in range(1, 40):
        leaves = [leaf_hash(bytes([i])) for i in range(n)]
        root = tree_hash(leaves)
        proofs = inclusion_proofs(leaves, list(range(n)))
        for i in range(n):
            assert proofs[i] == inclusion_proof(leaves, i)
            assert verify_inclusion(leaves[i], i, n, proofs[i], root)
            if n > 1:
                assert not verify_inclusion(leaves[(i + 1) % n], i, n, proofs[i], root)
                assert not verify_inclusion(leaves[i], (i + 1) % n, n, proofs[i], root)


def test_checkpoint_is_a_signed_note_that_detects_changes(tmp_path: Path) -> None:
    signer = load_signer(tmp_path / "k", "example.org/log")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o600
    note = format_checkpoint(signer, 5, b"\x01" * 32)
    body, sig = note.split("\n\n")
    assert body == "example.org/log\n5\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
    assert sig.startswith("\u2014 example.org/log ")
    verifier = parse_verifier(signer.verifier.encode())
    cp = verify_checkpoint(note, verifier)
    assert (cp.origin, cp.size, cp.root) == ("example.org/log", 5, b"\x01" * 32)
    with pytest.raises(CheckpointError):
        verify_checkpoint(note.replace("\n5\n", "\n6\n"), verifier)
    other = load_signer(tmp_path / "k2", "example.org/log")
    with pytest.raises(CheckpointError):
        verify_checkpoint(note, other.verifier)
    assert load_signer(tmp_path / "k", "example.org/log").verifier.encode() == verifier.encode()
