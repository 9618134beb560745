"""The Conductor's background work: a django-q2 task queued when contacts
enter, a schedule sweeping every minute, and ``run_conductor``'s loop."""

from __future__ import annotations

import time

from django_q.tasks import async_task

from conductor.engine.claims import claim_due
from conductor.engine.delivery import send_deliveries
from conductor.engine.runner import run_claimed

BATCH = 1000
#: A task stops taking new batches after this long, leaving the rest to the
#: next task or sweep (django-q2 kills tasks that run past Q_TIMEOUT).
TIME_BUDGET_SECONDS = 50


def queue_run() -> None:
    """Ask a worker to advance what is due now (contacts just entered)."""
    async_task(run_due, task_name="conductor-run")


def run_due(*, batch: int = BATCH, budget: float = TIME_BUDGET_SECONDS) -> int:
    """Claim and run due enrollments batch by batch, and send their emails,
    until nothing is due or the time budget is spent. Safe with any number
    of workers running it at once. Returns how many step visits ran."""
    started = time.monotonic()
    ran = 0
    while time.monotonic() - started < budget:
        token = claim_due(batch)
        if token is None:
            break
        ran += run_claimed(token)
        send_deliveries()
    while time.monotonic() - started < budget and send_deliveries():
        pass
    return ran


def sweep() -> int:
    """The ``conductor`` schedule (every minute): Waits that ended, contacts
    whose task was lost, emails not yet sent."""
    return run_due()
