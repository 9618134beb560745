"""Held enrollments: contacts stopped at a step with a reason, resumed by staff
or when what they waited for arrives (codes in an empty coupon pool)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from conductor.engine.tasks import queue_run
from conductor.models import CouponPool, Enrollment, EnrollmentState, StepKind


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
    """The contacts held at a Set Coupon step of ``pool`` (it ran out of codes)."""
    return Enrollment.objects.filter(
        state=EnrollmentState.HELD,
        step__kind=StepKind.ACTION,
        step__settings__action="SetCoupon",
        step__settings__pool=pool.pk,
    )
