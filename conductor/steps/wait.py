"""Wait: holds the contact until the release time of its rule
(``conductor.waits``: duration, fixed date, profile date, anniversary).
Settings: the rule's own settings, e.g. ``{"kind": "duration", "days": 2}``."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import NEXT, Outcome
from conductor.models import Step
from conductor.steps.context import VersionContext, label
from conductor.waits import wait_rule_from_settings
from lists.models import DataType


def check(step: Step, context: VersionContext) -> list[str]:
    try:
        rule = wait_rule_from_settings(step.settings)
    except ValidationError as error:
        return [f"{label(step)}: {message}" for message in error.messages]
    field_id = getattr(rule, "field_id", None)
    if field_id is None:
        return []
    field = context.fields.get(field_id)
    if field is None or field.data_type != DataType.DATE:
        return [f"{label(step)}: field {field_id} is not a Date profile field of this list."]
    return []


def run(batch: StepBatch) -> dict[int, Outcome]:
    """Due means released: the release time was set when the contact arrived."""
    return {e.pk: NEXT for e in batch.enrollments}
