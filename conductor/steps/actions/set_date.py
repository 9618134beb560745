"""SetDate: writes the step-entry date plus or minus N days into a date field.

Settings: ``{"action": "SetDate", "field": id, "offset_days": N}``.
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
from conductor.steps.context import Names, VersionContext, label, whole_number
from lists.models import DataType, List

MAX_OFFSET_DAYS = 36_500


class SetDateSettings(FieldSettings):
    offset_days: int


class SetDate(FieldActionUnit):
    kind = "SetDate"
    choice_label = "Set a date field to the step-entry date ± days"
    title = "Set date"
    problem_fields = [("offset_days", "offset_days"), ("field", "date_field")]

    def check(self, step: Step, context: VersionContext) -> list[str]:
        problems = field_problems(step, context, "field", (DataType.DATE,))
        offset = whole_number(step.settings.get("offset_days", 0))
        if offset is None or abs(offset) > MAX_OFFSET_DAYS:
            problems.append(f"{label(step)}: offset_days is a whole number of days.")
        return problems

    def values(self, batch: StepBatch) -> dict[int, object]:
        offset = datetime.timedelta(days=int(batch.step.settings.get("offset_days", 0)))
        return {e.pk: (entry_date(batch, e) + offset).isoformat() for e in batch.enrollments}

    def summary(self, settings: dict[str, Any], names: Names) -> str:
        return f"{names.field(settings)} = entry date {settings.get('offset_days', 0):+d} days"

    def form_fields(self, email_list: List) -> dict[str, forms.Field]:
        return {
            "date_field": field_choice(email_list, (DataType.DATE,), label="Date field"),
            "offset_days": forms.IntegerField(
                required=False,
                initial=0,
                help_text="Days after the step-entry date (negative: before).",
            ),
        }

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {"date_field": settings.get("field"), "offset_days": settings.get("offset_days", 0)}

    def settings_from(self, cleaned: dict[str, Any]) -> SetDateSettings:
        offset = cleaned.get("offset_days")
        return {
            "action": self.kind,
            "field": chosen_pk(cleaned, "date_field"),
            "offset_days": offset if offset is not None else 0,
        }
