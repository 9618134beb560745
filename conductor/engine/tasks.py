"""The Conductor's background work: a django-q2 task queued when contacts
enter, and ``run_conductor``'s loop (the schedule's sweep is ``sweep``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from conductor.engine.claims import any_due, claim_due
from conductor.engine.runner import run_claimed
from contacts.queueing import enqueue_now
from emails.sending.delivery import send_deliveries

BATCH = 1000
#: A task stops taking new batches after this long, leaving the rest to the
#: next task or sweep (django-q2 kills tasks that run past Q_TIMEOUT).
TIME_BUDGET_SECONDS = 50


def queue_run() -> None:
    """Ask a worker to advance what is due now (contacts just entered)."""
    enqueue_now(run_due_spreading, task_name="conductor-run", sweep="conductor")


def run_due_spreading() -> int:
    """The queued task: ``run_due``, handing work to one more worker when
    there is more than one claim's worth (see ``run_due``'s ``spread``)."""
    return run_due(spread=True)


@dataclass
class Totals:
    """What a run did: step visits run and emails sent."""

    steps: int = 0
    emails: int = 0


def run_due(
    *, batch: int = BATCH, budget: float = TIME_BUDGET_SECONDS, spread: bool = False
) -> int:
    """Claim and run due enrollments batch by batch, and send their emails,
    until nothing is due or the time budget is spent. Safe with any number
    of workers running it at once. Returns how many step visits ran.

    With ``spread``, a run that finds more due after its first claim queues
    one more run before working on it: an import of many contacts (one task
    when it commits) fans out to every worker that is free, each taking
    claims of its own, instead of being stepped by one while others idle."""
    return advance(batch=batch, budget=budget, spread=spread).steps


def advance(
    *, batch: int = BATCH, budget: float = TIME_BUDGET_SECONDS, spread: bool = False
) -> Totals:
    """``run_due``, telling how many emails it sent too. Emails sent let
    their contacts go on (``email_outcomes``), so the loop claims again
    until neither contacts nor emails are left."""
    started = time.monotonic()
    totals = Totals()
    while time.monotonic() - started < budget:
        token = claim_due(batch)
        if token is not None:
            if spread and any_due():
                queue_run()
                spread = False  # one more is enough: that run spreads further itself
            totals.steps += run_claimed(token)
        sent = send_deliveries()
        totals.emails += sent
        if token is None and not sent:
            break
    return totals
