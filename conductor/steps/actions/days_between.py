"""DaysBetween: writes the time between a profile date and the step-entry
date into a number field, in days, whole weeks or whole months.

Settings: ``{"action": "DaysBetween", "field": id (Numeric), "other_field":
id (Date), "unit": "days" | "weeks" | "months"}``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms

from conductor.engine.batch import StepBatch
from conductor.models import Step
from conductor.steps.actions.base import (
    FieldActionUnit,
    FieldSettings,
    chosen_pk,
    entry_date,
    field_choice,
    field_problems,
)
from conductor.steps.context import Names, VersionContext, label
from conductor.steps.references import FIELD, Reference
from lists.models import DataType, List

UNITS = ("days", "weeks", "months")


class DaysBetweenSettings(FieldSettings):
    other_field: int | None
    unit: str


def between(start: datetime.date, end: datetime.date, unit: str) -> int:
    """Whole ``unit``s from ``start`` to ``end`` (negative when ``end`` is earlier)."""
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


class DaysBetween(FieldActionUnit):
    kind = "DaysBetween"
    choice_label = "Set a number field to the time since a date field"
    title = "Days between"
    references = (Reference("field", FIELD), Reference("other_field", FIELD))
    problem_fields = [("other_field", "since_field"), ("unit", "unit"), ("field", "days_field")]

    def check(self, step: Step, context: VersionContext) -> list[str]:
        problems = field_problems(step, context, "field", (DataType.NUMERIC,))
        problems += field_problems(step, context, "other_field", (DataType.DATE,))
        if step.settings.get("unit") not in UNITS:
            problems.append(f"{label(step)}: unit is one of {', '.join(UNITS)}.")
        return problems

    def values(self, batch: StepBatch) -> dict[int, object]:
        other = str(batch.step.settings["other_field"])
        unit = batch.step.settings["unit"]
        values: dict[int, object] = {}
        for enrollment in batch.enrollments:
            stored = enrollment.contact.profile.get(other)
            since = datetime.date.fromisoformat(stored) if stored else None
            values[enrollment.pk] = (
                None if since is None else between(since, entry_date(batch, enrollment), unit)
            )
        return values

    def summary(self, settings: dict[str, Any], names: Names) -> str:
        since = names.field(settings, "other_field")
        return f"{names.field(settings)} = {settings.get('unit', 'days')} since {since}"

    def form_fields(self, email_list: List) -> dict[str, forms.Field]:
        return {
            "days_field": field_choice(email_list, (DataType.NUMERIC,), label="Number field"),
            "since_field": field_choice(
                email_list, (DataType.DATE,), label="Time since date field"
            ),
            "unit": forms.ChoiceField(
                choices=[(u, u) for u in UNITS], required=False, initial="days"
            ),
        }

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {
            "days_field": settings.get("field"),
            "since_field": settings.get("other_field"),
            "unit": settings.get("unit", "days"),
        }

    def settings_from(self, cleaned: dict[str, Any]) -> DaysBetweenSettings:
        return {
            "action": self.kind,
            "field": chosen_pk(cleaned, "days_field"),
            "other_field": chosen_pk(cleaned, "since_field"),
            "unit": cleaned.get("unit") or "days",
        }
