"""Queueing Segment's background work: what the outbox and the services call
when there is something to deliver or to backfill.

The tasks themselves are in ``tasks``, named here by their dotted path only:
this module imports nothing of the Segment package, so everything that
writes messages can use it, and ``tasks`` (which runs delivery and backfill)
sits above all of them.
"""

from __future__ import annotations

import threading
import time

from django.db import transaction

from contacts.queueing import enqueue_now, enqueue_on_commit

#: The django-q2 schedule (every minute, ``tasks.sweep``) that delivers the
#: outbox and resumes backfills, and so does the work of a task not queued.
SEGMENT_SCHEDULE = "segment"

#: A process queues at most one delivery task per this many seconds: writes
#: come one API call at a time, and each task sends everything that is due.
QUEUE_INTERVAL = 1.0

_queued_at = 0.0
_queued_lock = threading.Lock()


def queue_delivery_on_commit() -> None:
    """Have a worker send the outbox once the current transaction commits."""
    transaction.on_commit(queue_delivery)


def queue_delivery() -> None:
    """Queue a delivery task, unless this process queued one less than
    ``QUEUE_INTERVAL`` ago: that task makes a last pass ``QUEUE_INTERVAL``
    after it started (``tasks.deliver``), and it started after it was queued,
    so it also sends what was committed in the meantime."""
    global _queued_at
    with _queued_lock:
        now = time.monotonic()
        if now - _queued_at < QUEUE_INTERVAL:
            return
        _queued_at = now
    enqueue_now(
        "integrations.segment.tasks.deliver", task_name="segment-delivery", sweep=SEGMENT_SCHEDULE
    )


def queue_backfill(sync_id: int, *, on_commit: bool = True) -> None:
    """Have a worker backfill this synced list once the transaction commits
    (``on_commit=False``: at once, as the backfill task queues its next run)."""
    enqueue = enqueue_on_commit if on_commit else enqueue_now
    enqueue(
        "integrations.segment.tasks.backfill",
        sync_id,
        task_name=f"segment-backfill-{sync_id}",
        sweep=SEGMENT_SCHEDULE,
    )
