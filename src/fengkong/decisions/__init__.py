"""Decisions: the pipeline of stages, the policy and the engine that makes it durable."""

from fengkong.decisions.engine import Engine
from fengkong.decisions.pipeline import Pipeline
from fengkong.decisions.policy import Outcome, Policy, PolicyConfig
from fengkong.decisions.types import (
    CHALLENGE_KINDS,
    Action,
    ChallengeKind,
    Decision,
    DecisionContext,
    FeatureValue,
    Proposal,
    Reason,
    Stage,
    StatefulStage,
    UserWarning,
)
from fengkong.decisions.units import Accepted, DecisionDict, IdempotencyConflict

__all__ = [
    "CHALLENGE_KINDS",
    "Accepted",
    "Action",
    "ChallengeKind",
    "Decision",
    "DecisionContext",
    "DecisionDict",
    "Engine",
    "FeatureValue",
    "IdempotencyConflict",
    "Outcome",
    "Pipeline",
    "Policy",
    "PolicyConfig",
    "Proposal",
    "Reason",
    "Stage",
    "StatefulStage",
    "UserWarning",
]
