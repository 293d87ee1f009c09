"""Keyed hashes, signed bundles: canonical identities, tampering, expiry, directory."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from fengkong.sharing import (
    BundleError,
    ConsortiumKeys,
    Entry,
    MemberDirectory,
    canonical,
    sign_bundle,
    verify_bundle,
)
from fengkong.sharing.keys import key_id_of, load_signing_key, public_key_text

NOW = 1_795_000_000


def test_two_spellings_of_one_identity_hash_alike() -> None:
    keys = ConsortiumKeys({"ck1": b"c" * 32})
    a = keys.digest("ck1", "phone", canonical("phone", "+86 139-1234-5678"))
    b = keys.digest("ck1", "phone", canonical("phone", "0086 13912345678"))
    assert a == b and len(a) == 32
    assert canonical("id_number", "110105 19491231 002x") == "11010519491231002X"
    assert canonical("bank_card", "6222 0212 3456 7890") == "6222021234567890"
    other = ConsortiumKeys({"ck2": b"d" * 32})
    assert other.digest("ck2", "phone", "+8613912345678") != a  # another key, another hash
    assert keys.digest("ck1", "id_number", "+8613912345678") != a  # kinds never collide


def _member(tmp_path: Path, name: str) -> tuple[object, str]:
    key = load_signing_key(tmp_path / f"{name}.key")
    return key, public_key_text(key)


def _directory(tmp_path: Path, **members: str) -> MemberDirectory:
    text = "".join(f'[[members]]\nid = "{m}"\nkeys = ["{k}"]\n' for m, k in members.items())
    (tmp_path / "members.toml").write_text(text)
    return MemberDirectory.load(tmp_path / "members.toml")


def _bundle(tmp_path: Path, entries: list[Entry]) -> tuple[bytes, MemberDirectory]:
    key, public = _member(tmp_path, "a")
    blob = sign_bundle(
        entries,
        member="bank-a",
        signing_key=key,  # type: ignore[arg-type]
        member_key_id=key_id_of(public),
        consortium_key="ck1",
        created_at=NOW,
    )
    return blob, _directory(tmp_path, **{"bank-a": public})


def _entry(digest: str = "ab" * 16, expires: int = NOW + 86_400) -> Entry:
    return Entry("device", digest, NOW - 100, NOW - 10, 0.95, "confirmed_case", expires)


def test_a_signed_bundle_verifies_and_drops_expired_entries(tmp_path: Path) -> None:
    live, old = _entry(), _entry("cd" * 16, expires=NOW - 1)
    blob, directory = _bundle(tmp_path, [live, old])
    bundle = verify_bundle(blob, directory, now=NOW)
    assert bundle.member == "bank-a" and bundle.consortium_key == "ck1"
    assert bundle.entries == [live] and bundle.expired == 1


@pytest.mark.parametrize("at", [5, 40, 120, -60, -5])
def test_any_changed_byte_is_refused(tmp_path: Path, at: int) -> None:
    blob, directory = _bundle(tmp_path, [_entry()])
    i = at % len(blob)
    if blob[i : i + 1] == b"\n":
        i += 1
    changed = blob[:i] + bytes([blob[i] ^ 0x01]) + blob[i + 1 :]
    with pytest.raises(BundleError):
        verify_bundle(changed, directory, now=NOW)


def test_an_unknown_member_or_another_key_is_refused(tmp_path: Path) -> None:
    blob, _ = _bundle(tmp_path, [_entry()])
    _, other = _member(tmp_path, "b")
    with pytest.raises(BundleError, match="no key"):
        verify_bundle(blob, _directory(tmp_path, **{"bank-a": other}), now=NOW)
    with pytest.raises(BundleError, match="no key"):
        verify_bundle(blob, _directory(tmp_path, **{"bank-b": other}), now=NOW)


def test_a_revoked_member_key_is_refused(tmp_path: Path) -> None:
    blob, _ = _bundle(tmp_path, [_entry()])
    public = public_key_text(load_signing_key(tmp_path / "a.key"))
    (tmp_path / "m.toml").write_text(f'[[members]]\nid = "bank-a"\nrevoked_keys = ["{public}"]\n')
    with pytest.raises(BundleError, match="revoked"):
        verify_bundle(blob, MemberDirectory.load(tmp_path / "m.toml"), now=NOW)


def test_a_re_signed_forgery_with_a_malformed_entry_is_refused(tmp_path: Path) -> None:
    blob, directory = _bundle(tmp_path, [_entry(digest="not-a-digest")])
    with pytest.raises(BundleError, match=r"entries\[0\]"):
        verify_bundle(blob, directory, now=NOW)
    sig = blob.rstrip(b"\n").rsplit(b" ", 1)[1]
    assert base64.b64decode(sig)  # the signature itself was fine: the entry is what fails


def test_a_members_trust_scales_its_confidences_and_caps_its_size(tmp_path: Path) -> None:
    blob, _ = _bundle(tmp_path, [_entry(), _entry("cd" * 16)])
    public = public_key_text(load_signing_key(tmp_path / "a.key"))
    (tmp_path / "m.toml").write_text(
        f'[[members]]\nid = "bank-a"\nkeys = ["{public}"]\ntrust = 0.5\n'
    )
    bundle = verify_bundle(blob, MemberDirectory.load(tmp_path / "m.toml"), now=NOW)
    assert [e.confidence for e in bundle.entries] == [0.475, 0.475]
    (tmp_path / "m.toml").write_text(
        f'[[members]]\nid = "bank-a"\nkeys = ["{public}"]\nmax_entries = 1\n'
    )
    with pytest.raises(BundleError, match="at most 1"):
        verify_bundle(blob, MemberDirectory.load(tmp_path / "m.toml"), now=NOW)
