"""PSI finds exactly the common items and nothing else; count-only gives their number."""

from __future__ import annotations

import pytest

from fengkong.sharing.psi import PsiClient, PsiError, RateLimited, RateLimiter, answer


def test_psi_finds_exactly_the_common_items() -> None:
    mine = [f"phone:{i:032x}" for i in range(0, 300)]
    theirs = [f"phone:{i:032x}" for i in range(250, 700)] + [f"device:{i:032x}" for i in range(50)]
    client = PsiClient(mine, reveal=True)
    got = client.result(answer(theirs, client.request(), reveal=True))
    assert got == sorted(set(mine) & set(theirs))
    assert len(got) == 50  # device:0..49 share digits with phone:0..49 but not the kind


def test_cardinality_only_reveals_the_count() -> None:
    mine = [f"d:{i}" for i in range(100)]
    theirs = [f"d:{i}" for i in range(90, 200)]
    client = PsiClient(mine, reveal=False)
    assert client.result(answer(theirs, client.request(), reveal=False)) == 10


def test_disjoint_sets_share_nothing() -> None:
    client = PsiClient([f"a:{i}" for i in range(50)])
    assert client.result(answer([f"b:{i}" for i in range(50)], client.request(), reveal=True)) == []


def test_a_malformed_request_is_refused() -> None:
    with pytest.raises(PsiError):
        answer(["x"], b"\xff\x00garbage", reveal=True)


def test_rate_limit_per_peer() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 3600, clock=lambda: now[0])
    limiter.take("k1")
    limiter.take("k1")
    limiter.take("k2")
    with pytest.raises(RateLimited):
        limiter.take("k1")
    now[0] = 3601.0
    limiter.take("k1")
