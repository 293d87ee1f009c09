"""Equal error rate of a verifier: where false accepts equal false rejects.

>>> equal_error_rate(genuine=[0.1, 0.2, 0.3], impostor=[0.8, 0.9, 1.0])
0.0
>>> equal_error_rate(genuine=[0.1, 0.9], impostor=[0.5, 0.6])
0.5
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def equal_error_rate(
    genuine: Sequence[float] | np.ndarray, impostor: Sequence[float] | np.ndarray
) -> float:
    """EER of distance scores (lower = more alike), from the ROC's crossing point.

    Every distinct score is tried as a threshold (accept ``d ≤ t``); at the threshold
    where the false-reject and false-accept rates cross, their mean is the EER.
    """
    g = np.sort(np.asarray(genuine, dtype=np.float64))
    i = np.sort(np.asarray(impostor, dtype=np.float64))
    if len(g) == 0 or len(i) == 0:
        raise ValueError("need genuine and impostor scores")
    thresholds = np.concatenate(([-np.inf], np.unique(np.concatenate((g, i)))))
    frr = 1.0 - np.searchsorted(g, thresholds, side="right") / len(g)
    far = np.searchsorted(i, thresholds, side="right") / len(i)
    k = int(np.argmin(np.abs(frr - far)))
    return float((frr[k] + far[k]) / 2.0)
