"""Where a step's settings refer to objects of the list, and the one walk that
swaps those references between database ids and portable names.

Export and import use the same walk in opposite directions, so the two can
never disagree about which settings are references. Everything else in the
settings is copied as it is: checking it is the step kind's business
(``conductor.steps``), reported by ``version_problems``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from conductor.models import StepKind

#: What a reference points at.
FIELD, EVENT, MESSAGE, POOL, TRIGGER = "field", "event", "message", "pool", "trigger"

#: Swaps one reference: ``(category, value, path) -> new value``. It is never
#: called for a null (an unfinished draft), which stays null.
Swap = Callable[[str, Any, str], Any]

# Action settings keys that refer to something, whatever the action kind:
# the same key means the same thing in every action.
ACTION_REFERENCES = {"field": FIELD, "other_field": FIELD, "pool": POOL, "event": EVENT}
# A criteria comparison names its field by id in the database, by name in a file.
CRITERIA_ID, CRITERIA_NAME = "segmentationFieldId", "segmentationField"


def swap_settings(
    kind: str, settings: dict[str, Any], swap: Swap, *, path: str, to_file: bool
) -> dict[str, Any]:
    """A copy of one step's ``settings`` with every reference swapped."""
    result = copy.deepcopy(settings)
    if kind == StepKind.MESSAGE:
        _swap_key(result, "message", MESSAGE, swap, path)
        variants = result.get("variants")
        if isinstance(variants, list):
            for index, variant in enumerate(variants):
                if isinstance(variant, dict):
                    where = f"{path}.variants[{index}]"
                    _swap_key(variant, "trigger", TRIGGER, swap, where)
                    _swap_key(variant, "message", MESSAGE, swap, where)
    elif kind == StepKind.ACTION:
        for key, category in ACTION_REFERENCES.items():
            _swap_key(result, key, category, swap, path)
    elif kind == StepKind.WAIT:
        _swap_key(result, "field_id", FIELD, swap, path)
    elif kind == StepKind.GO_TO and isinstance(result.get("criteria"), dict):
        _swap_criteria(result["criteria"], swap, f"{path}.criteria", to_file=to_file)
    return result


def _swap_key(data: dict[str, Any], key: str, category: str, swap: Swap, path: str) -> None:
    if data.get(key) is not None:
        data[key] = swap(category, data[key], f"{path}.{key}")


def _swap_criteria(node: dict[str, Any], swap: Swap, path: str, *, to_file: bool) -> None:
    """Rename ``segmentationFieldId`` (an id) to ``segmentationField`` (a name)
    in every comparison of the tree, or back."""
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
