"""Private set intersection for pairwise checks between two members (``openmined-psi``).

The client (who asks) learns which of its items the server also holds, or with
``reveal=False`` only how many ("how many of my suspects do you also know"); the
server learns the size of the client's set and nothing else. Items are the members'
keyed hashes (``kind:digest`` under the consortium key), so even the protocol's
transcript holds no identifier. The protocol is ECDH-based (P-256, OpenMined's
implementation); the server's set is sent as a raw list of encrypted elements, so
the answer has no false positives.

One exchange, over ``POST /v1/share/psi``::

    client = PsiClient(items, reveal=True)
    answer = server.answer(client.request(), reveal=True)   # on the other member
    common = client.result(answer)                         # the common items
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import private_set_intersection.python as psi

MAX_ITEMS = 1_000_000


class PsiError(ValueError):
    """A malformed PSI message or one over the limits."""


class RateLimited(PsiError):
    """Too many PSI exchanges from one peer in the window."""


@dataclass(frozen=True, slots=True)
class PsiAnswer:
    setup: bytes
    response: bytes


class PsiClient:
    """The asking side: its items stay here, blinded under a fresh key."""

    def __init__(self, items: Sequence[str], *, reveal: bool = True) -> None:
        if len(items) > MAX_ITEMS:
            raise PsiError(f"at most {MAX_ITEMS:,} items")
        self.items = list(items)
        self.reveal = reveal
        self._client = psi.client.CreateWithNewKey(reveal)

    def request(self) -> bytes:
        return bytes(self._client.CreateRequest(self.items).SerializeToString())

    def result(self, answer: PsiAnswer) -> list[str] | int:
        """The common items (``reveal``) or their number."""
        setup, response = psi.ServerSetup(), psi.Response()
        try:
            setup.ParseFromString(answer.setup)
            response.ParseFromString(answer.response)
        except Exception as exc:  # protobuf's DecodeError
            raise PsiError(f"malformed PSI answer: {exc}") from None
        if not self.reveal:
            return int(self._client.GetIntersectionSize(setup, response))
        return sorted(self.items[i] for i in self._client.GetIntersection(setup, response))


def answer(items: Sequence[str], request: bytes, *, reveal: bool) -> PsiAnswer:
    """The serving side's answer to one request, under a fresh key each time."""
    req = psi.Request()
    try:
        req.ParseFromString(request)
    except Exception as exc:  # protobuf's DecodeError
        raise PsiError(f"malformed PSI request: {exc}") from None
    n = len(req.encrypted_elements)
    if n == 0 or n > MAX_ITEMS:
        raise PsiError(f"a request holds 1 to {MAX_ITEMS:,} items, not {n:,}")
    server = psi.server.CreateWithNewKey(reveal)
    setup = server.CreateSetupMessage(0.0, n, list(items), psi.DataStructure.RAW)
    try:
        response = server.ProcessRequest(req)
    except Exception as exc:
        raise PsiError(f"PSI request refused: {exc}") from None
    return PsiAnswer(bytes(setup.SerializeToString()), bytes(response.SerializeToString()))


class RateLimiter:
    """At most ``limit`` exchanges per peer in a sliding ``window_s``."""

    def __init__(
        self, limit: int, window_s: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, peer: str) -> None:
        """Count one exchange for ``peer``; raises :class:`RateLimited` over the limit."""
        now = self._clock()
        with self._lock:
            q = self._seen.setdefault(peer, deque())
            while q and q[0] <= now - self.window_s:
                q.popleft()
            if len(q) >= self.limit:
                wait = int(q[0] + self.window_s - now) + 1
                raise RateLimited(f"{self.limit} PSI exchanges per {self.window_s:.0f} s; {wait} s")
            q.append(now)
