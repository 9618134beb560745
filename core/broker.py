"""django-q2's database broker, woken by PostgreSQL's NOTIFY instead of a poll.

django-q2's ORM broker keeps its tasks in a table and, when the table has
nothing for it, sleeps ``Q_CLUSTER["poll"]`` seconds before looking again. A
task queued just after a look waits that long for a worker: with the
settings' 0.5 s, an event's first step ran a quarter of a second after the
event on average and half a second at worst (``bench/trigger_latency.py``).

On PostgreSQL this broker says "a task is queued" with ``pg_notify`` in the
transaction that queues it, so the notice goes out when that transaction
commits (and never if it rolls back). Each cluster's pusher keeps one extra
connection of its own that LISTENs on the channel, and waits on it instead of
sleeping: a task reaches a worker a few milliseconds after its commit.

The poll stays as the upper bound of every wait. It still finds what no
notice announces: a task whose worker died comes back when its lock expires
(``Q_CLUSTER["retry"]``), and a notice sent while the listening connection
was being opened again is lost. On SQLite, or behind a pooler in transaction
mode (``DATABASE_POOLER=transaction``, where a LISTEN would hold no session),
the broker polls exactly as django-q2's own.

Taking tasks is one transaction that locks the rows it takes (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL), so two clusters never take the same task, and
a cluster never waits on another's.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf

logger = logging.getLogger(__name__)

#: The PostgreSQL channel every cluster's pusher listens on.
CHANNEL = "retailmail_tasks"

#: After the listening connection fails, poll this long before opening it again.
RECONNECT_AFTER = 10.0

#: A task is stamped due with the queueing machine's clock and looked for with
#: the pusher's: a queueing machine whose clock runs a few milliseconds ahead
#: would make a woken pusher find nothing due and wait out the poll.
CLOCK_SKEW = timedelta(seconds=1)

#: TCP keepalives on the listening connection, unless the database settings
#: choose their own: a firewall that drops an idle connection without a word
#: would otherwise leave the pusher waiting on a dead socket, polling.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 60,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


class NotifyingORM(ORM):
    """The ORM broker with a NOTIFY per queued task and a LISTEN in place of the poll."""

    # Class defaults too: django-q2 rebuilds a pickled broker without __init__.
    _listener: psycopg.Connection[Any] | None = None
    _listen_again_at = 0.0

    # --- Queueing ------------------------------------------------------------

    def enqueue(self, task: str) -> int:
        # The row and its notice commit together: outside a transaction, one
        # commit instead of two, and never a queued task reported as failed.
        with transaction.atomic(using=Conf.ORM, savepoint=False):
            task_id: int = super().enqueue(task)
            if notifies(Conf.ORM):
                with connections[Conf.ORM].cursor() as cursor:
                    cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])
        return task_id

    # --- Taking --------------------------------------------------------------

    def dequeue(self) -> list[tuple[int, str]] | None:
        # Listen before looking: a notice sent between the look and the wait is
        # then already waiting on the connection, not missed.
        listener = self._listening()
        tasks = self._take()
        if tasks:
            return tasks
        if listener is None:
            time.sleep(Conf.POLL)
        else:
            self._wait(listener)
        return None

    def _take(self) -> list[tuple[int, str]]:
        """Lock up to ``Conf.BULK`` due tasks for ``Conf.RETRY`` seconds and
        return them; rows another cluster is taking are skipped, not awaited."""
        queue = self.get_connection()  # closes a stale connection first
        now = timezone.now()
        # Taken up to a second early: a dead worker's task comes back after
        # Q_CLUSTER["retry"] (11 minutes) less a second.
        due_by = now + CLOCK_SKEW
        # One plain read while the table is empty, as most looks find it: no
        # transaction, so on SQLite no write lock every poll.
        if not queue.filter(key=self.list_key, lock__lt=due_by).exists():
            return []
        with transaction.atomic(using=Conf.ORM):
            due = list(
                queue.select_for_update(skip_locked=True)
                .filter(key=self.list_key, lock__lt=due_by)
                .order_by("id")
                .values_list("id", "payload")[: Conf.BULK]
            )
            if due:
                queue.filter(id__in=[pk for pk, _ in due]).update(
                    lock=now + timedelta(seconds=Conf.RETRY)
                )
        return due

    # --- The listening connection --------------------------------------------

    def _listening(self) -> psycopg.Connection[Any] | None:
        """The pusher's own connection, LISTENing on :data:`CHANNEL`; None
        where notices are not used, or while it cannot be opened."""
        if self._listener is not None and not self._listener.closed:
            return self._listener
        self._listener = None
        if not notifies(Conf.ORM) or time.monotonic() < self._listen_again_at:
            return None
        try:
            params = {**KEEPALIVES, **connections[Conf.ORM].get_connection_params()}
            listener = psycopg.Connection.connect(**params, autocommit=True)
            listener.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as error:
            self._gave_up_listening(error)
            return None
        self._listener = listener
        return listener

    def _wait(self, listener: psycopg.Connection[Any]) -> None:
        """Until a notice arrives or ``Conf.POLL`` seconds pass; every notice
        already waiting is taken, since one look serves them all."""
        try:
            for _ in listener.notifies(timeout=Conf.POLL, stop_after=1):
                pass
            for _ in listener.notifies(timeout=0):
                pass
        except psycopg.Error as error:
            self._gave_up_listening(error)
            time.sleep(Conf.POLL)

    def _gave_up_listening(self, error: psycopg.Error) -> None:
        logger.warning(
            "The task broker cannot listen for notices (%s: %s); "
            "it polls every %s s and tries again in %s s.",
            type(error).__name__,
            error,
            Conf.POLL,
            RECONNECT_AFTER,
        )
        if self._listener is not None:
            self._listener.close()
        self._listener = None
        self._listen_again_at = time.monotonic() + RECONNECT_AFTER


def notifies(alias: str) -> bool:
    """Whether queued tasks are announced on ``alias``: PostgreSQL without a
    transaction-mode pooler, which would give a LISTEN no session to live in."""
    return connections[alias].vendor == "postgresql" and settings.DATABASE_POOLER != "transaction"
