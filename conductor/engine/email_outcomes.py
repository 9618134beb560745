"""A Message step's email reaching its end: the contact waiting for it goes
on, or is held back at the Message step.

Past a Message step, a contact is at the next step in state Sending, and the
engine does not run it. When its email is sent (or may have been: Uncertain;
or was not because the contact may not be mailed now), it becomes Active,
due when that step said (at once, or when a Wait ends). When the email
failed for good (the mail server refused it, or it could not be rendered for
this contact), the contact is put back at the Message step, Held with the
reason: staff correct the address or the message and resume it, and the
step runs again as a new visit and sends a new email. The failed visit's run
says Skipped, with the reason.

Both happen in the transaction that records the email's end
(``emails.signals.emails_settled``). ``settle_stranded``, run by the sweep,
settles any contact whose email ended without word.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.dispatch import receiver
from django.utils import timezone

from conductor.engine.step_emails import step_run_type
from conductor.engine.tasks import queue_run
from conductor.models import Enrollment, EnrollmentState, StepOutcome, StepRun
from core.bulk import update_rows
from emails.models import Delivery, DeliveryStatus, Message
from emails.signals import emails_settled

#: Contacts the sweep settles at once.
STRANDED_BATCH = 500
#: A contact waits this long for its email's word before the sweep looks.
STRANDED_AFTER = datetime.timedelta(minutes=1)
FINAL = (
    DeliveryStatus.SENT,
    DeliveryStatus.UNCERTAIN,
    DeliveryStatus.FAILED,
    DeliveryStatus.SKIPPED,
)


@receiver(emails_settled, dispatch_uid="conductor-email-outcomes")
def on_emails_settled(
    sender: Any, went: list[Delivery], failed: list[Delivery], **kwargs: Any
) -> None:
    if went_runs := _by_run(went):
        release(went_runs.keys())
    if failed_runs := _by_run(failed):
        hold_back(failed_runs)


def _by_run(deliveries: Iterable[Delivery]) -> dict[int, Delivery]:
    """``{step run id: its delivery}`` of those deliveries a Message step sent."""
    type_id = step_run_type().pk
    return {d.source_id: d for d in deliveries if d.source_type_id == type_id}


def release(run_ids: Iterable[int]) -> int:
    """The contacts waiting for these runs' emails go on: Active, due when
    their step said. Only a contact still waiting for that very email (the
    visit after the run's) moves: a resent email never frees a contact
    waiting for a later one. Returns how many went on."""
    awaited = StepRun.objects.filter(
        pk__in=list(run_ids), enrollment_id=OuterRef("pk"), visit=OuterRef("visit") - 1
    )
    released = (
        Enrollment.objects.filter(state=EnrollmentState.SENDING)
        .filter(Exists(awaited))
        .update(state=EnrollmentState.ACTIVE)
    )
    if released:
        transaction.on_commit(queue_run)
    return released


def hold_back(failed: dict[int, Delivery]) -> int:
    """The contacts waiting for these runs' failed emails go back to their
    Message step, Held with the reason; the failed visit's run says Skipped.
    Returns how many were held."""
    runs = StepRun.objects.select_related("step").in_bulk(list(failed))
    waiting = Enrollment.objects.select_for_update().in_bulk(
        {run.enrollment_id for run in runs.values()}
    )
    names = dict(
        Message.objects.filter(pk__in={d.message_id for d in failed.values()}).values_list(
            "pk", "name"
        )
    )
    now = timezone.now()
    held: list[Enrollment] = []
    skipped: list[StepRun] = []
    for run_id, delivery in failed.items():
        run = runs.get(run_id)
        enrollment = waiting.get(run.enrollment_id) if run else None
        if run is None or enrollment is None:
            continue
        if enrollment.state != EnrollmentState.SENDING or enrollment.visit != run.visit + 1:
            continue  # no longer waiting for this email (removed from the conversation…)
        why = delivery.error or "Not sent."
        name = names.get(delivery.message_id, f"message {delivery.message_id}")
        enrollment.state = EnrollmentState.HELD
        enrollment.step = run.step
        enrollment.thread_id = run.step.thread_id
        enrollment.step_entered_at = now
        enrollment.due_at = None
        enrollment.held_reason = (
            f"Email “{name}”: {why.rstrip('.')}. Correct the address or the message, "
            "then resume the contact: the step sends the email again."
        )[:2000]
        held.append(enrollment)
        run.outcome = StepOutcome.SKIPPED
        run.details = {**run.details, "reason": why}
        skipped.append(run)
    update_rows(held, ["state", "step", "thread", "step_entered_at", "due_at", "held_reason"])
    update_rows(skipped, ["outcome", "details"])
    return len(held)


def settle_stranded(limit: int = STRANDED_BATCH) -> int:
    """Contacts still waiting for an email that has ended (or no longer
    exists): settled as its end says (a Skipped email holds the contact,
    with its reason). The sender settles them as it records each email, so
    this finds none unless something went wrong; it keeps a contact from
    waiting for ever. Safe on many workers. Returns how many it settled."""
    before = timezone.now() - STRANDED_AFTER
    with transaction.atomic():
        enrollments = list(
            Enrollment.objects.filter(state=EnrollmentState.SENDING, step_entered_at__lt=before)
            .order_by("step_entered_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", "visit")[:limit]
        )
        if not enrollments:
            return 0
        awaited = dict(
            StepRun.objects.filter(
                enrollment_id__in=[pk for pk, _ in enrollments],
                visit=F("enrollment__visit") - 1,
            ).values_list("pk", "enrollment_id")
        )
        deliveries = {
            d.source_id: d
            for d in Delivery.objects.filter(
                source_type=step_run_type(), source_id__in=list(awaited)
            ).only("source_type_id", "source_id", "status", "error", "message_id")
        }
        went = [run_id for run_id in awaited if run_id not in deliveries]
        went += [
            run_id
            for run_id, d in deliveries.items()
            if d.status in FINAL and d.status != DeliveryStatus.SKIPPED
        ]
        failed = {
            run_id: d for run_id, d in deliveries.items() if d.status == DeliveryStatus.SKIPPED
        }
        settled = release(went) + hold_back(failed)
        orphans = {pk for pk, _ in enrollments} - set(awaited.values())
        if orphans:  # no run to wait for: nothing will ever end it
            settled += Enrollment.objects.filter(
                pk__in=orphans, state=EnrollmentState.SENDING
            ).update(state=EnrollmentState.ACTIVE)
            transaction.on_commit(queue_run)
    return settled
