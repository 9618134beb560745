"""Confirmation emails as django-q2 background work."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.apps import RESUME_CONFIRMATIONS_SCHEDULE
from contacts.models import UNSENT, Contact, OptInRequest, OptInStatus, SubscriptionState
from contacts.optin.sending import send_confirmation
from contacts.queueing import enqueue_now
from contacts.services.common import chunks

#: A waiting request this old is queued by the sweep: its task was lost (a
#: Redis restart), or its send failed (an SMTP outage) and every sweep retries it.
FORGOTTEN_AFTER = datetime.timedelta(minutes=2)

#: Requests per task: one task per request would flood the broker on a big batch.
TASK_BATCH = 100

#: Requests one sweep queues at most. The sweep runs every minute; during a
#: long SMTP outage this keeps it from queuing the whole backlog again each
#: time while earlier copies still wait in the broker.
SWEEP_LIMIT = 5000


def request_confirmations(*, contacts: Sequence[Contact]) -> None:
    """Have a confirmation email sent to each pending contact of ``contacts``
    (others are ignored). Call it inside the transaction that made them
    ``Pending``: the requests commit, or vanish, with that change, and the
    emails are queued only once it commits.

    Asking again for a contact whose email has not gone out yet adds nothing:
    the person gets one email. Asking after it went out sends another.
    """
    pending = {c.pk for c in contacts if c.state == SubscriptionState.PENDING}
    if None in pending:
        raise ValueError("request_confirmations needs saved contacts.")
    if not pending:
        return
    now = timezone.now()
    request_ids: list[int] = []
    with transaction.atomic():
        for part in chunks(sorted(pending)):
            # Two callers asking at once for the same contact: the partial unique
            # constraint keeps one unsent request, the other insert does nothing.
            OptInRequest.objects.bulk_create(
                [OptInRequest(contact_id=pk, created_at=now) for pk in part],
                ignore_conflicts=True,
            )
            request_ids.extend(
                OptInRequest.objects.filter(UNSENT, contact_id__in=part).values_list(
                    "pk", flat=True
                )
            )
    transaction.on_commit(lambda: _queue(request_ids))


def send_confirmations(request_ids: Sequence[int]) -> dict[str, int]:
    """The django-q2 task: send these requests' emails (each a no-op if another
    worker has it or it is done). Returns how many ended in each status."""
    counts: dict[str, int] = {}
    for request_id in request_ids:
        status = send_confirmation(request_id) or "Gone"
        counts[status] = counts.get(status, 0) + 1
    return counts


def _queue(request_ids: Sequence[int]) -> None:
    for part in chunks(request_ids, TASK_BATCH):
        queued = enqueue_now(
            send_confirmations,
            part,
            task_name=f"opt-in-{part[0]}",
            sweep=RESUME_CONFIRMATIONS_SCHEDULE,
        )
        if queued is None:
            break  # the broker is down: the sweep queues these and the rest


def resume_confirmations() -> int:
    """The scheduled sweep: queue requests whose task was lost, whose send
    failed (an SMTP outage) or whose worker died (its lease ran out).
    Returns how many it queued."""
    now = timezone.now()
    waiting = list(
        OptInRequest.objects.filter(UNSENT)  # the partial index's condition
        .filter(
            Q(status=OptInStatus.WAITING, created_at__lt=now - FORGOTTEN_AFTER)
            | Q(status=OptInStatus.SENDING, lease_expires_at__lt=now)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    _queue(waiting)
    return len(waiting)
