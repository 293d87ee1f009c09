"""Which package may import which (docs/architecture.md), checked on the source's AST."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "fengkong"

# The rule of /work/shared/design/ARCHITECTURE.md: "types" is the stage protocol every
# concept's stage may depend on (decisions.types, and decisions.state for its snapshot
# helpers); "store" is the repository protocol of decisions (decisions.store: records,
# Store, Committer) that storage implements. Decisions as a whole may import events.
PROTOCOLS = {"types": "types", "state": "types", "store": "store"}
BELOW_API = {
    "events", "features", "graph", "identity", "documents", "links", "rules", "models",
    "credit", "decisions", "cases", "audit", "sharing", "storage", "sim", "evaluation",
    "settings", "imaging", "batch",
}  # fmt: skip
ALLOWED: dict[str, set[str]] = {
    "events": set(),
    "features": {"events", "types"},
    "graph": {"events", "types"},
    "identity": {"events", "types"},
    "imaging": {"events", "types"},
    "documents": {"events", "types", "imaging"},
    "links": {"events", "types", "imaging"},
    "rules": {"events", "types"},
    "models": {"features", "events", "types"},
    "credit": {"models", "events", "types"},
    "decisions": {"events"},
    "cases": {"decisions", "events"},
    "audit": {"events"},
    # types: its stage; audit: police leads carry the chain's evidence bundles.
    "sharing": {"events", "types", "audit"},
    "storage": {
        "store",
        "types",
        "rules",
        "models",
        "identity",
        "cases",
        "audit",
        "sharing",
        "events",
    },
    "sim": {"events"},
    "evaluation": {"events"},
    # Batch jobs over the Parquet lake: graph tables per file, sealed bodies revealed.
    "batch": {"events", "graph"},
    "settings": {"types", "events"},
    "runtime": {"runtime_identity", "runtime_keys", "runtime_repair", *BELOW_API},
    # The deployment's keys: tokenisation, Redis state tags, field sealing.
    "runtime_keys": BELOW_API,
    # The state repair of a server on PostgreSQL + Redis: its stages and its loop.
    "runtime_repair": BELOW_API,
    # The identity half of the runtime: challenge, voiceprint stores and their stages.
    "runtime_identity": BELOW_API,
    # The sharing half: a member's keys, export, import, PSI and police leads.
    "runtime_sharing": {"runtime", "runtime_keys", *BELOW_API},
    "api": {"runtime", *BELOW_API},
    "console": {"api"},
    "cli": {"api", "runtime", "runtime_keys", "runtime_sharing", *BELOW_API},
    "__main__": {"cli"},
}

# Kept for now, each with its reason; remove a line when its import goes.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("decisions", "storage"): "engine: packs explanations in the store's format (explain)",
    ("models", "identity"): "dataset: the device key of offline rows",
    ("rules", "features"): "names: the default feature names rules may read",
    ("settings", "decisions"): "PolicyConfig of the policy settings",
    # features.state owns the per-entity state interface (EntityStates, MemoryStates).
    ("documents", "features"): "reuse, stage: the entity-state interface of features.state",
    (
        "graph",
        "features",
    ): "flows, flow_stage, circles: the entity-state interface of features.state",
    ("graph", "identity"): "stage: the device key of an event's graph node",
    ("links", "features"): "stage: the least-recently-seen eviction of features.bounded",
    ("features", "identity"): "baserates, stage: fingerprint clusters and device keys",
    ("features", "rules"): "stage: the enrich facts rules.names declares",
    ("identity", "features"): "fingerprints: the windowed distinct counts of features",
    ("sharing", "identity"): "identifiers: the usable device id and fingerprint cluster",
    ("sim", "identity"): "challenges: simulated customers read the OTP sink and TOTP codes",
}


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _targets(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    return []


def imports() -> dict[tuple[str, str], list[str]]:
    """``(importer, imported)`` package pairs with the files that make them."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(SRC.rglob("*.py")):
        pkg = _package(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for module in _targets(node):
                parts = module.split(".")
                if parts[0] != "fengkong" or len(parts) < 2 or parts[1] == pkg:
                    continue
                protocol = parts[1] == "decisions" and len(parts) > 2 and parts[2] in PROTOCOLS
                target = PROTOCOLS[parts[2]] if protocol else parts[1]
                found[(pkg, target)].append(str(path.relative_to(SRC)))
    return found


def test_packages_import_only_what_the_architecture_allows() -> None:
    bad = []
    for (pkg, target), files in imports().items():
        allowed = ALLOWED.get(pkg)
        assert allowed is not None, f"package {pkg!r} is not in the architecture table"
        if target in allowed or (target in PROTOCOLS and "decisions" in allowed):
            continue
        if (pkg, "decisions" if target in PROTOCOLS else target) in EXCEPTIONS:
            continue
        bad.append(f"{pkg} -> {target} ({', '.join(sorted(set(files)))})")
    assert bad == []


def test_every_exception_is_still_needed() -> None:
    used = {(p, "decisions" if t in PROTOCOLS else t) for p, t in imports()}
    assert sorted(set(EXCEPTIONS) - used) == []


def test_nothing_imports_the_edges() -> None:
    """No package imports api, cli or console (but cli serves the api, console uses it)."""
    edges = {("cli", "api"), ("__main__", "cli"), ("console", "api")}
    for (pkg, target), files in imports().items():
        if target in {"api", "cli", "console"}:
            assert (pkg, target) in edges, files


# The API depends on the repository protocols (api.keys, cases.store); one module
# opens the storage layer's implementations of them, and mypy checks them there.
IMPLEMENTATIONS = {"fengkong.storage.keys_sqlite", "fengkong.storage.cases_sqlite"}


def test_the_api_names_its_store_implementations_in_one_module() -> None:
    found = set()
    for path in sorted((SRC / "api").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = _targets(node)
            if isinstance(node, ast.ImportFrom) and node.module == "fengkong.storage":
                names = [f"fengkong.storage.{a.name}" for a in node.names]
            if IMPLEMENTATIONS & set(names):
                found.add(str(path.relative_to(SRC)))
    assert found == {"api/stores.py"}
