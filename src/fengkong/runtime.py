"""Assembly: from :class:`~fengkong.settings.Settings` to a running engine.

The CLI and the HTTP app both build their engine here, so a replay and a server with
the same settings decide the same way.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fengkong.decisions import Engine, Pipeline, Policy, Stage
from fengkong.events import Tokenizer
from fengkong.events.protect import FieldProtector
from fengkong.features import FeatureEngine
from fengkong.models.registry import Registry
from fengkong.runtime_identity import Identity, open_identity
from fengkong.runtime_keys import field_protector, redis_secret, secure_files, token_secret
from fengkong.settings import Settings
from fengkong.sharing import ConsortiumKeys, SharingTokenizer, Vault
from fengkong.storage import GroupCommitter, SQLiteStore
from fengkong.storage.changes import ChangeFeed, PgChangeFeed
from fengkong.storage.models_sqlite import SQLiteModelStore
from fengkong.storage.postgres import PostgresStore
from fengkong.storage.repair import BackgroundCheck, StoreDamaged
from fengkong.storage.rules_sqlite import SQLiteRuleStore
from fengkong.storage.sql import Database, is_postgres, open_db

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from fengkong.decisions.follow import LogFollower
    from fengkong.events import Event
    from fengkong.features.state import StatesSession
    from fengkong.features.state_redis import RedisSession, RedisState
    from fengkong.features.state_repair import StateRepair
    from fengkong.rules import CompiledRuleSet, ListLookup, Type
    from fengkong.rules.backtest import BacktestReport, LabelIndex

log = logging.getLogger(__name__)

# The event store of ``storage.backend``.
AnyStore = SQLiteStore | PostgresStore


# A start from scratch that read this many events saves a snapshot at once.
SNAPSHOT_AFTER_EVENTS = 10_000


def snapshot_path(settings: Settings) -> Path | None:
    """Where the state snapshot lives: beside the database (none in memory).

    None on a shared store either: each worker rebuilds from the shared log.
    """
    shared = settings.storage.backend != "sqlite"
    if not settings.snapshots or str(settings.db_path) == ":memory:" or shared:
        return None
    return Path(f"{settings.db_path}.snapshot")


def open_store(settings: Settings, protector: FieldProtector) -> AnyStore:
    """The event store ``storage.backend`` names."""
    if settings.storage.backend == "postgres":
        assert settings.storage.url is not None  # checked by the settings
        return PostgresStore(
            settings.storage.url.get_secret_value(),
            protector=protector,
            pool_size=settings.storage.pool_size,
        )
    return SQLiteStore(
        settings.db_path, synchronous=settings.sqlite_synchronous, protector=protector
    )


def audit_db(settings: Settings) -> Database:
    """What :class:`~fengkong.audit.trail.AuditTrail` works on: the file, or PostgreSQL."""
    target = settings.shared_db()
    return open_db(target if is_postgres(target) else settings.db_path)


def models_dir(settings: Settings) -> Path | None:
    """The model artefacts' directory (on PostgreSQL, beside ``db_path`` unless set)."""
    if settings.models_dir is None and settings.storage.backend == "postgres":
        return Path(f"{settings.db_path}.models")
    return settings.models_dir


def shared_states(settings: Settings) -> RedisSession | None:
    """Under ``state.backend = "redis"``, the session whose cycle every stage on Redis
    shares (one fetch and one write per event for all): feature states under
    ``fk:f:``, a stage's own under ``fk:s:<stage>:``, event claims ``fk:seen:<id>``
    (:meth:`~fengkong.features.state_redis.RedisSession.share`). ``None``: in memory."""
    if settings.state.backend != "redis":
        return None
    from fengkong.features.state_redis import STATE_NAMESPACE, RedisSession

    assert settings.state.redis_url is not None  # checked by the settings
    url = settings.state.redis_url.get_secret_value()
    return RedisSession.from_url(url, redis_secret(settings), namespace=STATE_NAMESPACE)


def feature_state(shared: RedisSession | None) -> RedisState | None:
    """The features engine's state on ``shared``'s cycle (``None``: in memory)."""
    if shared is None:
        return None
    from fengkong.features.state_redis import RedisState

    return RedisState.on(shared.features())


def stage_session(shared: RedisSession | None, stage: str) -> StatesSession | None:
    """One stage's entity states (flows, documents) on ``shared``'s cycle: keys
    ``fk:s:<stage>:...`` (``None``: in memory)."""
    return None if shared is None else shared.stage(stage)


def open_rule_store(settings: Settings) -> SQLiteRuleStore:
    """The rule store in the database file, with a live rule set.

    At first start the default pack is published; a configured ``rules_path`` is
    published when it differs from the live version (so restarts publish nothing).
    Of workers or hosts starting at once on one database, one publishes: the others
    find the live version moved once they hold the write lock.
    """
    from fengkong.rules import default_ruleset, load_ruleset

    store = SQLiteRuleStore(settings.shared_db(), default_rule_names())
    live = store.live_version()
    seen = None if live is None else live.version
    wanted = load_ruleset(settings.rules_path) if settings.rules_path else None
    if wanted is not None and (live is None or live.digest != wanted.digest()):
        comment = f"from {settings.rules_path}"
        info = store.publish_if_live(seen, wanted, author="fengkong", comment=comment)
        if info is not None:
            log.info("published rule set %s from %s", info.label, settings.rules_path)
    elif live is None:
        info = store.publish_if_live(
            None, default_ruleset(), author="fengkong", comment="default pack"
        )
        if info is not None:
            log.info("published the default rule pack as %s", info.label)
    return store


def serving_feature_definitions(registry: Registry) -> list[str]:
    """The default features plus every feature the registered champion/challenger read.

    A model refuses to load unless the serving engine defines its inputs; promoting a
    model that reads other features takes effect at the next start.
    """
    from fengkong.features import DEFAULT_FEATURES
    from fengkong.features.spec import merge_definitions

    texts = list(DEFAULT_FEATURES)
    for role in ("champion", "challenger"):
        model = registry.load_role(role)
        if model is not None:
            texts = merge_definitions(texts, model.feature_set.definitions)
    return texts


def model_store(settings: Settings) -> SQLiteModelStore:
    """The models' versions and roles in the database, artefacts in ``models_dir``."""
    return SQLiteModelStore(settings.shared_db(), models_dir(settings))


def credit_stage(settings: Settings) -> Stage:
    """Credit offers from the registry's champion scorecard (last: fraud has spoken)."""
    from fengkong.credit.offer import OfferPolicy, load_policy
    from fengkong.credit.registry import CreditRegistry
    from fengkong.credit.stage import CreditStage

    path = settings.credit_policy_path
    policy = load_policy(path) if path is not None else OfferPolicy()
    return CreditStage.from_registry(CreditRegistry(model_store(settings)), policy)


Mode = Literal["serve", "replay", "backtest", "export", "training"]


def compose(
    settings: Settings,
    mode: Mode,
    *,
    rule_store: SQLiteRuleStore | None = None,
    store: AnyStore | None = None,
    ip_ranges_path: Path | None = None,
    features: FeatureEngine | None = None,
    identity: Identity | None = None,
    vault: Vault | None = None,
) -> list[Stage]:
    """The stage list for every use, built one way so each sees the same facts.

    ``serve`` and ``replay``: enrich → links → features → baserates → flows → documents → graph →
    shared → models → rules → credit (``rule_store`` required; ``store`` gives the models their
    labels).
    ``backtest``: the same up to the models (the backtest evaluates the rule sets
    itself); the models come in when ``store`` is given. ``export``: up to the graph.
    ``training``: the context stages (enrich, links, baserates, flows, documents, graph) that
    ``models.build_rows`` runs beside the model's own features engine.
    The features engine always defines what the registered models read, so a backtest
    or an export computes the serving features; ``features`` replaces that engine (an
    export of other definitions). ``ip_ranges_path`` overrides settings. ``identity``
    adds its stages (challenges, behaviour, voice) after enrich.
    """
    from fengkong.documents.stage import DocumentsStage
    from fengkong.features import load_ip_ranges
    from fengkong.features.baserates import BaseRatesStage
    from fengkong.features.stage import EnrichStage, FeaturesStage
    from fengkong.graph.flow_stage import FlowsStage
    from fengkong.graph.stage import GraphStage
    from fengkong.imaging import ImagePool
    from fengkong.links.stage import LinksStage
    from fengkong.models.stage import ModelStage, serving_definitions
    from fengkong.rules.stage import RulesStage, declared_names

    ranges_path = ip_ranges_path or settings.ip_ranges_path
    ranges = load_ip_ranges(ranges_path) if ranges_path else None
    if mode == "training":
        return _bounded(
            settings,
            [
                EnrichStage(ip_ranges=ranges),
                LinksStage(),
                BaseRatesStage(),
                FlowsStage(),
                DocumentsStage(),
                GraphStage(),
            ],
        )
    deciding = mode in ("serve", "replay")  # the modes that write to a shared state
    needs_models = deciding or (mode == "backtest" and store is not None)
    registry = Registry(model_store(settings)) if needs_models or features is None else None
    shared = shared_states(settings) if deciding else None
    if features is None:
        assert registry is not None
        state = feature_state(shared)
        features = FeatureEngine(serving_feature_definitions(registry), state=state)
        if state is not None:
            state.ttl_s = features.entity_horizons()
    # Only a server waits on image workers within a budget; every other use reads the
    # images inline, so a replay decides the same way each time.
    images = ImagePool(settings.image_workers if mode == "serve" else 0, settings.image_budget_s)
    stages: list[Stage] = [
        EnrichStage(ip_ranges=ranges),
        *(identity.stages if identity is not None else []),
        LinksStage(images=images, store=store),
        FeaturesStage(features),
        BaseRatesStage(),
        FlowsStage(session=stage_session(shared, "flows")),
        DocumentsStage(images=images, store=store, session=stage_session(shared, "documents")),
        GraphStage(),
        shared_stage(settings, vault, background=mode == "serve"),
    ]
    if not needs_models or registry is None:
        if registry is not None:
            registry.close()  # read for the features' definitions only: no stage keeps it
        return _bounded(settings, stages)
    stages.append(
        ModelStage.from_registry(
            registry,
            defined=serving_definitions(features),
            labels=None if store is None else store.labels,
            reasons_at=settings.policy.challenge_at or 0.0,
            context=declared_names(stages),
        )
    )
    if mode == "backtest":
        return _bounded(settings, stages)
    if rule_store is None:
        raise ValueError(f"compose({mode!r}) needs the rule store")
    stages.append(RulesStage(rule_store))
    stages.append(credit_stage(settings))
    return _bounded(settings, stages)


def stage_classes() -> list[type]:
    """Every stage class of the default pipeline, in pipeline order."""
    from fengkong.documents.stage import DocumentsStage
    from fengkong.features.baserates import BaseRatesStage
    from fengkong.features.stage import EnrichStage, FeaturesStage
    from fengkong.graph.flow_stage import FlowsStage
    from fengkong.graph.stage import GraphStage
    from fengkong.identity.behaviour import BehaviourStage
    from fengkong.identity.outcomes import ChallengeFeaturesStage
    from fengkong.identity.voice import VoiceStage
    from fengkong.links.stage import LinksStage
    from fengkong.models.stage import ModelStage
    from fengkong.sharing.stage import SharedListStage

    return [
        EnrichStage,
        ChallengeFeaturesStage,
        BehaviourStage,
        VoiceStage,
        LinksStage,
        FeaturesStage,
        BaseRatesStage,
        FlowsStage,
        DocumentsStage,
        GraphStage,
        SharedListStage,
        ModelStage,
    ]


def default_rule_names() -> dict[str, Type]:
    """The names rules may read in the default pipeline: its stages' declared outputs."""
    from fengkong.rules.stage import rule_known_names

    return rule_known_names(stage_classes())


def default_replay_stages(ip_ranges_path: str | None = None) -> list[Stage]:
    """Fresh enrich → features → graph stages for a backtest replay."""
    from fengkong.documents.stage import DocumentsStage
    from fengkong.features import default_engine, load_ip_ranges
    from fengkong.features.baserates import BaseRatesStage
    from fengkong.features.stage import EnrichStage, FeaturesStage
    from fengkong.graph.flow_stage import FlowsStage
    from fengkong.graph.stage import GraphStage
    from fengkong.links.stage import LinksStage

    ranges = load_ip_ranges(ip_ranges_path) if ip_ranges_path else None
    return [
        EnrichStage(ip_ranges=ranges),
        LinksStage(),
        FeaturesStage(default_engine()),
        BaseRatesStage(),
        FlowsStage(),
        DocumentsStage(),
        GraphStage(),
    ]


def backtest_events(
    events: Iterable[Event],
    rulesets: Mapping[str, CompiledRuleSet],
    labels: LabelIndex | None = None,
    *,
    lists: ListLookup | None = None,
    stages: Sequence[Stage] | None = None,
) -> BacktestReport:
    """Replay ``events`` through ``stages`` (default: fresh :func:`default_replay_stages`)
    and backtest rule sets.

    The first rule set is the candidate, the second (if any) the baseline it is compared
    with event by event.
    """
    from fengkong.rules import ListSnapshot
    from fengkong.rules.backtest import run_backtest
    from fengkong.rules.stage import replay_contexts

    replay = default_replay_stages() if stages is None else stages
    return run_backtest(
        replay_contexts(events, replay),
        rulesets,
        labels,
        lists=lists if lists is not None else ListSnapshot(),
    )


def consortium_keys(settings: Settings) -> ConsortiumKeys:
    """The consortium HMAC keys of the settings (empty: sharing off)."""
    keys = {k: v.get_secret_value().encode() for k, v in settings.sharing.consortium_keys.items()}
    return ConsortiumKeys(keys, settings.sharing.export_key_id)


def shared_stage(settings: Settings, vault: Vault | None, *, background: bool = False) -> Stage:
    """The consortium-list stage: reads the imported lists (idle until one is imported)."""
    from fengkong.sharing import SharedListStage
    from fengkong.storage.sharing_sqlite import SharingStore

    keys = consortium_keys(settings)
    if not keys:
        return SharedListStage(None, keys)
    source = vault.store if vault is not None else SharingStore(settings.shared_db())
    assert isinstance(source, SharingStore)
    return SharedListStage(source, keys, vault or Vault(source), background=background)


def open_vault(settings: Settings) -> Vault | None:
    """The edge's record of consortium hashes of tokenised identifiers (sharing on only)."""
    from fengkong.storage.sharing_sqlite import SharingStore

    return Vault(SharingStore(settings.shared_db())) if consortium_keys(settings) else None


def _bounded(settings: Settings, stages: list[Stage]) -> list[Stage]:
    """Cap the entities each stage remembers (memory bounded under hostile cardinality)."""
    for stage in stages:
        if hasattr(stage, "max_entities"):
            stage.max_entities = settings.max_entities
    return stages


def build_stages(
    settings: Settings,
    rule_store: SQLiteRuleStore,
    store: AnyStore,
    identity: Identity | None = None,
    mode: Mode = "serve",
    vault: Vault | None = None,
) -> list[Stage]:
    """The deciding stages (:func:`compose` in ``serve`` or ``replay`` mode)."""
    return compose(
        settings, mode, rule_store=rule_store, store=store, identity=identity, vault=vault
    )


def open_change_feed(
    settings: Settings, rule_store: SQLiteRuleStore, pipeline: Pipeline
) -> ChangeFeed | PgChangeFeed | None:
    """One feed tells the rule store and the models stage when to reload (a file, or
    PostgreSQL's LISTEN/NOTIFY: labels' version then comes from the log follower)."""
    feed: ChangeFeed | PgChangeFeed
    if settings.storage.backend == "postgres":
        feed = PgChangeFeed(settings.shared_db())
    elif str(settings.db_path) == ":memory:":
        return None
    else:
        feed = ChangeFeed(str(settings.db_path))
    rule_store.changes = feed.version
    for stage in pipeline.stages:
        if hasattr(stage, "changes") and getattr(stage, "changes", 0) is None:
            stage.changes = feed.version
    return feed


def follow_shared_log(
    settings: Settings, engine: Engine, store: AnyStore, changes: ChangeFeed | PgChangeFeed | None
) -> LogFollower | None:
    """On a store other workers write too, follow their events and labels (before the
    rebuild, so its start position is what the rebuild will have read at least)."""
    if not isinstance(store, PostgresStore):
        return None
    from fengkong.decisions.follow import LogFollower

    follower = LogFollower(engine, store, settings.state.tail_interval_s)
    follower.start(store.last_seq(), store.last_label_id())
    engine.follower = follower
    if changes is not None:
        # Labels live in PostgreSQL: their version is the last label id followed.
        version = changes.version

        def versions(topic: str) -> int:
            return version(topic) + (follower.label_id if topic == "labels" else 0)

        for stage in engine.pipeline.stages:
            if getattr(stage, "changes", None) == version:
                stage.changes = versions  # type: ignore[attr-defined]
    return follower


@dataclass
class Runtime:
    """A store, an engine over it, and (for servers) the group committer."""

    settings: Settings
    store: AnyStore
    rule_store: SQLiteRuleStore
    engine: Engine
    committer: GroupCommitter | None = None
    rebuilt_events: int = field(default=0)
    identity: Identity | None = None
    changes: ChangeFeed | PgChangeFeed | None = None
    repair: StateRepair | None = None

    def close(self, *, save: bool = True) -> None:
        """Stop; with ``save``, first save a snapshot if events came after the last."""
        if self.repair is not None:
            self.repair.close()
        self.engine.close()
        if self.committer is not None:
            self.committer.close()
        try:  # the remote states get what was committed last
            self.engine.pipeline.settle()
        except Exception:
            log.exception("states of the last committed decisions not written")
        if save and self.engine.store.last_seq() > self.engine.snapshot_seq:
            self.engine.save_snapshot()
        for stage in self.engine.pipeline.stages:
            close = getattr(stage, "close", None)
            if callable(close):
                close()
        if self.identity is not None:
            self.identity.close()
        self.rule_store.close()
        if self.changes is not None:
            self.changes.close()
        self.store.close()


def build_runtime(settings: Settings, *, server: bool = False, rebuild: bool = True) -> Runtime:
    """Open the store, build the pipeline and rebuild its state from stored events.

    With ``integrity_check``, SQLite's ``quick_check`` of the file runs in a thread
    meanwhile (it reads the whole file; the restore is mostly unpickling): the start
    fails with :class:`StoreDamaged` if it finds problems, before any snapshot is saved
    or the runtime is handed out, and whatever error the damage caused on the way.
    """
    if str(settings.db_path) != ":memory:":
        Path(settings.db_path).parent.mkdir(parents=True, exist_ok=True)
    checking = None
    if settings.integrity_check and Path(settings.db_path).is_file():
        checking = BackgroundCheck(settings.db_path)
    try:
        return _build_runtime(settings, server, rebuild, checking)
    except StoreDamaged:
        raise
    except BaseException:
        if checking is not None:
            checking.raise_if_damaged()  # the damage, with the error it caused as context
        raise


def _build_runtime(
    settings: Settings, server: bool, rebuild: bool, checking: BackgroundCheck | None
) -> Runtime:
    secure_files(settings)
    protector = field_protector(settings)
    store = open_store(settings, protector)
    rule_store = open_rule_store(settings)
    secret = token_secret(settings)
    identity = open_identity(settings, secret)
    vault = open_vault(settings)
    pipeline = Pipeline(
        build_stages(settings, rule_store, store, identity, "serve" if server else "replay", vault),
        Policy(settings.policy.to_config()),
    )
    changes = open_change_feed(settings, rule_store, pipeline)
    committer = GroupCommitter(store, settings.group_commit_max) if server else None
    engine = Engine(
        pipeline,
        store,
        Tokenizer(secret)
        if vault is None
        else SharingTokenizer(secret, consortium_keys(settings), vault),
        durable=settings.durable,
        committer=committer,
        snapshot_path=snapshot_path(settings),
        max_skew_s=settings.future_skew_s,
        limits=settings.limits(),
    )
    engine.snapshot_codec = (
        lambda data: protector.seal_blob(data, b"snapshot"),
        lambda blob: protector.open_blob(blob, b"snapshot"),
    )
    if server:
        engine.challenger = identity.service
        # Deciding waits on PostgreSQL (and Redis): keep those waits off the event loop.
        engine.offload = isinstance(store, PostgresStore)
    runtime = Runtime(
        settings, store, rule_store, engine, committer, identity=identity, changes=changes
    )
    follower = follow_shared_log(settings, engine, store, changes)
    if server and settings.state.backend == "redis" and isinstance(store, PostgresStore):
        from fengkong.runtime_repair import open_repair

        runtime.repair = open_repair(settings, engine, store, redis_secret(settings))
    if rebuild:
        runtime.rebuilt_events = engine.rebuild()
    if checking is not None and checking.problems():
        runtime.close(save=False)  # nothing derived from a damaged store is kept
        checking.raise_if_damaged()
    if engine.snapshot_seq == 0 and runtime.rebuilt_events >= SNAPSHOT_AFTER_EVENTS:
        # A start from scratch: the next one need not read it all again. (After a
        # snapshot and its tail, the next maintenance round or the shutdown saves.)
        engine.save_snapshot()
    if follower is not None:
        follower.start(max(follower.seq, engine.rebuilt_seq), follower.label_id)
    # The rebuilt state is millions of long-lived containers: keep the cyclic GC from
    # walking them again and again (it made per-event tails ten times longer). No full
    # collection first: walking them once costs seconds at a million events, and a
    # fresh rebuild or restore leaves little garbage to free.
    gc.freeze()
    return runtime
