"""The router's view of the operations: lexicon, prototypes, rules and parameter parsing, from ``ops``.

Nothing here names an operation: every table is gathered from the registry (``ops.OPERATIONS``) and
cached per registry version, so an operation registered at run time is routed at once. The colour
vocabulary the classifier's typo fixing uses is ``colors``' prompt vocabulary.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from seqedit.engines.classic.colors import PROMPT_COLOR_NAMES, PROMPT_COLOR_RX
from seqedit.engines.classic.ops import OPERATIONS, Operation, Rule, version
from seqedit.engines.classic.ops.parsing import find_colors

__all__ = ["COLOR_NAMES", "COLOR_RX", "find_colors", "lexicon", "params", "prototypes", "rules"]

COLOR_NAMES = PROMPT_COLOR_NAMES
COLOR_RX = PROMPT_COLOR_RX


@lru_cache(maxsize=1)
def _lexicon(_version: int) -> dict[str, re.Pattern[str]]:
    return {name: op.lexicon_rx for name, op in OPERATIONS.items()}


def lexicon() -> dict[str, re.Pattern[str]]:
    """Operation name → its compiled lexicon (a hit adds ``KEYWORD_BOOST``)."""
    return _lexicon(version())


def prototypes() -> dict[str, tuple[str, ...]]:
    """Operation name → its prototype sentences."""
    return {name: op.prototypes for name, op in OPERATIONS.items()}


@lru_cache(maxsize=3)
def _rules(_version: int, stage: str) -> tuple[tuple[str, Rule], ...]:
    found = [(rule.rank, name, rule) for name, op in OPERATIONS.items() for rule in op.rules if rule.stage == stage]
    return tuple((name, rule) for _, name, rule in sorted(found, key=lambda r: (r[0], r[1])))


def rules(stage: str) -> tuple[tuple[str, Rule], ...]:
    """(operation name, rule) of one stage ('hard', 'phrase', 'companion'), by rank."""
    return _rules(version(), stage)


def operation(name: str) -> Operation:
    return OPERATIONS[name]


def params(op: str, clause: str, whole: str | None = None) -> tuple[dict[str, Any], str | None, str]:
    """Params of ``op`` in ``clause``, and a verdict override with its note (None = the default).

    The override ``ops.UNRESOLVED`` means the clause reads like ``op`` but names none of its
    parameters ("add a label", "recolour it"): the router reports such a clause instead of guessing.
    ``whole`` is the full clause when ``clause`` is what is left of it once bookkeeping is stripped
    ("three colour options" → "colour"): a request for colour variants is read from the whole.
    """
    return OPERATIONS[op].parse(clause, whole if whole is not None else "")
