"""SplitTest: writes a random group number 1..N into a number field, group
i chosen with weight ``weights[i-1]``.

Settings: ``{"action": "SplitTest", "field": id (Numeric), "weights": [50, 50]}``
(2 to 20 whole numbers above 0).
"""

from __future__ import annotations

import random
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from conductor.engine.batch import StepBatch
from conductor.models import Step
from conductor.steps.actions.base import (
    FieldActionUnit,
    FieldSettings,
    chosen_pk,
    field_choice,
    field_problems,
)
from conductor.steps.context import Names, VersionContext, label, whole_number
from lists.models import DataType, List

_random = random.SystemRandom()


class SplitTestSettings(FieldSettings):
    weights: list[int] | None


class WeightsField(forms.CharField):
    """Whole numbers separated by commas or spaces, e.g. ``50, 50``."""

    def clean(self, value: Any) -> list[int] | None:
        text = (super().clean(value) or "").strip()
        if not text:
            return None
        parts = [part for part in re.split(r"[,\s]+", text) if part]
        if not all(re.fullmatch(r"[0-9]+", part) for part in parts):
            raise ValidationError("weights are whole numbers separated by commas, e.g. 50, 50.")
        return [int(part) for part in parts]


class SplitTest(FieldActionUnit):
    kind = "SplitTest"
    choice_label = "Split test: a random group number into a number field"
    title = "Split test"
    problem_fields = [("weights", "weights"), ("field", "split_field")]

    def check(self, step: Step, context: VersionContext) -> list[str]:
        problems = field_problems(step, context, "field", (DataType.NUMERIC,))
        weights = step.settings.get("weights")
        if (
            not isinstance(weights, list)
            or not 2 <= len(weights) <= 20
            or any(whole_number(w) is None or w <= 0 for w in weights)
        ):
            problems.append(f"{label(step)}: weights are 2 to 20 whole numbers above 0.")
        return problems

    def values(self, batch: StepBatch) -> dict[int, object]:
        weights = [int(w) for w in batch.step.settings["weights"]]
        groups = range(1, len(weights) + 1)
        return {e.pk: _random.choices(groups, weights)[0] for e in batch.enrollments}

    def summary(self, settings: dict[str, Any], names: Names) -> str:
        weights = ":".join(str(w) for w in settings.get("weights") or [])
        return f"split {weights} into {names.field(settings)}"

    def form_fields(self, email_list: List) -> dict[str, forms.Field]:
        return {
            "split_field": field_choice(
                email_list, (DataType.NUMERIC,), label="Group number field"
            ),
            "weights": WeightsField(
                required=False, help_text="One whole number per group, e.g. 50, 50 or 1, 1, 2."
            ),
        }

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        weights = ", ".join(str(w) for w in settings.get("weights") or [])
        return {"split_field": settings.get("field"), "weights": weights}

    def settings_from(self, cleaned: dict[str, Any]) -> SplitTestSettings:
        return {
            "action": self.kind,
            "field": chosen_pk(cleaned, "split_field"),
            "weights": cleaned.get("weights"),
        }
