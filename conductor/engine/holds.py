"""Held enrollments: contacts stopped at a step with a reason, resumed by staff
or when what they waited for arrives (codes in an empty coupon pool)."""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from conductor.engine.tasks import queue_run
from conductor.models import CouponPool, Enrollment, EnrollmentState, Step
from conductor.steps.registry import all_units


def resume_held(queryset: QuerySet[Enrollment]) -> int:
    """Make these held enrollments Active and due now (their step runs again),
    and have a worker run them once this commits. Returns how many resumed."""
    resumed = queryset.filter(state=EnrollmentState.HELD).update(
        state=EnrollmentState.ACTIVE,
        due_at=timezone.now(),
        held_reason="",
        claim_token="",
        claim_expires_at=None,
    )
    if resumed:
        transaction.on_commit(queue_run)
    return resumed


def held_for_coupons(pool: CouponPool) -> QuerySet[Enrollment]:
    """The contacts held at a step handing out codes of ``pool`` (a Set
    Coupon action): it ran out of codes. Each step kind's unit says which of
    its steps those are."""
    steps = [
        Q(kind=unit.kind) & where
        for unit in all_units()
        if (where := unit.held_for_codes(pool.pk)) is not None
    ]
    if not steps:
        return Enrollment.objects.none()
    return Enrollment.objects.filter(
        state=EnrollmentState.HELD, step__in=Step.objects.filter(reduce(or_, steps))
    )
