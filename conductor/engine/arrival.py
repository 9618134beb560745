"""Entering a step: its visit number, and when it is due (its unit's
``release_at``: now, or a Wait's release time)."""

from __future__ import annotations

import datetime

from conductor.engine.outcomes import Hold
from conductor.models import Enrollment, EnrollmentState, Step
from conductor.steps.unit import unit_of


def enter(
    enrollment: Enrollment, step: Step, now: datetime.datetime, *, first: bool = False
) -> None:
    """Put ``enrollment`` at ``step``: due when its unit says (now, or a
    Wait's release time); held when that cannot be known (no date in the
    profile)."""
    enrollment.step = step
    enrollment.thread_id = step.thread_id
    if not first:
        enrollment.visit += 1
    enrollment.step_entered_at = now
    due = unit_of(step).release_at(step=step, enrollment=enrollment, now=now)
    if isinstance(due, Hold):
        enrollment.state = EnrollmentState.HELD
        enrollment.due_at = None
        enrollment.held_reason = due.reason
        return
    enrollment.due_at = due
