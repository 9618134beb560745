"""Entering a step: its visit number, and when it is due (a Wait's release time)."""

from __future__ import annotations

import datetime

from conductor.models import Enrollment, EnrollmentState, Step, StepKind
from conductor.waits import wait_rule_from_settings


def enter(
    enrollment: Enrollment, step: Step, now: datetime.datetime, *, first: bool = False
) -> None:
    """Put ``enrollment`` at ``step``: due now, or at a Wait's release time;
    held when that time cannot be computed (no date in the profile)."""
    enrollment.step = step
    enrollment.thread_id = step.thread_id
    if not first:
        enrollment.visit += 1
    enrollment.step_entered_at = now
    enrollment.due_at = now
    if step.kind != StepKind.WAIT:
        return
    rule = wait_rule_from_settings(step.settings)
    release = rule.release_at(
        entered_at=now,
        zone=enrollment.conversation.list.zone,
        profile=enrollment.contact.profile,
    )
    if release is None:
        # Releasing at once could send a dated email on the wrong day; hold it visibly.
        enrollment.state = EnrollmentState.HELD
        enrollment.due_at = None
        enrollment.held_reason = (
            f"{step}: the contact has no date in profile field {getattr(rule, 'field_id', '?')}."
        )
        return
    enrollment.due_at = max(release, now)
