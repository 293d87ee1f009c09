"""One typed settings object, built at the edge (CLI, app); library code takes arguments.

Sources, strongest first: explicit overrides (CLI flags), environment variables
``FENGKONG_*`` (nested with ``__``, e.g. ``FENGKONG_POLICY__BLOCK_AT=0.9``), a TOML
file (``--config`` or ``FENGKONG_CONFIG``), then the defaults below.
"""

from __future__ import annotations

import os
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from fengkong.decisions import ChallengeKind, PolicyConfig
from fengkong.events.limits import Limits


class PolicySettings(BaseModel):
    """Score thresholds of the policy (see :class:`fengkong.decisions.PolicyConfig`)."""

    model_config = ConfigDict(extra="forbid")

    challenge_at: float | None = Field(0.5, ge=0, le=1)
    review_at: float | None = Field(0.8, ge=0, le=1)
    block_at: float | None = Field(0.95, ge=0, le=1)
    score_challenge: ChallengeKind = "otp"
    points_for_full_score: float = Field(100.0, gt=0)

    def to_config(self) -> PolicyConfig:
        return PolicyConfig(**self.model_dump())


class ChallengeSettings(BaseModel):
    """Step-up challenges (see docs/identity.md)."""

    model_config = ConfigDict(extra="forbid")

    ttl_s: float = Field(300.0, gt=0, description="how long a challenge can be answered")
    max_attempts: int = Field(3, ge=1, le=10)
    code_digits: int = Field(6, ge=4, le=10)
    on_fail: Literal["block", "review"] = "block"
    on_expire: Literal["block", "review"] = "block"
    otp_sink: Path | None = Field(
        None, description="file the codes are written to (JSON lines); none: the log"
    )
    otp_sender: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="module:factory of an OtpSender (an SMS gateway); wins over otp_sink",
    )
    sweep_interval_s: float = Field(5.0, gt=0, description="how often expiries are settled")


class VoiceSettings(BaseModel):
    """Voiceprint (see docs/identity.md)."""

    model_config = ConfigDict(extra="forbid")

    model: Literal["auto", "resemblyzer", "mfcc"] = Field(
        "auto", description="speaker embedder; auto: resemblyzer when installed, else mfcc"
    )
    enrol_utterances: int = Field(3, ge=1, le=20)
    threshold: float | None = Field(
        None, ge=-1, le=1, description="cosine for a match; none: the model's default"
    )


class SharingSettings(BaseModel):
    """Industry sharing: consortium risk lists (see docs/sharing.md)."""

    model_config = ConfigDict(extra="forbid")

    member: str | None = Field(
        None, pattern=r"^[A-Za-z0-9._-]{1,64}$", description="this member's id in the consortium"
    )
    consortium_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="consortium HMAC keys by key id (≥ 16 bytes each)"
    )
    export_key_id: str | None = Field(
        None, description="the consortium key exports use; default: the only one configured"
    )
    member_key_path: Path | None = Field(
        None, description="this member's Ed25519 signing key; default: <db_path>.share-key"
    )
    members_path: Path | None = Field(
        None, description="TOML directory of the members' public keys (import trusts these)"
    )
    bundle_path: Path | None = Field(
        None, description="the bundle `GET /v1/share/bundle` serves (the last export)"
    )
    ttl_days: float = Field(
        180.0, gt=0, description="an exported entry expires this long after last seen"
    )
    psi_per_hour: int = Field(6, ge=1, description="PSI exchanges a peer key may run per hour")


class StorageSettings(BaseModel):
    """Where events, decisions, labels and the audit chain live (docs/deployment.md)."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["sqlite", "postgres"] = "sqlite"
    url: SecretStr | None = Field(
        None, description="postgresql://user:password@host:port/db (backend postgres)"
    )
    pool_size: int = Field(8, ge=1, le=200, description="PostgreSQL connections per process")


class StateSettings(BaseModel):
    """Where the per-entity feature state lives (docs/deployment.md)."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["memory", "redis"] = "memory"
    redis_url: SecretStr | None = Field(None, description="redis://host:port/db (backend redis)")
    tail_interval_s: float = Field(
        0.0,
        ge=0,
        description="on a shared store: how often a worker reads the events and labels "
        "other workers stored (0: before every decision)",
    )
    repair_interval_s: float = Field(
        10.0,
        ge=0,
        description="backend redis on PostgreSQL: how often a worker tries to recount "
        "committed events whose Redis write was lost (0: never)",
    )
    repair_grace_s: float = Field(
        5.0,
        ge=0,
        description="backend redis: how long after its commit an event is left to its own "
        "worker's write before the repair may recount it",
    )


class Settings(BaseSettings):
    """Everything an operator can set; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix="FENGKONG_", env_nested_delimiter="__", extra="forbid"
    )

    db_path: Path = Field(Path("fengkong.db"), description="SQLite file of the embedded store")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    token_secret: SecretStr | None = Field(
        None,
        description="key for tokenising phone / ID / card numbers (≥ 16 bytes); "
        "default: a random key kept in <db_path>.key",
    )
    bootstrap_key: SecretStr | None = Field(
        None,
        description="the first admin API key, used only when no key exists yet; "
        "default: one is generated and printed once by `fengkong serve`",
    )
    open_ingest_on_loopback: bool = Field(
        False, description="accept events without a key from 127.0.0.1 / ::1 (demos only)"
    )
    audit_key_path: Path | None = Field(
        None, description="Ed25519 key signing audit checkpoints; default: <db_path>.audit-key"
    )
    audit_checkpoint_interval_s: float = Field(
        60.0, gt=0, description="how often `fengkong serve` signs an audit checkpoint"
    )
    audit_origin: str = Field(
        "fengkong.local/audit", min_length=1, max_length=200, pattern=r"^[^\s+]+$"
    )
    audit_publish_dir: Path | None = Field(
        None, description="directory where each new signed checkpoint is also written"
    )
    field_key: SecretStr | None = Field(
        None,
        description="key encrypting protected fields (≥ 16 bytes); "
        "default: a random key kept in <db_path>.field-key",
    )
    protected_attributes: list[str] = Field(
        default_factory=list,
        description="attributes / context keys encrypted at rest (besides the built-in list)",
    )
    retain_media: bool = Field(
        False,
        description="keep document images and voice recordings (encrypted); "
        "default: only their digest and the facts derived from them",
    )
    analyst_max_body_bytes: int = Field(
        16 * 1_048_576, ge=1024, description="largest body of the analyst API (/v1/rules)"
    )
    tokenise_per_minute: int = Field(
        60, ge=1, description="raw values one key may tokenise per minute (lists, freezes)"
    )
    durable: bool = Field(True, description="answer only once the event is committed")
    sqlite_synchronous: Literal["FULL", "NORMAL", "OFF"] = "FULL"
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_batch: int = Field(1000, ge=1, le=100_000)
    group_commit_max: int = Field(512, ge=1)
    max_depth: int = Field(32, ge=4, le=200, description="deepest nesting of an event's JSON")
    future_skew_s: float = Field(
        300.0,
        ge=0,
        description="how far ahead of the server's clock a timestamp may be "
        "(also caps where a rebuild window may be anchored)",
    )
    earliest_occurred_at: AwareDatetime = Field(
        datetime(2000, 1, 1, tzinfo=UTC), description="timestamps before this are refused"
    )
    max_inflight: int = Field(
        32, ge=1, description="events in flight on the decision endpoints; beyond: 503"
    )
    retry_after_s: int = Field(1, ge=1, description="Retry-After of a 503")
    retention_days: float = Field(
        0.0, ge=0, description="`fengkong prune` drops events older than this; 0: keep all"
    )
    key_cache_s: float = Field(
        1.0,
        ge=0,
        description="how long the server trusts an API key found live before "
        "reading it again (a revocation from another process takes effect within it)",
    )
    shed_loop_lag_s: float = Field(
        0.5, ge=0, description="event-loop lag beyond which new work gets 503; 0: never"
    )
    integrity_check: bool = Field(True, description="SQLite quick_check of the store at start")
    max_entities: int = Field(
        200_000,
        ge=0,
        description="entities each stage keeps per kind (least recently seen dropped); 0: no cap",
    )
    maintenance_interval_s: float = Field(
        3600.0, gt=0, description="how often the server expires old feature state"
    )
    snapshots: bool = Field(True, description="keep state snapshots in <db_path>.snapshot")
    snapshot_interval_s: float = Field(
        600.0, gt=0, description="how often the server saves a snapshot (when events came)"
    )
    ip_ranges_path: Path | None = Field(None, description="CSV of data-centre IP ranges")
    models_dir: Path | None = Field(
        None, description="model artefacts directory; default: <db_path>.models"
    )
    rules_path: Path | None = Field(None, description="rule set file to publish at start")
    credit_policy_path: Path | None = Field(
        None, description="TOML offer policy (docs/credit.md); default: the built-in table"
    )
    image_workers: int = Field(
        1, ge=0, description="worker processes for QR and document image checks; 0: inline"
    )
    image_budget_s: float = Field(
        1.5, gt=0, description="how long a decision waits for its image checks"
    )
    policy: PolicySettings = PolicySettings()
    storage: StorageSettings = StorageSettings()
    state: StateSettings = StateSettings()
    challenges: ChallengeSettings = ChallengeSettings()
    voice: VoiceSettings = VoiceSettings()
    sharing: SharingSettings = SharingSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _backend_urls(self) -> Settings:
        if self.storage.backend == "postgres" and self.storage.url is None:
            raise ValueError("storage.url: required when storage.backend is postgres")
        if self.state.backend == "redis" and self.state.redis_url is None:
            raise ValueError("state.redis_url: required when state.backend is redis")
        return self

    def shared_db(self) -> str:
        """Where rules, lists, models' metadata, keys, audit checkpoints, cases and
        challenges live: the PostgreSQL URL on ``storage.backend = "postgres"``, else
        the SQLite file (docs/deployment.md)."""
        if self.storage.backend == "postgres" and self.storage.url is not None:
            return self.storage.url.get_secret_value()
        return str(self.db_path)

    def limits(self) -> Limits:
        """The edge's limits (:mod:`fengkong.events.limits`) these settings ask for."""
        return Limits(
            max_depth=self.max_depth,
            future_skew_s=self.future_skew_s,
            earliest=self.earliest_occurred_at,
        )

    @field_validator("bootstrap_key", "field_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @classmethod
    def load(cls, config: Path | None = None, **overrides: Any) -> Settings:
        """Build settings from a TOML file, the environment and explicit overrides.

        ``None`` overrides are ignored, so CLI options can be passed straight in.
        """
        file_values: dict[str, Any] = {}
        path = config or (Path(p) if (p := os.environ.get("FENGKONG_CONFIG")) else None)
        if path is not None:
            try:
                file_values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise SettingsError(f"config file not found: {path}") from None
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"config file {path}: {exc}") from None
        given = {k: v for k, v in overrides.items() if v is not None}
        try:
            from_env = cls()
            env_set = {k: getattr(from_env, k) for k in from_env.model_fields_set}
            return cls(**{**file_values, **env_set, **given})
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the setting."""


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        name = ".".join(str(p) for p in err["loc"])
        parts.append(f"{name}: {err['msg']}")
    return "invalid settings: " + "; ".join(parts)
