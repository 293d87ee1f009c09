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
    # Categorical splits: node -> the category codes that go left (absent: numerical).
    categories: dict[int, list[int]] | None = None


def _var(f: int, default_left: bool, missing: int) -> tuple[str, str]:
    """A local holding feature ``f`` as this kind of split sees it, and how to compute it.

    Missing values are mapped once per row to a value that takes the right branch at
    every split of the same kind: -inf goes left, +inf right (thresholds are finite).
    """
    x = f"x[{f}]"
    side = "NEG" if default_left else "POS"
    if missing == MISSING_NAN:
        name = f"{'l' if default_left else 'r'}{f}"
        return name, f"{x} if {x} == {x} else {side}"
    if missing == MISSING_ZERO:
        # NaN counts as zero, and zero takes the default branch.
        name = f"{'zl' if default_left else 'zr'}{f}"
        return name, f"{side} if ({x} != {x} or -{_ZERO!r} <= {x} <= {_ZERO!r}) else {x}"
    return f"n{f}", f"{x} if {x} == {x} else 0.0"


def _cat_var(f: int) -> tuple[str, str]:
    """A local holding feature ``f`` as a category code, after LightGBM's
    CategoricalDecision: NaN and negative codes take the right branch."""
    x = f"x[{f}]"
    return f"k{f}", f"int({x}) if {x} == {x} else -1"


def _expr(tree: FlatTree, node: int, leaf: dict[int, str], variables: dict[str, str]) -> str:
    if tree.feature[node] < 0:
        return leaf[node]
    cats = tree.categories.get(node) if tree.categories else None
    if cats is not None:
        name, code = _cat_var(int(tree.feature[node]))
        variables[name] = code
        left = _expr(tree, tree.left[node], leaf, variables)
        right = _expr(tree, tree.right[node], leaf, variables)
        members = "{" + ", ".join(str(int(c)) for c in sorted(cats)) + "}"
        return f"({left} if {name} in {members} else {right})"
    name, code = _var(int(tree.feature[node]), bool(tree.default_left[node]), tree.missing[node])
    variables[name] = code
    left = _expr(tree, tree.left[node], leaf, variables)
    right = _expr(tree, tree.right[node], leaf, variables)
    return f"({left} if {name} <= {float(tree.threshold[node])!r} else {right})"


def _function(name: str, prologue: dict[str, str], body: list[str]) -> Any:
    lines = [f"def {name}(x):"]
    lines += [f"    {v} = {code}" for v, code in prologue.items()]
    lines += [f"    {b}" for b in body]
    scope: dict[str, Any] = {"NEG": float("-inf"), "POS": float("inf")}
    exec(compile("\n".join(lines) + "\n", f"<fengkong-{name}>", "exec"), scope)
    return scope[name]


class CompiledEnsemble:
    """Sum-of-leaves ensemble: raw score, leaves reached, per-feature contributions."""

    def __init__(self, trees: Sequence[FlatTree], n_features: int) -> None:
        self.n_features = n_features
        self.n_trees = len(trees)
        values: list[float] = []
        contrib_rows: list[np.ndarray[Any, np.dtype[np.float64]]] = []
        by_value: list[str] = []
        by_leaf: list[str] = []
        variables: dict[str, str] = {}
        self.bias = 0.0
        for tree in trees:
            ids: dict[int, str] = {}
            vals: dict[int, str] = {}
            for node, path in _leaf_paths(tree):
                ids[node] = str(len(values))
                vals[node] = repr(float(tree.value[node]))
                values.append(float(tree.value[node]))
                row = np.zeros(n_features)
                for parent, child in path:
                    row[tree.feature[parent]] += tree.value[child] - tree.value[parent]
                contrib_rows.append(row)
            self.bias += float(tree.value[0])
            by_value.append(_expr(tree, 0, vals, variables))
            by_leaf.append(_expr(tree, 0, ids, variables))
        self.leaf_values = values
        self.leaf_contrib = np.vstack(contrib_rows) if contrib_rows else np.zeros((0, n_features))
        # Summed one tree at a time, in tree order, from 0.0: LightGBM's own order, so
        # the result is bit-identical.
        body = ["s = 0.0", *(f"s += {e}" for e in by_value), "return s"]
        self.raw: Callable[[Sequence[float]], float] = _function("_raw", variables, body)
        leaves = "return (" + ", ".join(by_leaf) + ",)" if by_leaf else "return ()"
        self.leaves: LeafFn = _function("_leaves", variables, [leaves])

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
    """Flatten the trees of ``Booster.dump_model()`` (numerical and categorical splits)."""
    trees = []
    for info in dump["tree_info"]:
        t = FlatTree([], [], [], [], [], [], [], {})

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
            kind = node.get("decision_type", "<=")
            if kind not in ("<=", "=="):
                raise ValueError(f"cannot compile a {kind!r} split")
            t.value.append(float(node["internal_value"]))
            t.feature[i] = int(node["split_feature"])
            if kind == "==":
                assert t.categories is not None
                t.categories[i] = [int(c) for c in str(node["threshold"]).split("||")]
            else:
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
