"""The broadcasts' background work: the task queued when a broadcast starts
or a slice of its recipients is chosen, the ``broadcasts`` schedule's sweep,
and ``run_broadcasts``' loop. Each pass starts what is due, chooses
recipients, sends a batch of emails, judges split tests and finishes what
has been sent; any number of workers may run it at once."""

from __future__ import annotations

import datetime
import time

from django.db.models import Q
from django.utils import timezone

from broadcasts.models import Broadcast, BroadcastStatus, SplitTest, SplitTestStatus
from broadcasts.sending import choose_recipients, finish_sent, queue_sending, start_due
from broadcasts.split_tests import decide_due, finish_split_tests
from emails.models import Delivery, DeliveryStatus
from emails.sending.delivery import send_deliveries

#: A queued task stops taking new work after this long (django-q2 kills tasks
#: that run past Q_TIMEOUT); the next task or the sweep goes on.
TIME_BUDGET_SECONDS = 50
TIDY_EVERY_SECONDS = 5.0


def send_spreading() -> int:
    """The queued task: ``work``, handing over to one more worker when there
    is more than one batch to send (as the Conductor's ``run_due`` does), so
    a broadcast fans out to every free worker."""
    return work(spread=True)


def sweep() -> int:
    """The ``broadcasts`` schedule (every minute): what no task did."""
    return work(spread=True)


def work(*, budget: float = TIME_BUDGET_SECONDS, spread: bool = False) -> int:
    """Start the broadcasts that are due, choose recipients and send emails,
    until nothing is left or ``budget`` seconds have passed; returns how
    many emails were sent. Every few seconds, and whenever it sends nothing,
    it also finishes sent broadcasts and judges split tests, so a small
    broadcast ends while a big one still fills the queue."""
    started = time.monotonic()
    sent_total = 0
    tidied = 0.0
    while time.monotonic() - started < budget:
        start_due()
        chose = choose_recipients(budget=1.0)
        sent = send_deliveries()
        sent_total += sent
        if spread and sent and _unsent_left():
            queue_sending()
            spread = False  # one more is enough: that task spreads further itself
        if not sent or time.monotonic() - tidied >= TIDY_EVERY_SECONDS:
            tidy()
            tidied = time.monotonic()
        if not sent and not chose:
            break
    return sent_total


def tidy() -> None:
    """Mark sent broadcasts Sent, finish split tests whose winner is out, and
    judge those whose time has come."""
    if finish_sent():
        finish_split_tests()
    decide_due()


def nothing_left(now: datetime.datetime | None = None) -> bool:
    """No broadcast due to start, none with recipients left to choose, and no
    email waiting: a worker run ``--once`` may stop."""
    now = now or timezone.now()
    due = Broadcast.objects.filter(status=BroadcastStatus.SCHEDULED, send_at__lte=now)
    choosing = Broadcast.objects.filter(status=BroadcastStatus.SENDING, chosen_all=False)
    judging = SplitTest.objects.filter(status=SplitTestStatus.TESTING, decide_at__lte=now)
    return not (due.exists() or choosing.exists() or judging.exists() or _unsent_left())


def _unsent_left() -> bool:
    now = timezone.now()
    waiting = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    return waiting.filter(Q(retry_at__isnull=True) | Q(retry_at__lte=now)).exists()
