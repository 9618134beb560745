"""Segment's background work on django-q2: a delivery task queued when
messages are written, a backfill task per list added, and the ``segment``
schedule (every minute) that catches whatever a lost task left behind."""

from __future__ import annotations

import threading
import time

from django.db import transaction

from contacts.queueing import enqueue_now, enqueue_on_commit
from integrations.apps import SEGMENT_SCHEDULE

#: A process queues at most one delivery task per this many seconds: writes
#: come one API call at a time, and each task sends everything that is due.
QUEUE_INTERVAL = 1.0
#: A task stops taking new shards (or backfill chunks) after this long
#: (django-q2 kills a task that runs past Q_TIMEOUT).
TIME_BUDGET_SECONDS = 50.0

_queued_at = 0.0
_queued_lock = threading.Lock()


def queue_delivery_on_commit() -> None:
    """Have a worker send the outbox once the current transaction commits."""
    transaction.on_commit(queue_delivery)


def queue_delivery() -> None:
    """Queue a delivery task, unless this process queued one less than
    ``QUEUE_INTERVAL`` ago: that task makes a last pass ``QUEUE_INTERVAL``
    after it started (``deliver``), and it started after it was queued, so
    it also sends what was committed in the meantime."""
    global _queued_at
    with _queued_lock:
        now = time.monotonic()
        if now - _queued_at < QUEUE_INTERVAL:
            return
        _queued_at = now
    enqueue_now(
        "integrations.segment.tasks.deliver", task_name="segment-delivery", sweep=SEGMENT_SCHEDULE
    )


def deliver(budget: float = TIME_BUDGET_SECONDS) -> int:
    """The delivery task: send what is due, waiting for retries that come due
    within the budget. Returns how many messages were delivered."""
    from integrations.segment.delivery import deliver_due

    started = time.monotonic()
    delivered = deliver_due(budget=budget, wait_for_retries=True)
    # The last pass of queue_delivery's promise.
    rest = started + QUEUE_INTERVAL - time.monotonic()
    if rest > 0:
        time.sleep(rest)
        delivered += deliver_due(budget=max(budget - QUEUE_INTERVAL, 1.0))
    return delivered


def queue_backfill(sync_id: int) -> None:
    """Have a worker backfill this synced list once the transaction commits."""
    enqueue_on_commit(
        "integrations.segment.tasks.backfill",
        sync_id,
        task_name=f"segment-backfill-{sync_id}",
        sweep=SEGMENT_SCHEDULE,
    )


def backfill(sync_id: int, budget: float = TIME_BUDGET_SECONDS) -> int:
    """The backfill task: identify a chunk of the list's contacts after
    another until done or the budget is spent, then queue itself again.
    Returns how many messages it wrote."""
    from integrations.segment.backfill import backfill_list_sync

    written, done = backfill_list_sync(sync_id=sync_id, budget=budget)
    if not done and written:  # the budget ran out; not when it waits for its integration
        enqueue_now(
            "integrations.segment.tasks.backfill",
            sync_id,
            task_name=f"segment-backfill-{sync_id}",
            sweep=SEGMENT_SCHEDULE,
        )
    return written


def sweep() -> dict[str, int]:
    """The ``segment`` schedule (every minute): resume backfills whose task
    was lost, make sure every integration has its shards, and deliver what is
    due (retries, messages whose task was lost, shards of dead workers)."""
    from integrations.segment.backfill import resume_backfills
    from integrations.segment.services import ensure_all_shards

    ensure_all_shards()
    written = resume_backfills(budget=TIME_BUDGET_SECONDS / 2)
    return {"backfilled": written, "delivered": deliver(budget=TIME_BUDGET_SECONDS / 2)}
