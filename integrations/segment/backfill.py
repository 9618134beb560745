"""Backfill: adding a list to an integration identifies every contact of it.

A list may hold millions of contacts, so the work goes in chunks of
``CHUNK`` contacts along the ``(list, email)`` unique index, each chunk one
transaction that locks the sync row, reads and locks its contacts, inserts
their identify messages in one statement and moves the sync's cursor
(``backfill_after``). It is therefore resumable and safe to run twice at
once: a second runner waits on the sync row and goes on from the cursor the
first one left.

The contacts are locked (in address order, like the contact services) so
that a concurrent change of one of them is ordered around the backfill's
message: either it commits first, and the backfill reads its outcome, or it
waits and its own messages come after the backfill's. The one gap: a contact
*inserted* by a transaction whose hook ran before that process knew of the
list (a long import) and that commits after the backfill passed its address
gets no identify until its next change.

It starts ``SEGMENT_LIST_CACHE_SECONDS`` after the list was added, once every
process knows the list is synced (``outbox.may_be_synced``). The admin and
the django-q2 task run it in the background (``tasks.backfill``,
resumed every minute by the ``segment`` schedule); ``manage.py
add_segment_integration`` runs it in the command, so that a script knows it
is done when the command returns.
"""

from __future__ import annotations

import datetime
import math
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, SubscriptionState
from integrations.models import SegmentListSync
from integrations.segment import payloads
from integrations.segment.outbox import new_message, new_message_id, write_messages

#: Contacts per transaction.
CHUNK = 2000


def backfill_list_sync(
    *, sync_id: int, budget: float = math.inf, wait: bool = True
) -> tuple[int, bool]:
    """Identify the next contacts of a synced list, chunk by chunk, until all
    are done or ``budget`` seconds are spent. Returns how many messages were
    written and whether the backfill is complete (also when the sync is gone;
    a disabled integration's backfill waits until it is enabled again).

    It starts ``SEGMENT_LIST_CACHE_SECONDS`` after it was asked for: by then
    every process writes the list's messages (``outbox.may_be_synced``), so a
    change the backfill reads before is either its own message or seen here.
    ``wait=False`` returns at once, unfinished, when that time has not come.
    """
    started = time.monotonic()
    requested = (
        SegmentListSync.objects.filter(pk=sync_id, backfilled_at__isnull=True)
        .values_list("backfill_requested_at", flat=True)
        .first()
    )
    if requested is None:
        return 0, True
    ready_at = requested + datetime.timedelta(seconds=settings.SEGMENT_LIST_CACHE_SECONDS)
    delay = (ready_at - timezone.now()).total_seconds()
    if delay > 0:
        if not wait or delay > budget:
            return 0, False
        time.sleep(delay)
    written = 0
    while time.monotonic() - started < budget:
        count = _backfill_chunk(sync_id)
        if count is None:
            return written, True
        if count < 0:
            return written, False
        written += count
    return written, False


def _backfill_chunk(sync_id: int) -> int | None:
    """One chunk: returns how many messages it wrote, None when the backfill
    is done, -1 when it must wait (the integration is disabled)."""
    now = timezone.now()
    with transaction.atomic():
        sync = (
            SegmentListSync.objects.select_for_update(of=("self",))
            .select_related("integration", "list")
            .filter(pk=sync_id, backfilled_at__isnull=True)
            .first()
        )
        if sync is None:
            return None
        if not sync.integration.enabled:
            return -1
        contacts = list(
            Contact.objects.select_for_update()
            .filter(list_id=sync.list_id, email__gt=sync.backfill_after)
            .order_by("email")
            .values_list("pk", "email", "state", "profile")[:CHUNK]
        )
        if not contacts:
            SegmentListSync.objects.filter(pk=sync.pk).update(backfilled_at=now)
            return None
        field_key = None if sync.user_id_field_id is None else str(sync.user_id_field_id)
        messages = []
        for contact_id, email, state, profile in contacts:
            payload = payloads.identify(
                message_id=new_message_id(),
                email=email,
                list_id=sync.list_id,
                subscribed=state == SubscriptionState.SUBSCRIBED,
                user_id=(profile or {}).get(field_key) if field_key else None,
                timestamp=now,
            )
            messages.append(
                new_message(
                    integration_id=sync.integration_id,
                    contact_id=contact_id,
                    payload=payload,
                    contact=email,
                    list_id=sync.list_id,
                )
            )
        write_messages(messages)
        SegmentListSync.objects.filter(pk=sync.pk).update(backfill_after=contacts[-1][1])
    return len(messages)


def resume_backfills(*, budget: float = math.inf) -> int:
    """Go on with every unfinished backfill of an enabled integration (whose
    task was lost or whose worker died) that is due; returns how many
    messages were written."""
    started = time.monotonic()
    written = 0
    for sync_id in SegmentListSync.objects.filter(
        backfilled_at__isnull=True, integration__enabled=True
    ).values_list("pk", flat=True):
        left = budget - (time.monotonic() - started)
        if left <= 0:
            break
        written += backfill_list_sync(sync_id=sync_id, budget=left, wait=False)[0]
    return written
