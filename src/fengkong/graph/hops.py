"""Where money goes right after it arrives: the latest receipt and a loan's split.

A laundering hop forwards one incoming transfer almost whole, a small fee shaved, often
hours later (the 24-hour sums of :mod:`fengkong.graph.flows` blur it when other money
came in meanwhile). A fan-out starts with a loan split among fresh accounts in sums
small enough to look like anyone's. This keeps, per account, the latest transfer it
received and, since its last credit draw, what left it (transfers and withdrawals) and
to whom it was transferred, so a transfer can ask "is this the money that just came in"
and "is this one more slice of the loan" (a loan withdrawn to the customer's own card
first is no longer there to be split).

>>> r = LatestReceipts()
>>> r.add("mule", 500.0, ts=0.0)
>>> r.read("mule", ts=600.0)
500.0
>>> s = DrawSplits()
>>> s.draw("hub", ts=0.0)
>>> s.moved_out("hub", "m1", 400.0, ts=60.0)
>>> s.read("hub", ts=120.0)
(400.0, ('m1',))
"""

from __future__ import annotations

from fengkong.features.state import EntityStates, MemoryStates

DAY = 86_400.0
# Payees kept per split: a fan-out pays 3-10 mules; more than this is a payroll.
MAX_SPLIT_PAYEES = 16


class LatestReceipts:
    """The latest transfer each account received: ``(ts, amount)``, for ``window_s``.

    ``states``: where they live (default: in memory).
    """

    def __init__(
        self, window_s: float = DAY, states: EntityStates[tuple[float, float]] | None = None
    ) -> None:
        self.window_s = window_s
        self.states: EntityStates[tuple[float, float]] = (
            MemoryStates() if states is None else states
        )

    def __len__(self) -> int:
        return len(self.states)

    def add(self, account: str, amount: float, ts: float) -> None:
        last = self.states.get(account)
        if last is None or ts >= last[0]:
            self.states.put_many({account: (ts, amount)})

    def read(self, account: str, ts: float) -> float | None:
        """The amount of the latest transfer received in the window before ``ts``."""
        last = self.states.get(account)
        if last is None or ts - last[0] > self.window_s:
            return None
        return last[1]

    def bound(self, cap: int) -> int:
        return self.states.bound(cap, _first)

    def expire(self, now: float) -> None:
        stale = [a for a, (t, _) in self.states.items() if now - t > self.window_s]
        self.states.delete_many(stale)


# One account's split: (draw ts, amount moved out since, the transfers' payees in order).
Split = tuple[float, float, tuple[str, ...]]


class DrawSplits:
    """What left each account since its last credit draw, for ``window_s`` after it.

    ``states``: where they live (default: in memory).
    """

    def __init__(self, window_s: float = DAY, states: EntityStates[Split] | None = None) -> None:
        self.window_s = window_s
        self.states: EntityStates[Split] = MemoryStates() if states is None else states

    def __len__(self) -> int:
        return len(self.states)

    def draw(self, account: str, ts: float) -> None:
        """A new loan: the split starts again from nothing (a late, older draw does not
        replace a newer one)."""
        split = self.states.get(account)
        if split is None or ts >= split[0]:
            self.states.put_many({account: (ts, 0.0, ())})

    def moved_out(self, account: str, payee: str | None, amount: float, ts: float) -> None:
        """A transfer (to ``payee``) or a withdrawal (``None``) of ``account``: counted
        when its last draw is in the window (a late one from before the draw is not)."""
        split = self.states.get(account)
        if split is None or not 0 <= ts - split[0] <= self.window_s:
            return
        drawn_at, total, payees = split
        if payee is not None and payee not in payees and len(payees) < MAX_SPLIT_PAYEES:
            payees = (*payees, payee)
        self.states.put_many({account: (drawn_at, total + amount, payees)})

    def read(self, account: str, ts: float) -> tuple[float, tuple[str, ...]] | None:
        """``(amount moved out since the draw, payees)``, None without a draw in the window."""
        split = self.states.get(account)
        if split is None or ts - split[0] > self.window_s:
            return None
        return split[1], split[2]

    def bound(self, cap: int) -> int:
        return self.states.bound(cap, _first)

    def expire(self, now: float) -> None:
        stale = [a for a, s in self.states.items() if now - s[0] > self.window_s]
        self.states.delete_many(stale)


def _first(state: tuple[float, float] | Split) -> float:
    return state[0]
