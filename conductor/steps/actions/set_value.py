"""SetValue: writes one value into a profile field, or clears it.

Settings: ``{"action": "SetValue", "field": id, "value": <in the field's
format> or null}`` (null clears the field).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from conductor.engine.batch import StepBatch
from conductor.models import Step
from conductor.steps.actions.base import (
    AddError,
    FieldActionUnit,
    FieldSettings,
    chosen_pk,
    field_choice,
    field_problems,
)
from conductor.steps.context import Names, VersionContext, label, whole_number
from lists.field_types import clean_value
from lists.models import List


class SetValueSettings(FieldSettings):
    value: str | None


class SetValue(FieldActionUnit):
    kind = "SetValue"
    choice_label = "Set a field to a value, or clear it"
    title = "Set value"
    problem_fields = [("give a value", "value"), ("field", "value_field")]
    problem_fallback = "value"  # clean_value's own message

    def check(self, step: Step, context: VersionContext) -> list[str]:
        problems = field_problems(step, context, "field", ())
        field = context.fields.get(whole_number(step.settings.get("field")) or 0)
        if "value" not in step.settings:
            problems.append(f"{label(step)}: give a value (null clears the field).")
        elif field is not None and step.settings["value"] is not None:
            try:
                clean_value(field, step.settings["value"])
            except ValidationError as error:
                problems.append(f"{label(step)}: {' '.join(error.messages)}")
        return problems

    def values(self, batch: StepBatch) -> dict[int, object]:
        return {e.pk: batch.step.settings["value"] for e in batch.enrollments}

    def summary(self, settings: dict[str, Any], names: Names) -> str:
        field = names.field(settings)
        return (
            f"clear {field}" if settings.get("value") is None else f"{field} = {settings['value']}"
        )

    def form_fields(self, email_list: List) -> dict[str, forms.Field]:
        return {
            "value_field": field_choice(email_list, label="Field"),
            "value": forms.CharField(required=False, help_text="In the field's own format."),
            "clear_value": forms.BooleanField(required=False, label="Clear the field instead"),
        }

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {
            "value_field": settings.get("field"),
            "clear_value": settings.get("value") is None,
            "value": settings.get("value") or "",
        }

    def clean_form(self, cleaned: dict[str, Any], add_error: AddError) -> None:
        if cleaned.get("clear_value"):
            return
        field, value = cleaned.get("value_field"), (cleaned.get("value") or "").strip()
        if not value:
            add_error("value", "Give a value, or tick “Clear the field instead”.")
        elif field is not None:
            # Stored in the field's canonical form, as imports and the API store it.
            try:
                cleaned["value"] = clean_value(field, value)
            except ValidationError as error:
                add_error("value", error)

    def settings_from(self, cleaned: dict[str, Any]) -> SetValueSettings:
        value = None if cleaned.get("clear_value") else cleaned.get("value")
        return {"action": self.kind, "field": chosen_pk(cleaned, "value_field"), "value": value}
