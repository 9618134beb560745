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

import datetime
import random
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db.models import Q

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import Hold, Outcome
from conductor.models import Coupon, CouponKind, CouponPool, Step
from conductor.steps.context import VersionContext, label, whole_number
from contacts.services import UpdateType, fire_events, update_profiles
from lists.field_types import clean_value
from lists.models import DataType, Event

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


# --- Running -------------------------------------------------------------------
# Every profile write goes through contacts' batch service: one set-based
# update and one activity per changed contact, in this transaction. The runner
# has locked the contacts and keeps them current, so they are not read again.

_random = random.SystemRandom()


def _write(batch: StepBatch, values: dict[int, object]) -> None:
    """Write ``{enrollment id: value}`` (None clears) into the step's field."""
    field = int(batch.step.settings["field"])
    updates = [(e.contact, {field: values[e.pk]}) for e in batch.enrollments if e.pk in values]
    if updates:
        update_profiles(
            email_list=batch.email_list,
            updates=updates,
            update_type=UpdateType.OVERWRITE,
            locked=True,
        )


def _local_date(batch: StepBatch, enrollment) -> datetime.date:
    return enrollment.step_entered_at.astimezone(batch.email_list.zone).date()


def _run_set_value(batch: StepBatch) -> dict[int, Outcome]:
    _write(batch, {e.pk: batch.step.settings["value"] for e in batch.enrollments})
    return {}


def _run_set_date(batch: StepBatch) -> dict[int, Outcome]:
    offset = datetime.timedelta(days=int(batch.step.settings.get("offset_days", 0)))
    _write(batch, {e.pk: (_local_date(batch, e) + offset).isoformat() for e in batch.enrollments})
    return {}


def _between(start: datetime.date, end: datetime.date, unit: str) -> int:
    if unit == "days":
        return (end - start).days
    if unit == "weeks":
        return int((end - start).days / 7)
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and end.day < start.day:
        months -= 1
    elif months < 0 and end.day > start.day:
        months += 1
    return months


def _run_days_between(batch: StepBatch) -> dict[int, Outcome]:
    other = str(batch.step.settings["other_field"])
    unit = batch.step.settings["unit"]
    values: dict[int, object] = {}
    for enrollment in batch.enrollments:
        stored = enrollment.contact.profile.get(other)
        other_date = datetime.date.fromisoformat(stored) if stored else None
        values[enrollment.pk] = (
            None
            if other_date is None
            else _between(other_date, _local_date(batch, enrollment), unit)
        )
    _write(batch, values)
    return {}


def _run_split_test(batch: StepBatch) -> dict[int, Outcome]:
    weights = [int(w) for w in batch.step.settings["weights"]]
    groups = range(1, len(weights) + 1)
    _write(batch, {e.pk: _random.choices(groups, weights)[0] for e in batch.enrollments})
    return {}


def _run_fire_event(batch: StepBatch) -> dict[int, Outcome]:
    event = Event.objects.get(pk=batch.step.settings["event"])
    fire_events(event=event, contacts=batch.contacts)
    return {}


def _run_set_coupon(batch: StepBatch) -> dict[int, Outcome]:
    pool = CouponPool.objects.get(pk=batch.step.settings["pool"])
    if pool.kind == CouponKind.STATIC:
        _write(batch, {e.pk: pool.static_code for e in batch.enrollments})
        return {}
    available = Coupon.objects.filter(pool=pool, step_run__isnull=True)
    if pool.expiry_cutoff is not None:
        available = available.filter(
            Q(expires_on__isnull=True) | Q(expires_on__gt=pool.expiry_cutoff)
        )
    # SKIP LOCKED: two workers handing out codes of one pool take different codes.
    codes = list(
        available.order_by("pk").select_for_update(skip_locked=True)[: len(batch.enrollments)]
    )
    outcomes: dict[int, Outcome] = {}
    values: dict[int, object] = {}
    padded: list[Coupon | None] = [*codes, *[None] * (len(batch.enrollments) - len(codes))]
    for enrollment, coupon in zip(batch.enrollments, padded, strict=True):
        if coupon is None:
            outcomes[enrollment.pk] = Hold(f"Coupon pool {pool.name!r} has no codes left.")
            continue
        coupon.step_run = batch.runs[enrollment.pk]
        coupon.assigned_at = batch.now
        values[enrollment.pk] = coupon.code
    Coupon.objects.bulk_update([c for c in codes if c.step_run_id], ["step_run", "assigned_at"])
    _write(batch, values)
    return outcomes


RUNS: dict[str, Callable[[StepBatch], dict[int, Outcome]]] = {
    "SetCoupon": _run_set_coupon,
    "SetValue": _run_set_value,
    "SetDate": _run_set_date,
    "DaysBetween": _run_days_between,
    "SplitTest": _run_split_test,
    "FireEvent": _run_fire_event,
}


def run(batch: StepBatch) -> dict[int, Outcome]:
    return RUNS[batch.step.settings["action"]](batch)
