"""Feature files: the definitions a model reads, one per line, in the feature language.

::

    # bureau and app signals sent in `attributes`
    value(attributes.bureau_score)
    category(attributes.channel)
    mean(attributes.bureau_score) by user over 30d
    payments            # a built-in set, included by name
    known_fraud         # the known-fraud rates block (labels known at each event's time)

Blank lines and ``#`` comments are ignored; a line that is the name of a built-in set
(``payments``, ``default``) includes that set's definitions; ``known_fraud`` adds the
models' known-fraud block (it reads labels: online they come from the store's labels).
Duplicates are kept once.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fengkong.features import FeatureSpecError, feature_names, parse_feature
from fengkong.models.dataset import FEATURE_SETS


class FeatureFileError(ValueError):
    """A feature file line that is neither a definition nor a built-in set's name."""


KNOWN_FRAUD = "known_fraud"


def parse_feature_lines(
    lines: Iterable[str], source: str = "<features>"
) -> tuple[tuple[str, ...], bool]:
    """The definitions of a feature file's lines (built-in sets expanded), checked, and
    whether the known-fraud block is asked for."""
    out: list[str] = []
    known_fraud = False
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line == KNOWN_FRAUD:
            known_fraud = True
            continue
        texts = FEATURE_SETS.get(line)
        if texts is None:
            try:
                texts = (parse_feature(line).text,)
            except FeatureSpecError as exc:
                raise FeatureFileError(f"{source}:{number}: {exc}") from None
        out += [t for t in texts if t not in out]
    if not out:
        raise FeatureFileError(f"{source}: no feature definitions")
    try:
        feature_names([parse_feature(t) for t in out])
    except FeatureSpecError as exc:
        raise FeatureFileError(f"{source}: {exc}") from None
    return tuple(out), known_fraud


def load_feature_file(path: Path) -> tuple[tuple[str, ...], bool]:
    """:func:`parse_feature_lines` of a file."""
    return parse_feature_lines(path.read_text(encoding="utf-8").splitlines(), str(path))
