"""The emails' sweep: sends what no task sent (a broker that refused the
task, a worker that died), every minute."""

from __future__ import annotations

import time

from emails.sending.delivery import send_deliveries

#: A sweep stops taking new batches after this long (django-q2 kills tasks
#: that run past Q_TIMEOUT); the next sweep goes on.
TIME_BUDGET_SECONDS = 50


def sweep(budget: float = TIME_BUDGET_SECONDS) -> int:
    """The ``emails`` schedule: send pending deliveries, batch after batch,
    until none is left or the time budget is spent. Returns how many were sent."""
    started = time.monotonic()
    total = 0
    while time.monotonic() - started < budget and (sent := send_deliveries()):
        total += sent
    return total
