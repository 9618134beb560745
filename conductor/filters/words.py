"""Go To criteria in words, for the diagram and the step lists: “Welcome
Code is not empty and opened “Welcome””. Read from the stored settings with
the names a diagram loads once (``Names``), without a query of its own."""

from __future__ import annotations

from typing import Any

from conductor.filters.builder import DATE_WORDS, ENGAGEMENT_WORDS, JOIN_WORDS, WORDS
from conductor.filters.criteria import CompareType, EngagementKind, JoinType
from conductor.steps.context import Names
from lists.models import DataType

#: Longer criteria are cut here, with "…": the diagram's box shows them whole.
MAX_LENGTH = 140


def criteria_words(settings: Any, names: Names) -> str:
    """``settings`` (a Listrak ``Filter``, as stored) in words, cut at
    ``MAX_LENGTH``; "criteria" when they cannot be read."""
    try:
        words = _member(settings, names, nested=False)
    except (KeyError, TypeError, ValueError, IndexError):
        return "criteria match"  # a hand-edited version: publishing names its problem
    return words if len(words) <= MAX_LENGTH else words[: MAX_LENGTH - 1].rstrip() + "…"


def _member(data: dict[str, Any], names: Names, *, nested: bool) -> str:
    if "filters" in data:
        members = data["filters"]
        parts = [_member(members[0], names, nested=True)]
        for member in members[1:]:
            join = JOIN_WORDS[JoinType(member.get("joinType", JoinType.AND))]
            parts.append(f"{join} {_member(member, names, nested=True)}")
        text = " ".join(parts)
        return f"({text})" if nested and len(members) > 1 else text
    if "engagement" in data:
        kind = EngagementKind(data["engagement"])
        message = names.messages.get(data.get("message"), "?")  # type: ignore[arg-type]  # None: no name
        text = f"{ENGAGEMENT_WORDS[kind]} “{message}”"
        if kind.takes_link and data.get("link"):
            text = f"{ENGAGEMENT_WORDS[kind]} {data['link']} in “{message}”"
        if data.get("withinDays"):
            text += f" in the last {data['withinDays']} days"
        return text
    field_id = data["segmentationFieldId"]
    compare = CompareType(data["compareType"])
    is_date = names.field_types.get(field_id) == DataType.DATE
    operator = (DATE_WORDS if is_date else {}).get(compare) or WORDS[compare]
    values = [str(v["value"]) if isinstance(v, dict) else str(v) for v in data.get("values", [])]
    field = names.fields.get(field_id, "?")
    if not values:
        return f"{field} {operator}"
    if compare in (CompareType.BETWEEN, CompareType.NOT_BETWEEN) and len(values) == 2:
        return f"{field} {operator} {values[0]} and {values[1]}"
    return f"{field} {operator} " + ", ".join(f"“{v}”" for v in values)
