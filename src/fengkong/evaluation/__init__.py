"""Evaluation of decisions against labels: recall per scenario, money saved, honest cost."""

from fengkong.evaluation.metrics import (
    Evaluation,
    ScenarioResult,
    evaluate,
    evaluate_files,
    load_decisions,
    load_labels,
    precision_recall,
    read_jsonl,
)
from fengkong.evaluation.report import format_table, render_html, write_html

__all__ = [
    "Evaluation",
    "ScenarioResult",
    "evaluate",
    "evaluate_files",
    "format_table",
    "load_decisions",
    "load_labels",
    "precision_recall",
    "read_jsonl",
    "render_html",
    "write_html",
]
