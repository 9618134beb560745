"""One unit per step kind (STYLE: a new kind is one new module plus its tests).

Each unit's ``check(step, context)`` returns the problems of its settings,
each naming the step; publishing refuses a version while any remain.
"""

from __future__ import annotations

from collections.abc import Callable

from conductor.models import Step, StepKind
from conductor.steps import action, go_to, message, terminate, wait
from conductor.steps.context import VersionContext

Checker = Callable[[Step, VersionContext], list[str]]

CHECKS: dict[str, Checker] = {
    StepKind.MESSAGE: message.check,
    StepKind.GO_TO: go_to.check,
    StepKind.ACTION: action.check,
    StepKind.WAIT: wait.check,
    StepKind.TERMINATE: terminate.check,
}


def check_step(step: Step, context: VersionContext) -> list[str]:
    """The problems of one step's settings (empty when it can be published)."""
    return CHECKS[step.kind](step, context)
