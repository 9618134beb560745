"""Swapping a step's references to the list's objects between database ids
and portable names.

Which settings are references is each step kind's declaration
(``StepKindUnit.references``); export and import walk them with the same
``conductor.steps.references.walk`` in opposite directions, so the two can
never disagree. Everything else in the settings is copied as it is: checking
it is the step kind's business, reported by ``version_problems``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from conductor.steps.references import (
    CRITERIA,
    EVENT,
    FIELD,
    MESSAGE,
    POOL,
    STEP,
    TRIGGER,
    Reference,
    walk,
)

__all__ = ["EVENT", "FIELD", "MESSAGE", "POOL", "TRIGGER", "Swap", "swap_settings"]

#: Swaps one reference: ``(category, value, path) -> new value``. It is never
#: called for a null (an unfinished draft), which stays null.
Swap = Callable[[str, Any, str], Any]

# A criteria comparison names its field by id in the database, by name in a file.
CRITERIA_ID, CRITERIA_NAME = "segmentationFieldId", "segmentationField"


def swap_settings(
    references: Iterable[Reference],
    settings: dict[str, Any],
    swap: Swap,
    *,
    path: str,
    to_file: bool,
) -> dict[str, Any]:
    """A copy of one step's ``settings`` with every one of its kind's
    ``references`` swapped."""

    def visit(category: str, value: Any, place: str) -> Any:
        if category == STEP:
            return value  # a step key is the same in every database
        if category == CRITERIA:
            if isinstance(value, dict):
                _swap_criteria(value, swap, place, to_file=to_file)
            return value
        return swap(category, value, place)

    result = copy.deepcopy(settings)
    walk(result, references, visit, path)
    return result


def _swap_criteria(node: dict[str, Any], swap: Swap, path: str, *, to_file: bool) -> None:
    """Rename ``segmentationFieldId`` (an id) to ``segmentationField`` (a name)
    in every comparison of the tree, or back; swap an engagement condition's
    ``message`` (its ``link`` is an address, the same everywhere)."""
    if node.get("message") is not None:
        node["message"] = swap(MESSAGE, node["message"], f"{path}.message")
    source, target = (CRITERIA_ID, CRITERIA_NAME) if to_file else (CRITERIA_NAME, CRITERIA_ID)
    if node.get(source) is not None:
        value = swap(FIELD, node.pop(source), f"{path}.{source}")
        # Stored criteria may carry both; the name is then the one kept (the
        # parser refuses a pair that disagrees, so nothing is lost).
        node.pop(target, None)
        node[target] = value
    filters = node.get("filters")
    if isinstance(filters, list):
        for index, member in enumerate(filters):
            if isinstance(member, dict):
                _swap_criteria(member, swap, f"{path}.filters[{index}]", to_file=to_file)
