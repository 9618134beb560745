"""Which settings of a step name other rows, declared by each step kind's
unit, and the one walk that visits them.

Transfer swaps the visited values between ids and names (in both
directions), the diagram and publishing follow ``STEP`` references as
jumps, and reports collect ``MESSAGE`` references: none of them knows a
kind's settings shape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

#: What a reference points at. A ``STEP`` is a step key, kept as it is in a
#: file; ``CRITERIA`` is a Go To filter tree naming profile fields inside it.
FIELD, EVENT, MESSAGE, POOL, TRIGGER = "field", "event", "message", "pool", "trigger"
STEP, CRITERIA = "step", "criteria"

#: ``(category, value, place) -> value to store``; never called for a null.
Visit = Callable[[str, Any, str], Any]


@dataclass(frozen=True)
class Reference:
    """One settings key naming a row: ``"field"``, or ``"variants[].message"``
    for the ``message`` of every object in the ``variants`` list."""

    path: str
    category: str


def walk(
    settings: dict[str, Any], references: Iterable[Reference], visit: Visit, path: str
) -> None:
    """Visit every non-null reference of ``settings`` in declaration order
    (top-level keys first, then each list's objects in turn), storing what
    ``visit`` returns; ``path`` names the settings in the places passed on."""
    nested: dict[str, list[Reference]] = {}
    for reference in references:
        outer, in_list, inner = reference.path.partition("[].")
        if in_list:
            nested.setdefault(outer, []).append(Reference(inner, reference.category))
        elif settings.get(outer) is not None:
            settings[outer] = visit(reference.category, settings[outer], f"{path}.{outer}")
    for outer, inner_references in nested.items():
        items = settings.get(outer)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                walk(item, inner_references, visit, f"{path}.{outer}[{index}]")


def referenced(
    settings: dict[str, Any], references: Iterable[Reference], category: str
) -> list[Any]:
    """The values of ``settings``' references of one category, in order."""
    found: list[Any] = []

    def collect(seen: str, value: Any, place: str) -> Any:
        if seen == category:
            found.append(value)
        return value

    walk(settings, references, collect, "settings")
    return found
