"""The database broker (core/broker.py): on PostgreSQL a queued task wakes a
waiting pusher when its transaction commits; everywhere, clusters taking at
once take each task once; where notices cannot work, it polls.

Real connections throughout: each pusher is a thread with its own Django
connection, and the listening connection is a real LISTEN on the test
database.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from core import broker as broker_module
from core.broker import CHANNEL, NotifyingORM, notifies

pytestmark = pytest.mark.django_db(transaction=True)

ON_POSTGRES = connection.vendor == "postgresql"
postgres_only = pytest.mark.skipif(
    not ON_POSTGRES, reason="NOTIFY and LISTEN are PostgreSQL's (the suite's second run)"
)


@pytest.fixture
def broker():
    broker = NotifyingORM(list_key="broker-test")
    yield broker
    if broker._listener is not None:
        broker._listener.close()


def in_thread(target, *args) -> threading.Thread:
    """Run ``target`` on a thread with its own database connection, closed after."""

    def run() -> None:
        try:
            target(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@postgres_only
def test_a_committed_task_wakes_a_pusher_waiting_far_inside_its_poll(broker, monkeypatch):
    monkeypatch.setattr(Conf, "POLL", 120.0)  # a pusher left to poll would sleep two minutes
    taken: list = []
    waiting = threading.Event()
    wait = broker._wait

    def observed_wait(listener) -> None:
        waiting.set()  # the table was empty: the pusher goes to wait
        wait(listener)

    monkeypatch.setattr(broker, "_wait", observed_wait)

    def pusher() -> None:
        while not taken:
            taken.extend(broker.dequeue() or [])

    thread = in_thread(pusher)
    assert waiting.wait(10)
    task_id = NotifyingORM(list_key="broker-test").enqueue("the payload")
    thread.join(30)

    assert not thread.is_alive(), "the pusher still waits: no notice reached it"
    assert taken == [(task_id, "the payload")]


@postgres_only
def test_a_task_queued_in_a_rolled_back_transaction_announces_nothing(broker):
    listener = broker._listening()
    assert listener is not None

    with pytest.raises(RuntimeError), transaction.atomic():
        broker.enqueue("rolled back")
        raise RuntimeError("the caller's transaction fails")
    assert list(listener.notifies(timeout=0.5)) == []
    assert not OrmQ.objects.exists()

    with transaction.atomic():
        broker.enqueue("committed")
        assert list(listener.notifies(timeout=0.5)) == [], "announced before the commit"
    (notice,) = list(listener.notifies(timeout=10, stop_after=1))
    assert notice.channel == CHANNEL


def test_clusters_taking_at_once_take_every_task_exactly_once(monkeypatch):
    monkeypatch.setattr(Conf, "POLL", 0.01)
    ids = [NotifyingORM(list_key="broker-test").enqueue(f"task {n}") for n in range(120)]
    taken: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def cluster(mine: list[int]) -> None:
        broker = NotifyingORM(list_key="broker-test")
        start.wait()
        while True:
            mine.extend(pk for pk, _ in broker.dequeue() or [])
            if not OrmQ.objects.filter(lock__lt=timezone.now()).exists():
                break
        if broker._listener is not None:
            broker._listener.close()

    threads = [in_thread(cluster, mine) for mine in taken]
    for thread in threads:
        thread.join(120)

    assert not any(thread.is_alive() for thread in threads)
    counts = Counter(pk for mine in taken for pk in mine)
    assert sorted(counts) == sorted(ids)
    assert set(counts.values()) == {1}, "a task was taken by two clusters"
    # Taken tasks stay locked for the retry period, as django-q2's own broker leaves them.
    assert not OrmQ.objects.filter(lock__lte=timezone.now()).exists()


def test_where_notices_cannot_work_it_polls(broker, settings, monkeypatch):
    monkeypatch.setattr(Conf, "POLL", 0.01)
    settings.DATABASE_POOLER = "transaction"  # PgBouncer: a LISTEN would have no session

    assert notifies(Conf.ORM) is False
    assert broker.dequeue() is None
    task_id = broker.enqueue("polled")
    assert broker.dequeue() == [(task_id, "polled")]
    assert broker._listener is None


def test_sqlite_is_polled_and_postgres_notified_without_a_pooler():
    assert notifies(Conf.ORM) is ON_POSTGRES


@postgres_only
def test_a_lost_listening_connection_falls_back_to_the_poll_and_listens_again(
    broker, monkeypatch, caplog
):
    monkeypatch.setattr(Conf, "POLL", 0.05)
    monkeypatch.setattr(broker_module, "RECONNECT_AFTER", 0.0)
    first = broker._listening()
    assert first is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [first.info.backend_pid])

    with caplog.at_level(logging.WARNING, logger="core.broker"):
        assert broker.dequeue() is None  # the wait fails: polled instead
    assert "cannot listen for notices" in caplog.text
    assert broker._listener is None

    again = broker._listening()
    assert again is not None and again is not first
    NotifyingORM(list_key="broker-test").enqueue("after the reconnect")
    (notice,) = list(again.notifies(timeout=10, stop_after=1))
    assert notice.channel == CHANNEL
