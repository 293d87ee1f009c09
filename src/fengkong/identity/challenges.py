"""Step-up challenges: issue one for a ``challenge`` decision, verify the answer, settle.

A challenge is bound to the decision that asked for it (its id is a keyed hash of the
``event_id``, so a re-decision after a crash finds the same challenge). Its *method*
says how it is answered: ``sms`` (a one-time code sent through an :class:`OtpSender`,
kept only as a keyed hash), ``totp`` (RFC 6238 authenticator codes, for users who
enrolled a secret), or a verifier plugged in for ``voice`` / ``biometric`` answers.

Security properties: a limited number of attempts, an expiry, codes bound to their
challenge (a code of another challenge never matches), a settled challenge cannot be
answered again, and a TOTP time step is accepted once per user (no replay).

The final outcome of the held action is ``allow`` when the challenge passes, and the
configured ``on_fail`` / ``on_expire`` action (``block`` or ``review``) otherwise.
Every settlement is announced to ``listeners`` (the outcome features, the audit log).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import pyotp

from fengkong.decisions.types import Decision
from fengkong.events import Event
from fengkong.identity.device import client_device_key
from fengkong.identity.otp_sender import OtpMessage, OtpSender

log = logging.getLogger(__name__)

FinalAction = Literal["block", "review"]
STATUSES = ("pending", "passed", "failed", "expired")


@dataclass(frozen=True, slots=True)
class ChallengeConfig:
    """How challenges behave (see ``challenges`` in docs/configuration.md)."""

    ttl_s: float = 300.0
    max_attempts: int = 3
    code_digits: int = 6
    on_fail: FinalAction = "block"
    on_expire: FinalAction = "block"
    totp_interval_s: int = 30
    # TOTP steps either side of now that are accepted (clock drift of the phone).
    totp_drift_steps: int = 1

    def __post_init__(self) -> None:
        if self.ttl_s <= 0 or self.max_attempts < 1 or not 4 <= self.code_digits <= 10:
            raise ValueError("challenges: ttl_s > 0, max_attempts ≥ 1, 4 ≤ code_digits ≤ 10")


@dataclass(frozen=True, slots=True)
class Resolution:
    """A challenge that reached its final status, as announced to listeners."""

    challenge_id: str
    event_id: str
    user_id: str
    device_key: str | None
    ip: str | None
    kind: str
    method: str
    status: str
    final_decision: str
    attempts: int
    at: float


@dataclass(frozen=True, slots=True)
class ChallengeRow:
    """One challenge as stored; ``status`` is pending, passed, failed or expired."""

    challenge_id: str
    event_id: str
    user_id: str
    device_key: str | None
    ip: str | None
    kind: str
    method: str
    code_hash: str | None
    attempts: int
    max_attempts: int
    created_at: float
    expires_at: float
    status: str
    final_decision: str | None = None
    resolved_at: float | None = None


class ChallengeStore(Protocol):
    """Where challenges, device bindings and TOTP secrets live."""

    def put(self, row: ChallengeRow) -> None: ...
    def get(self, challenge_id: str) -> ChallengeRow | None: ...
    def count_attempt(self, challenge_id: str, max_attempts: int) -> int | None: ...
    def resolve(self, challenge_id: str, status: str, final_decision: str, at: float) -> bool: ...
    def due(self, now: float, limit: int = 1000) -> list[ChallengeRow]: ...
    def bind(self, user_id: str, device_key: str, at: float) -> None: ...
    def set_totp(self, user_id: str, secret: str, at: float) -> None: ...
    def totp(self, user_id: str) -> tuple[str, int] | None: ...
    def use_totp_step(self, user_id: str, step: int) -> bool: ...


class Verifier(Protocol):
    """Answers a ``voice`` or ``biometric`` challenge from something the user presents."""

    field: str

    def ready(self, user_id: str) -> bool:
        """Whether the user has a template to verify against."""
        ...

    def prepare(self, answer: Mapping[str, Any]) -> Any:
        """Decode ``answer[field]``; raise :class:`AnswerInvalid` when malformed."""
        ...

    def verify(self, user_id: str, prepared: Any) -> bool: ...


class ChallengeError(Exception):
    """Base of the errors an answer can meet (the API maps each to a 4xx)."""


class ChallengeNotFound(ChallengeError):
    def __init__(self, challenge_id: str) -> None:
        super().__init__(f"no challenge {challenge_id!r}")


class ChallengeClosed(ChallengeError):
    """The challenge is settled (passed, failed or expired): no answer is taken."""

    def __init__(self, row: ChallengeRow) -> None:
        self.row = row
        super().__init__(f"challenge {row.challenge_id!r} is {row.status}; it takes no answer")


class AnswerInvalid(ChallengeError):
    """The answer is malformed (no attempt is used up)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def _hash_code(secret: bytes, challenge_id: str, code: str) -> str:
    return hmac.new(secret, f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


class ChallengeService:
    """Issues, verifies and settles challenges over a :class:`ChallengeStore`."""

    def __init__(
        self,
        store: ChallengeStore,
        secret: bytes,
        sender: OtpSender,
        config: ChallengeConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config or ChallengeConfig()
        self.sender = sender
        self.clock = clock
        self.verifiers: dict[str, Verifier] = {}
        self.listeners: list[Callable[[Resolution], None]] = []
        self._secret = hmac.new(secret, b"fengkong challenges", hashlib.sha256).digest()
        self._code_re = re.compile(rf"\d{{{self.config.code_digits}}}")

    # -- issue ----------------------------------------------------------------
    def challenge_id_for(self, event_id: str) -> str:
        digest = hmac.new(self._secret, f"id:{event_id}".encode(), hashlib.sha256)
        return "ch_" + digest.hexdigest()[:32]

    def method_for(self, kind: str, user_id: str) -> str:
        """``totp`` for users with an authenticator, a plugged verifier, else ``sms``."""
        verifier = self.verifiers.get(kind)
        if verifier is not None and verifier.ready(user_id):
            return kind
        if self.store.totp(user_id) is not None:
            return "totp"
        return "sms"

    def issue(self, event: Event, decision: Decision) -> Decision:
        """Create (and send) the challenge a decision asks for; the decision with its id."""
        kind = decision.challenge or "otp"
        now = self.clock()
        challenge_id = self.challenge_id_for(event.event_id)
        method = self.method_for(kind, event.user_id)
        code = None
        if method == "sms":
            code = "".join(secrets.choice("0123456789") for _ in range(self.config.code_digits))
        row = ChallengeRow(
            challenge_id=challenge_id,
            event_id=event.event_id,
            user_id=event.user_id,
            device_key=client_device_key(event.device),
            ip=event.ip,
            kind=kind,
            method=method,
            code_hash=None if code is None else _hash_code(self._secret, challenge_id, code),
            attempts=0,
            max_attempts=self.config.max_attempts,
            created_at=now,
            expires_at=now + self.config.ttl_s,
            status="pending",
        )
        self.store.put(row)
        if code is not None:
            self.sender.send(
                OtpMessage(challenge_id, event.user_id, event.phone, code, row.expires_at)
            )
        return dataclasses.replace(decision, challenge_id=challenge_id)

    # -- answer ---------------------------------------------------------------
    def answer(self, challenge_id: str, answer: Mapping[str, Any]) -> dict[str, Any]:
        """Verify one answer; the challenge's state afterwards (see :meth:`view`)."""
        row = self._open(challenge_id)
        prepared = self._check_form(row, answer)
        attempt = self.store.count_attempt(challenge_id, row.max_attempts)
        if attempt is None:
            raise ChallengeClosed(self._get(challenge_id))
        verified = self._verify(row, prepared)
        if verified:
            self._settle(row, "passed", "allow", attempt)
        elif attempt >= row.max_attempts:
            self._settle(row, "failed", self.config.on_fail, attempt)
        return {**self.view(self._get(challenge_id)), "verified": verified}

    def _open(self, challenge_id: str) -> ChallengeRow:
        row = self._get(challenge_id)
        if row.status == "pending" and self.clock() >= row.expires_at:
            self._settle(row, "expired", self.config.on_expire, row.attempts)
            row = self._get(challenge_id)
        if row.status != "pending":
            raise ChallengeClosed(row)
        return row

    def _get(self, challenge_id: str) -> ChallengeRow:
        row = self.store.get(challenge_id)
        if row is None:
            raise ChallengeNotFound(challenge_id)
        return row

    def _check_form(self, row: ChallengeRow, answer: Mapping[str, Any]) -> Any:
        """The answer decoded for its method (before any attempt is used up)."""
        verifier = self.verifiers.get(row.method)
        if verifier is not None:
            if answer.get(verifier.field) is None:
                raise AnswerInvalid(verifier.field, f"a {row.method} challenge needs this field")
            return verifier.prepare(answer)
        code = answer.get("code")
        if not isinstance(code, str) or not self._code_re.fullmatch(code):
            raise AnswerInvalid("code", f"give the {self.config.code_digits}-digit code")
        return code

    def _verify(self, row: ChallengeRow, prepared: Any) -> bool:
        verifier = self.verifiers.get(row.method)
        if verifier is not None:
            return verifier.verify(row.user_id, prepared)
        code = str(prepared)
        if row.method == "totp":
            return self._verify_totp(row.user_id, code)
        expected = row.code_hash or ""
        return hmac.compare_digest(expected, _hash_code(self._secret, row.challenge_id, code))

    def _verify_totp(self, user_id: str, code: str) -> bool:
        found = self.store.totp(user_id)
        if found is None:
            return False
        secret, last_step = found
        totp = pyotp.TOTP(
            secret, digits=self.config.code_digits, interval=self.config.totp_interval_s
        )
        now_step = totp.timecode(self.clock())
        drift = self.config.totp_drift_steps
        for step in range(now_step - drift, now_step + drift + 1):
            if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
                # The conditional update refuses a step already used (a replayed code).
                return self.store.use_totp_step(user_id, step)
        return False

    def _settle(self, row: ChallengeRow, status: str, final: str, attempts: int) -> None:
        at = self.clock()
        if not self.store.resolve(row.challenge_id, status, final, at):
            return  # settled concurrently: that settlement was announced
        if status == "passed" and row.device_key is not None:
            self.store.bind(row.user_id, row.device_key, at)
        resolution = Resolution(
            row.challenge_id,
            row.event_id,
            row.user_id,
            row.device_key,
            row.ip,
            row.kind,
            row.method,
            status,
            final,
            attempts,
            at,
        )
        for listener in self.listeners:
            try:
                listener(resolution)
            except Exception:
                log.exception("challenge listener failed for %s", row.challenge_id)

    # -- reading ----------------------------------------------------------------
    def sweep(self) -> int:
        """Settle every pending challenge whose time ran out; how many were settled."""
        settled = 0
        for row in self.store.due(self.clock()):
            self._settle(row, "expired", self.config.on_expire, row.attempts)
            settled += 1
        return settled

    def state(self, challenge_id: str) -> dict[str, Any]:
        """The challenge as the API shows it (expiring it first if its time ran out)."""
        try:
            row = self._open(challenge_id)
        except ChallengeClosed as closed:
            row = closed.row
        return self.view(row)

    def view(self, row: ChallengeRow) -> dict[str, Any]:
        return {
            "challenge_id": row.challenge_id,
            "event_id": row.event_id,
            "kind": row.kind,
            "method": row.method,
            "status": row.status,
            "attempts": row.attempts,
            "attempts_left": max(0, row.max_attempts - row.attempts)
            if row.status == "pending"
            else 0,
            "expires_at": row.expires_at,
            "final_decision": row.final_decision,
            "resolved_at": row.resolved_at,
        }

    # -- enrolment --------------------------------------------------------------
    def enrol_totp(self, user_id: str, issuer: str = "fengkong") -> dict[str, str]:
        """A fresh TOTP secret for ``user_id`` (replacing any), with its otpauth URI."""
        secret = pyotp.random_base32()
        self.store.set_totp(user_id, secret, self.clock())
        uri = pyotp.TOTP(
            secret, digits=self.config.code_digits, interval=self.config.totp_interval_s
        ).provisioning_uri(name=user_id, issuer_name=issuer)
        return {"user_id": user_id, "secret": secret, "otpauth_uri": uri}
