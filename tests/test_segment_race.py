"""Many workers at once, and a killed one: every message reaches the server,
once, from real ``deliver_segment`` processes (and threads) on the real
database."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.utils import timezone

from contacts.hooks import record_activities
from contacts.models import Activity, ActivityKind, Contact
from integrations.models import SegmentMessage, SegmentShard
from integrations.segment.delivery import deliver_due
from tests.segment_server import (
    Reply,
    SegmentServer,
    database_url,
    make_integration,
    outbox,
    serving,
    speed_up,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_segment(settings) -> None:
    speed_up(settings)


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def segment_server(settings) -> Iterator[SegmentServer]:
    with serving(settings) as server:
        yield server


def write_messages(shop, count: int, contacts: int) -> list[str]:
    """``count`` track messages over ``contacts`` contacts, committed; their
    messageIds (read before the commit: running workers may send some at once)."""
    now = timezone.now()
    people = Contact.objects.bulk_create(
        Contact(list=shop, email=f"p{n:05d}@example.com", subscribed_at=now)
        for n in range(contacts)
    )
    with transaction.atomic():
        record_activities(
            [
                Activity(
                    contact=people[n % contacts],
                    list_id=shop.pk,
                    email=people[n % contacts].email,
                    kind=ActivityKind.EMAIL_OPENED,
                    details={"n": n},
                )
                for n in range(count)
            ]
        )
        return [m["messageId"] for m in outbox()]


def worker(tmp_path: Path, name: str, *args: str, lease: int = 60) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": "segment-race-test",
        "DEBUG": "false",
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
        "SEGMENT_LEASE_SECONDS": str(lease),
        "SEGMENT_TIMEOUT_SECONDS": "1",
        # This test's server, allowed by the segment_server fixture.
        "SEGMENT_ALLOWED_HOSTS": ",".join(django_settings.SEGMENT_ALLOWED_HOSTS),
    }
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "manage.py", "deliver_segment", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def assert_each_arrived_once(server: SegmentServer, written: list[str]) -> None:
    arrivals = collections.Counter(m["messageId"] for m in server.messages)
    missing, unknown = set(written) - set(arrivals), set(arrivals) - set(written)
    assert (len(missing), len(unknown)) == (0, 0), (len(written), len(arrivals))
    assert max(arrivals.values()) == 1
    assert not SegmentMessage.objects.exists()


def test_three_worker_processes_racing_send_each_message_exactly_once(
    shop, segment_server, tmp_path
):
    make_integration(segment_server.endpoint, shop)
    segment_server.default = Reply(pause=0.005)  # a little latency, so they overlap
    # Polling workers, started first: the messages appear while all three run.
    workers = [worker(tmp_path, f"w{n}", "--poll", "0.05") for n in range(3)]
    try:
        time.sleep(2.5)
        count = 6000 if connection.vendor == "postgresql" else 2000
        written = write_messages(shop, count, contacts=700)
        deadline = time.monotonic() + 120
        while SegmentMessage.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        for process in workers:
            process.terminate()
            process.wait(timeout=30)
    assert_each_arrived_once(segment_server, written)
    assert segment_server.connections >= 2, "the workers did not run side by side"
    delivered = sum(SegmentShard.objects.values_list("delivered_count", flat=True))
    assert delivered == count


def test_worker_threads_racing_send_each_message_exactly_once(shop, segment_server):
    make_integration(segment_server.endpoint, shop)
    segment_server.default = Reply(pause=0.002)
    written = write_messages(shop, 1500, contacts=300)
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            deliver_due()
        except BaseException as error:  # reported by the test, not lost in the thread
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert_each_arrived_once(segment_server, written)


def test_a_worker_killed_between_sending_and_recording_is_redelivered_after_its_lease(
    shop, segment_server, tmp_path
):
    make_integration(segment_server.endpoint, shop)
    written = write_messages(shop, 5, contacts=1)
    victim = worker(tmp_path, "victim", "--once", lease=2)
    # The server takes the request, then kills the worker before answering.
    segment_server.script(Reply(kill_pid=victim.pid))
    assert victim.wait(timeout=60) == -signal.SIGKILL, (tmp_path / "victim.log").read_text()
    (first,) = segment_server.requests
    assert [m["messageId"] for m in first.batch] == written
    assert SegmentMessage.objects.count() == 5  # sent, never recorded
    shard = SegmentShard.objects.exclude(lease_token="").get()
    assert shard.lease_expires_at > timezone.now()

    assert deliver_due() == 0  # its lease still holds: nobody else sends
    assert len(segment_server.requests) == 1
    time.sleep(max((shard.lease_expires_at - timezone.now()).total_seconds(), 0) + 0.1)
    survivor = worker(tmp_path, "survivor", "--once")
    assert survivor.wait(timeout=60) == 0, (tmp_path / "survivor.log").read_text()
    first, second = segment_server.requests
    assert [m["messageId"] for m in second.batch] == written  # the same messages, same ids
    assert second.status == 200
    assert [m["timestamp"] for m in second.batch] == [m["timestamp"] for m in first.batch]
    assert not SegmentMessage.objects.exists()
