"""Tree ensembles compiled to plain Python for single-event scoring.

LightGBM's ``predict`` costs ~100+ µs per call for one row, most of it per-call overhead.
Here each tree becomes one nested conditional expression yielding its leaf's number, and
the whole ensemble one generated function; a row is scored by summing its leaves' values
in tree order (LightGBM's order, so the sums are bit-identical). Reason codes come from
per-leaf path contributions (Saabas): the change in the node value at every split on the
path to a leaf is credited to the split's feature; it is precomputed per leaf, so an
explanation is one row-sum over the leaves reached.

The generated source contains only numbers formatted here from validated floats and ints
(never text from the artefact), so compiling it cannot run anything but comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LeafFn = Callable[[Sequence[float]], tuple[int, ...]]

# How a split treats a missing (NaN) value, after LightGBM's NumericalDecision.
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
_MISSING = {"None": MISSING_NONE, "Zero": MISSING_ZERO, "NaN": MISSING_NAN}
_ZERO = 1e-35  # LightGBM's kZeroThreshold


@dataclass
class FlatTree:
    """One tree as arrays; node i is a leaf when ``feature[i] < 0``."""

    feature: list[int]
    threshold: list[float]
    left: list[int]
    right: list[int]
    default_left: list[bool]
    missing: list[int]
    value: list[float]


def _cond(f: int, t: float, default_left: bool, missing: int) -> str:
    x = f"x{f}"
    thr = repr(float(t))
    if missing == MISSING_NAN:
        return f"({x} <= {thr} if {x} == {x} else {default_left})"
    if missing == MISSING_ZERO:
        # NaN counts as zero, and zero takes the default branch.
        return (
            f"({default_left} if ({x} != {x} or -{_ZERO!r} <= {x} <= {_ZERO!r}) else {x} <= {thr})"
        )
    return f"({x} <= {thr} if {x} == {x} else {float(t) >= 0.0})"


def _expr(tree: FlatTree, node: int, leaf_ids: dict[int, int]) -> str:
    if tree.feature[node] < 0:
        return str(int(leaf_ids[node]))
    c = _cond(
        int(tree.feature[node]),
        tree.threshold[node],
        bool(tree.default_left[node]),
        tree.missing[node],
    )
    left = _expr(tree, tree.left[node], leaf_ids)
    right = _expr(tree, tree.right[node], leaf_ids)
    return f"({left} if {c} else {right})"


class CompiledEnsemble:
    """Sum-of-leaves ensemble: leaves reached, raw score, per-feature contributions."""

    def __init__(self, trees: Sequence[FlatTree], n_features: int) -> None:
        self.n_features = n_features
        self.n_trees = len(trees)
        values: list[float] = []
        contrib_rows: list[np.ndarray[Any, np.dtype[np.float64]]] = []
        exprs = []
        self.bias = 0.0
        for tree in trees:
            leaf_ids: dict[int, int] = {}
            for node, paths in _leaf_paths(tree):
                leaf_ids[node] = len(values)
                values.append(float(tree.value[node]))
                row = np.zeros(n_features)
                for parent, child in paths:
                    row[tree.feature[parent]] += tree.value[child] - tree.value[parent]
                contrib_rows.append(row)
            self.bias += float(tree.value[0])
            exprs.append(_expr(tree, 0, leaf_ids))
        self.leaf_values = values
        self.leaf_contrib = np.vstack(contrib_rows) if contrib_rows else np.zeros((0, n_features))
        used = sorted({f for t in trees for f in t.feature if f >= 0})
        unpack = "".join(f"    x{f} = x[{f}]\n" for f in used)
        body = ",\n        ".join(exprs)
        src = f"def _leaves(x):\n{unpack}    return (\n        {body},\n    )\n"
        scope: dict[str, Any] = {}
        exec(compile(src, "<fengkong-compiled-trees>", "exec"), scope)
        self.leaves: LeafFn = scope["_leaves"]

    def raw(self, x: Sequence[float]) -> float:
        """The ensemble's raw output (sum of leaf values in tree order)."""
        vals = self.leaf_values
        s = 0.0
        for i in self.leaves(x):
            s += vals[i]
        return s

    def contributions(self, x: Sequence[float]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Saabas path contributions per feature; they sum to ``raw(x) - bias``."""
        out: np.ndarray[Any, np.dtype[np.float64]] = self.leaf_contrib[list(self.leaves(x))].sum(
            axis=0
        )
        return out


def _leaf_paths(tree: FlatTree) -> list[tuple[int, list[tuple[int, int]]]]:
    """Each leaf with its path as (parent, child) node pairs, in left-to-right order."""
    out: list[tuple[int, list[tuple[int, int]]]] = []
    stack: list[tuple[int, list[tuple[int, int]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if tree.feature[node] < 0:
            out.append((node, path))
            continue
        stack.append((tree.right[node], [*path, (node, tree.right[node])]))
        stack.append((tree.left[node], [*path, (node, tree.left[node])]))
    return out


def lightgbm_trees(dump: dict[str, Any]) -> list[FlatTree]:
    """Flatten the trees of ``Booster.dump_model()`` (numerical splits only)."""
    trees = []
    for info in dump["tree_info"]:
        t = FlatTree([], [], [], [], [], [], [])

        def add(node: dict[str, Any], t: FlatTree = t) -> int:
            i = len(t.feature)
            t.feature.append(-1)
            t.threshold.append(0.0)
            t.left.append(-1)
            t.right.append(-1)
            t.default_left.append(False)
            t.missing.append(MISSING_NONE)
            if "leaf_value" in node and "split_feature" not in node:
                t.value.append(float(node["leaf_value"]))
                return i
            if node.get("decision_type", "<=") != "<=":
                raise ValueError("only numerical (<=) splits can be compiled")
            t.value.append(float(node["internal_value"]))
            t.feature[i] = int(node["split_feature"])
            t.threshold[i] = float(node["threshold"])
            t.default_left[i] = bool(node["default_left"])
            t.missing[i] = _MISSING[str(node["missing_type"])]
            t.left[i] = add(node["left_child"])
            t.right[i] = add(node["right_child"])
            return i

        add(info["tree_structure"])
        trees.append(t)
    return trees


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _c(n: float) -> float:
    """Average path length of an unsuccessful BST search among n points (iForest)."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (math.log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n


def isolation_forest_trees(forest: Any) -> tuple[list[FlatTree], float]:
    """Trees of a fitted scikit-learn ``IsolationForest`` with leaf value = path length.

    Returns the trees (features mapped back to input columns) and the normaliser
    ``c(max_samples)``; the anomaly score is ``2 ** (-mean path length / c)``.
    """
    trees = []
    for est, feats in zip(forest.estimators_, forest.estimators_features_, strict=True):
        tr = est.tree_
        n = tr.node_count
        depth = [0] * n
        feature = [-1] * n
        for i in range(n):
            left, right = int(tr.children_left[i]), int(tr.children_right[i])
            if left >= 0:
                feature[i] = int(feats[int(tr.feature[i])])
                depth[left] = depth[right] = depth[i] + 1
        value = [
            float(depth[i]) + _c(float(tr.n_node_samples[i])) if feature[i] < 0 else 0.0
            for i in range(n)
        ]
        trees.append(
            FlatTree(
                feature,
                [float(v) for v in tr.threshold],
                [int(v) for v in tr.children_left],
                [int(v) for v in tr.children_right],
                [False] * n,
                [MISSING_NONE] * n,
                value,
            )
        )
    return trees, _c(float(forest.max_samples_))
