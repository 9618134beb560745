"""Terminate: the contact leaves the conversation. It has no settings."""

from __future__ import annotations

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import Finish, Outcome
from conductor.models import Step
from conductor.steps.context import VersionContext, label


def check(step: Step, context: VersionContext) -> list[str]:
    if step.settings:
        return [f"{label(step)}: a Terminate step has no settings."]
    return []


def run(batch: StepBatch) -> dict[int, Outcome]:
    return {e.pk: Finish() for e in batch.enrollments}
