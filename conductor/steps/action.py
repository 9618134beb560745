"""Action: writes into a profile field of the list (SPEC section 4), or fires
an external event. Settings: ``{"action": <kind>, ...}``:

- ``SetCoupon``: ``pool`` (a coupon pool of the list), ``field`` (Text).
- ``SetValue``: ``field``, ``value`` (a value of the field's type; ``null`` clears it).
- ``SetDate``: ``field`` (Date), ``offset_days``: the step-entry date plus or minus N days.
- ``DaysBetween``: ``field`` (Numeric), ``other_field`` (Date), ``unit`` (days|weeks|months):
  the time between step entry and the other date.
- ``SplitTest``: ``field`` (Numeric), ``weights`` (whole numbers > 0): writes a random
  group number 1..N, group i chosen with weight ``weights[i-1]``.
- ``FireEvent``: ``event`` (an event of the list).
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError

from conductor.models import Step
from conductor.steps.context import VersionContext, label, whole_number
from lists.field_types import clean_value
from lists.models import DataType

TEXT_TYPES = (DataType.TEXT, DataType.COMMENT_AREA, DataType.CONTENT_BLOCK)
UNITS = ("days", "weeks", "months")
MAX_OFFSET_DAYS = 36_500


def _field(
    step: Step, context: VersionContext, name: str, types: tuple[str, ...], problems: list[str]
) -> None:
    field_id = whole_number(step.settings.get(name))
    field = context.fields.get(field_id) if field_id is not None else None
    if field is None:
        problems.append(f"{label(step)}: {name} must be a profile field of this list.")
    elif types and field.data_type not in types:
        wanted = " or ".join(str(DataType(t).label) for t in types)
        problems.append(f"{label(step)}: {name} {field.name!r} must be a {wanted} field.")


def _set_coupon(step: Step, context: VersionContext, problems: list[str]) -> None:
    if whole_number(step.settings.get("pool")) not in context.coupon_pools:
        problems.append(f"{label(step)}: pool must be a coupon pool of this list.")
    _field(step, context, "field", TEXT_TYPES, problems)


def _set_value(step: Step, context: VersionContext, problems: list[str]) -> None:
    _field(step, context, "field", (), problems)
    field = context.fields.get(whole_number(step.settings.get("field")) or 0)
    if "value" not in step.settings:
        problems.append(f"{label(step)}: give a value (null clears the field).")
    elif field is not None and step.settings["value"] is not None:
        try:
            clean_value(field, step.settings["value"])
        except ValidationError as error:
            problems.append(f"{label(step)}: {' '.join(error.messages)}")


def _set_date(step: Step, context: VersionContext, problems: list[str]) -> None:
    _field(step, context, "field", (DataType.DATE,), problems)
    offset = whole_number(step.settings.get("offset_days", 0))
    if offset is None or abs(offset) > MAX_OFFSET_DAYS:
        problems.append(f"{label(step)}: offset_days is a whole number of days.")


def _days_between(step: Step, context: VersionContext, problems: list[str]) -> None:
    _field(step, context, "field", (DataType.NUMERIC,), problems)
    _field(step, context, "other_field", (DataType.DATE,), problems)
    if step.settings.get("unit") not in UNITS:
        problems.append(f"{label(step)}: unit is one of {', '.join(UNITS)}.")


def _split_test(step: Step, context: VersionContext, problems: list[str]) -> None:
    _field(step, context, "field", (DataType.NUMERIC,), problems)
    weights = step.settings.get("weights")
    if (
        not isinstance(weights, list)
        or not 2 <= len(weights) <= 20
        or any(whole_number(w) is None or w <= 0 for w in weights)
    ):
        problems.append(f"{label(step)}: weights are 2 to 20 whole numbers above 0.")


def _fire_event(step: Step, context: VersionContext, problems: list[str]) -> None:
    if whole_number(step.settings.get("event")) not in context.events:
        problems.append(f"{label(step)}: event must be an event of this list.")


ACTIONS: dict[str, Callable[[Step, VersionContext, list[str]], None]] = {
    "SetCoupon": _set_coupon,
    "SetValue": _set_value,
    "SetDate": _set_date,
    "DaysBetween": _days_between,
    "SplitTest": _split_test,
    "FireEvent": _fire_event,
}


def check(step: Step, context: VersionContext) -> list[str]:
    kind = step.settings.get("action")
    if kind not in ACTIONS:
        return [f"{label(step)}: action is one of {', '.join(ACTIONS)}."]
    problems: list[str] = []
    ACTIONS[kind](step, context, problems)
    return problems
