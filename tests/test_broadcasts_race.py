"""Four real ``run_broadcasts`` workers send one broadcast through a real SMTP
server, and one of them is killed with SIGKILL midway: every recipient gets
their email once. The only emails not known to be sent are the few the dead
worker had handed to its connections (at most two per connection): those are
Uncertain, never sent again on their own, shown to staff, and each of them
arrived at most once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from broadcasts.models import Broadcast, BroadcastStatus
from broadcasts.services import create_broadcast, schedule_broadcast
from contacts.models import Activity, ActivityKind, Contact
from emails.models import Delivery, DeliveryStatus
from tests.factories import MessageFactory
from tests.test_faults_delivery import SlowHandler, start, wait_until
from tests.test_import_admin_browser import database_url

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 3
LEASE = 3


def worker(smtp, tmp_path: Path, name: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "EMAIL_URL": f"smtp://{smtp.host}:{smtp.port}",
        "EMAIL_TIMEOUT": "5",
        "EMAIL_CONNECTIONS": str(CONNECTIONS),
        "SECRET_KEY": "broadcast-race",
        "DEBUG": "false",
        "CONDUCTOR_LEASE_SECONDS": str(LEASE),
        "REDIS_URL": "",
    }
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_broadcasts", "--poll", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def settled(broadcast: Broadcast) -> bool:
    connection.close()  # a fresh look from the test's side
    broadcast.refresh_from_db()
    return broadcast.status == BroadcastStatus.SENT and not (
        Delivery.objects.filter(status=DeliveryStatus.SENT).exclude(claim_token="").exists()
    )


@pytest.mark.django_db(transaction=True)
def test_four_workers_one_killed_midway_send_each_recipient_one_email(shop, tmp_path):
    count = 10_000 if connection.vendor == "postgresql" else 2_000
    now = timezone.now()
    Contact.objects.bulk_create(
        Contact(list=shop, email=f"r{n:05d}@example.com", subscribed_at=now) for n in range(count)
    )
    message = MessageFactory(list=shop, subject="Spring sale", text_body="Hello {{ email }}")
    broadcast = create_broadcast(email_list=shop, name="Spring sale", message=message)
    smtp = start(SlowHandler(delay=0.002))
    workers: list[subprocess.Popen] = []
    try:
        workers = [worker(smtp, tmp_path, f"w{n}") for n in range(4)]
        schedule_broadcast(broadcast=broadcast)
        wait_until(lambda: len(smtp.messages) > count // 3, 240, "sending to be under way")
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=30)
        wait_until(lambda: settled(broadcast), 300, "the broadcast to be sent")

        received = Counter(m["To"] for m in smtp.messages)
        assert max(received.values()) == 1, [a for a, n in received.items() if n > 1]
        by_status = Counter(Delivery.objects.values_list("status", flat=True))
        errors = Counter(Delivery.objects.exclude(error="").values_list("error", flat=True))
        assert set(by_status) <= {DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN}, errors
        assert by_status[DeliveryStatus.SENT] + by_status[DeliveryStatus.UNCERTAIN] == count
        assert by_status[DeliveryStatus.UNCERTAIN] <= 2 * CONNECTIONS, by_status
        sent = set(
            Delivery.objects.filter(status=DeliveryStatus.SENT).values_list(
                "contact__email", flat=True
            )
        )
        uncertain = set(
            Delivery.objects.filter(status=DeliveryStatus.UNCERTAIN).values_list(
                "contact__email", flat=True
            )
        )
        assert sent <= set(received), sent - set(received)  # every Sent one arrived, once
        assert set(received) <= sent | uncertain
        broadcast.refresh_from_db()
        assert broadcast.recipients == count
        activities = Activity.objects.filter(kind=ActivityKind.EMAIL_SENT)
        assert activities.count() == len(sent)
        # The survivors kept running (a dead worker is no reason for them to stop).
        for n in range(1, 4):
            assert workers[n].poll() is None, (tmp_path / f"w{n}.log").read_text()
    finally:
        for process in workers:
            if process.poll() is None:
                process.terminate()
        for process in workers:
            process.wait(timeout=30)
        smtp.controller.stop(no_assert=True)
