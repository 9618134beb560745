"""Segment's django-q2 tasks: delivery (queued when messages are written), a
backfill per list added, and the ``segment`` schedule (every minute) that
catches whatever a lost task left behind.

Nothing imports this module but the queue, which names its functions by
their dotted path (``queueing``, and ``integrations.apps.SEGMENT_FUNC``): it
is the top of the Segment package, free to use every other module of it.
"""

from __future__ import annotations

import time

from integrations.segment import queueing
from integrations.segment.backfill import backfill_list_sync, resume_backfills
from integrations.segment.delivery import deliver_due
from integrations.segment.services import ensure_all_shards

#: A task stops taking new shards (or backfill chunks) after this long
#: (django-q2 kills a task that runs past Q_TIMEOUT).
TIME_BUDGET_SECONDS = 50.0


def deliver(budget: float = TIME_BUDGET_SECONDS) -> int:
    """The delivery task: send what is due, waiting for retries that come due
    within the budget. Returns how many messages were delivered."""
    started = time.monotonic()
    delivered = deliver_due(budget=budget, wait_for_retries=True)
    # The last pass of queue_delivery's promise.
    rest = started + queueing.QUEUE_INTERVAL - time.monotonic()
    if rest > 0:
        time.sleep(rest)
        delivered += deliver_due(budget=max(budget - queueing.QUEUE_INTERVAL, 1.0))
    return delivered


def backfill(sync_id: int, budget: float = TIME_BUDGET_SECONDS) -> int:
    """The backfill task: identify a chunk of the list's contacts after
    another until done or the budget is spent, then queue itself again.
    Returns how many messages it wrote."""
    written, done = backfill_list_sync(sync_id=sync_id, budget=budget)
    if not done and written:  # the budget ran out; not when it waits for its integration
        queueing.queue_backfill(sync_id, on_commit=False)
    return written


def sweep() -> dict[str, int]:
    """The ``segment`` schedule (every minute): resume backfills whose task
    was lost, make sure every integration has its shards, and deliver what is
    due (retries, messages whose task was lost, shards of dead workers)."""
    ensure_all_shards()
    written = resume_backfills(budget=TIME_BUDGET_SECONDS / 2)
    return {"backfilled": written, "delivered": deliver(budget=TIME_BUDGET_SECONDS / 2)}
