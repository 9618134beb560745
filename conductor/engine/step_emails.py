"""A Message step's run as the source of an email (``emails.models.Delivery``):
the delivery it writes names the run, carries the trigger (and the coupon,
``step_coupons``) as merge fields and the conversation as what names its
activities; and back from an email to the run that sent it."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType

from conductor.models import Enrollment, StepRun
from emails.models import Delivery


def step_run_type() -> ContentType:
    """The content type of step runs (cached by Django after the first call)."""
    return ContentType.objects.get_for_model(StepRun)


def delivery_of(
    run: StepRun,
    enrollment: Enrollment,
    message_id: int,
    now: datetime.datetime,
    content_id: int | None = None,
    coupon: str | None = None,
) -> Delivery:
    """The unsaved delivery of ``message_id`` to the enrollment's contact,
    sent by ``run``; rendered from the frozen ``content_id`` when given (the
    message as its published version was published with), with ``coupon``
    as ``{{ coupon }}`` when the conversation gave the contact one."""
    trigger = {"kind": enrollment.trigger_kind, **enrollment.trigger_details}
    merge_context: dict[str, object] = {"trigger": trigger}
    if coupon is not None:
        merge_context["coupon"] = coupon
    return Delivery(
        source_type=step_run_type(),
        source_id=run.pk,
        message_id=message_id,
        content_id=content_id,
        contact=enrollment.contact,
        created_at=now,
        merge_context=merge_context,
        details={"conversation_id": enrollment.conversation_id},
    )


def runs_of(delivery_ids: Iterable[int]) -> dict[int, StepRun]:
    """``{delivery id: the step run that sent it}`` of those deliveries a
    Message step sent."""
    sources = dict(
        Delivery.objects.filter(pk__in=list(delivery_ids), source_type=step_run_type()).values_list(
            "pk", "source_id"
        )
    )
    runs = StepRun.objects.in_bulk(set(sources.values()))
    return {pk: runs[run_id] for pk, run_id in sources.items() if run_id in runs}
