"""Assembly: from :class:`~fengkong.settings.Settings` to a running engine.

The CLI and the HTTP app both build their engine here, so a replay and a server with
the same settings decide the same way.
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from fengkong.decisions import Engine, Pipeline, Policy, Stage
from fengkong.events import Tokenizer
from fengkong.models.registry import Registry
from fengkong.settings import Settings
from fengkong.storage import GroupCommitter, SQLiteStore
from fengkong.storage.rules_sqlite import SQLiteRuleStore

log = logging.getLogger(__name__)


def token_secret(settings: Settings) -> bytes:
    """The tokenisation key: from settings, else a random one kept beside the database."""
    if settings.token_secret is not None:
        return settings.token_secret.get_secret_value().encode()
    if str(settings.db_path) == ":memory:":
        return secrets.token_bytes(32)
    key_file = Path(f"{settings.db_path}.key")
    if key_file.exists():
        return bytes.fromhex(key_file.read_text().strip())
    key = secrets.token_bytes(32)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    # Created private from the start: the key must never be readable by others.
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key.hex())
    log.warning("no token_secret set: generated one in %s (keep it with the database)", key_file)
    return key


def open_rule_store(settings: Settings) -> SQLiteRuleStore:
    """The rule store in the database file, with a live rule set.

    At first start the default pack is published; a configured ``rules_path`` is
    published when it differs from the live version (so restarts publish nothing).
    """
    from fengkong.decisions.stages_rules import rule_known_names
    from fengkong.rules import default_ruleset, load_ruleset

    store = SQLiteRuleStore(settings.db_path, rule_known_names())
    live = store.live_version()
    wanted = load_ruleset(settings.rules_path) if settings.rules_path else None
    if wanted is not None and (live is None or live.digest != wanted.digest()):
        info = store.publish(wanted, author="fengkong", comment=f"from {settings.rules_path}")
        log.info("published rule set %s from %s", info.label, settings.rules_path)
    elif live is None:
        info = store.publish(default_ruleset(), author="fengkong", comment="default pack")
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


def build_stages(
    settings: Settings, rule_store: SQLiteRuleStore, store: SQLiteStore
) -> list[Stage]:
    """In order: enrich → links → features → flows → documents → graph → models → rules."""
    from fengkong.decisions.stages_documents import DocumentsStage
    from fengkong.decisions.stages_features import EnrichStage, FeaturesStage
    from fengkong.decisions.stages_flows import FlowsStage
    from fengkong.decisions.stages_graph import GraphStage
    from fengkong.decisions.stages_links import LinksStage
    from fengkong.decisions.stages_models import ModelStage, serving_definitions
    from fengkong.decisions.stages_rules import RulesStage
    from fengkong.features import FeatureEngine, load_ip_ranges

    ranges = load_ip_ranges(settings.ip_ranges_path) if settings.ip_ranges_path else None
    registry = Registry(settings.db_path, settings.models_dir)
    features = FeatureEngine(serving_feature_definitions(registry))
    models = ModelStage.from_registry(
        registry,
        defined=serving_definitions(features),
        labels=store.labels,
        reasons_at=settings.policy.challenge_at or 0.0,
    )
    return [
        EnrichStage(ip_ranges=ranges),
        LinksStage(),
        FeaturesStage(features),
        FlowsStage(),
        DocumentsStage(),
        GraphStage(),
        models,
        RulesStage(rule_store),
    ]


@dataclass
class Runtime:
    """A store, an engine over it, and (for servers) the group committer."""

    settings: Settings
    store: SQLiteStore
    rule_store: SQLiteRuleStore
    engine: Engine
    committer: GroupCommitter | None = None
    rebuilt_events: int = field(default=0)

    def close(self) -> None:
        if self.committer is not None:
            self.committer.close()
        self.rule_store.close()
        self.store.close()


def build_runtime(settings: Settings, *, server: bool = False, rebuild: bool = True) -> Runtime:
    """Open the store, build the pipeline and rebuild its state from stored events."""
    if str(settings.db_path) != ":memory:":
        Path(settings.db_path).parent.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(settings.db_path, synchronous=settings.sqlite_synchronous)
    rule_store = open_rule_store(settings)
    pipeline = Pipeline(
        build_stages(settings, rule_store, store), Policy(settings.policy.to_config())
    )
    committer = GroupCommitter(store, settings.group_commit_max) if server else None
    engine = Engine(
        pipeline,
        store,
        Tokenizer(token_secret(settings)),
        durable=settings.durable,
        committer=committer,
    )
    runtime = Runtime(settings, store, rule_store, engine, committer)
    if rebuild:
        runtime.rebuilt_events = engine.rebuild()
    # The rebuilt state is millions of long-lived containers: keep the cyclic GC from
    # walking them again and again (it made per-event tails ten times longer).
    gc.collect()
    gc.freeze()
    return runtime
