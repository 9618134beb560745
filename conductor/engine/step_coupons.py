"""The coupon a Message step's email gives as ``{{ coupon }}``: the code a
Set Coupon action of the conversation gave the contact, read now from the
profile field that action wrote it into (``conductor.steps.actions.set_coupon``).
A contact who has not passed such an action yet gets none: the merge field
renders empty."""

from __future__ import annotations

from conductor.engine.batch import StepBatch
from conductor.models import Step, StepKind, StepRun

#: ``SetCoupon.kind``: the stored ``settings["action"]``, never renamed.
SET_COUPON = "SetCoupon"


def gives_coupon(step: Step) -> bool:
    """Whether ``step`` is a Set Coupon action."""
    return step.kind == StepKind.ACTION and step.settings.get("action") == SET_COUPON


def coupons_of(batch: StepBatch) -> dict[int, str]:
    """``{enrollment id: its coupon}`` for a batch at a Message step: the
    value of the field written by the Set Coupon step of the version the
    contact passed most recently. One query, none when the version has no
    Set Coupon step; contacts who passed none are left out."""
    fields = {
        pk: step.settings.get("field")
        for pk, step in batch.steps.by_id.items()
        if gives_coupon(step)
    }
    if not fields:
        return {}
    passed = (
        StepRun.objects.filter(
            enrollment_id__in=[e.pk for e in batch.enrollments], step_id__in=list(fields)
        )
        .order_by("enrollment_id", "visit")
        .values_list("enrollment_id", "step_id")
    )
    latest = dict(passed)  # ordered by visit: the most recent run of each enrollment wins
    coupons: dict[int, str] = {}
    for enrollment in batch.enrollments:
        field = fields.get(latest.get(enrollment.pk, 0))
        # The runner keeps the locked contacts current: no need to read them again.
        value = enrollment.contact.profile.get(str(field)) if field is not None else None
        if value is not None:
            coupons[enrollment.pk] = str(value)
    return coupons
