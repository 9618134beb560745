"""Terminate: the contact leaves the conversation. It has no settings."""

from __future__ import annotations

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import Finish, Outcome
from conductor.forms.base import StepForm
from conductor.models import Step, StepKind
from conductor.steps.context import Names, VersionContext, label
from conductor.steps.unit import StepKindUnit


class TerminateStepForm(StepForm):
    """A Terminate step has no settings, only its name."""


class TerminateUnit(StepKindUnit):
    kind = StepKind.TERMINATE
    label = StepKind.TERMINATE.label
    form = TerminateStepForm
    colour = "#fee2e2"
    finishes = True

    def check(self, step: Step, context: VersionContext) -> list[str]:
        if step.settings:
            return [f"{label(step)}: a Terminate step has no settings."]
        return []

    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        return {e.pk: Finish() for e in batch.enrollments}

    def summary(self, step: Step, names: Names) -> str:
        return "leave the conversation"
