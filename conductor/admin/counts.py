"""How many contacts wait, are held at, and have passed each step of a
conversation's published versions: one grouped query per figure."""

from __future__ import annotations

from django.db.models import Count

from conductor.diagram import StepCounts
from conductor.models import Conversation, Enrollment, EnrollmentState, StepRun


def step_counts(conversation: Conversation) -> dict[int, StepCounts]:
    """Counts by step id, for every published version of ``conversation``."""

    def per_step(queryset) -> dict[int, int]:
        rows = queryset.values("step_id").annotate(n=Count("pk")).values_list("step_id", "n")
        return dict(rows.order_by())

    inside = Enrollment.objects.filter(conversation=conversation, step__isnull=False)
    # A contact whose email is on its way waits at the step after the Message.
    waiting = per_step(inside.filter(state__in=[EnrollmentState.ACTIVE, EnrollmentState.SENDING]))
    held = per_step(inside.filter(state=EnrollmentState.HELD))
    passed = per_step(
        StepRun.objects.filter(
            step__version__conversation=conversation, step__version__published_at__isnull=False
        )
    )
    return {
        step_id: StepCounts(waiting.get(step_id, 0), held.get(step_id, 0), passed.get(step_id, 0))
        for step_id in waiting.keys() | held.keys() | passed.keys()
    }
