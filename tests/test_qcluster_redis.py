"""Production's shape: two ``manage.py qcluster`` "machines" on one Redis and
one PostgreSQL. A list import posted to the API enters every new contact
into a published welcome conversation; each gets its email and each "Email
Sent" reaches Segment. One machine is killed with SIGKILL midway: the other
finishes everything, nothing lost, nothing twice.

Each machine is its own process group with its own environment and its own
mail relay (an aiosmtpd server each, as machines often relay through a local
MTA), which also tells which machine sent each email. Both share the
database, Redis, the Segment endpoint (a local capture server) and the
uploaded files (MEDIA_ROOT, shared storage in production).
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule, Success
from django_q.status import Stat

from broadcasts.models import Broadcast, BroadcastStatus
from broadcasts.services import create_broadcast, schedule_broadcast
from conductor.models import Enrollment, EnrollmentState, StepKind
from conductor.versions import publish
from contacts.imports.models import ImportStatus, ListImport
from emails.models import Delivery, DeliveryStatus
from integrations.models import SegmentMessage
from tests.api_helpers import api_caller
from tests.factories import MessageFactory, conversation_with_steps
from tests.redis_server import RedisServer
from tests.redis_server import redis_server as redis_server  # the fixture
from tests.segment_server import SegmentServer, database_url, make_integration, serving
from tests.smtp import SmtpServer, start_smtp_server
from tests.test_import_admin_browser import stop_group

ON_SQLITE = django_settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        ON_SQLITE,
        reason="needs a PostgreSQL server: two qcluster machines share one database "
        "(the suite's second run has one)",
    ),
]

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2  # Q_WORKERS of each machine
CONNECTIONS = 3  # EMAIL_CONNECTIONS of each worker
LEASE = 3  # CONDUCTOR_LEASE_SECONDS: a dead machine's claims lapse this soon
#: django-q2's scheduler runs every 30 s of a cluster's life; a sweep that is
#: due then runs at once, the next a minute later (its shortest interval).
FINISH_SECONDS = 100
SWEEPS = ("conductor", "emails", "segment", "broadcasts")
SUBJECTS = ("Spring sale", "Welcome")


@dataclass
class Machine:
    """One ``qcluster`` process group and the mail relay it sends through."""

    name: str
    relay: SmtpServer
    log: Path
    process: subprocess.Popen[bytes] = field(init=False)

    def start(self, env: dict[str, str]) -> None:
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env={**env, "EMAIL_URL": f"smtp://{self.relay.host}:{self.relay.port}"},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, as on its own machine
            )

    def kill(self) -> None:
        """The machine dies: every process of its cluster at once (SIGKILL)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """A clean stop (SIGTERM to the cluster's main process), as systemd does."""
        stop_group(self.process)

    def schedules_queued(self) -> Counter[str]:
        """The schedules its scheduler queued a task of, as its log says."""
        lines = self.log.read_text(errors="replace").splitlines()
        return Counter(
            line.rsplit(" from schedule [", 1)[1].rstrip("]")
            for line in lines
            if " from schedule [" in line
        )

    def tasks_run(self) -> Counter[str]:
        """The tasks its workers took, by name, as its log says."""
        lines = self.log.read_text(errors="replace").splitlines()
        return Counter(
            line.split(" processing ", 1)[1].split(" ", 1)[0]
            for line in lines
            if " processing " in line
        )


@pytest.fixture
def redis_broker(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> RedisServer:
    """This process (the web's side: the API) queues its tasks in Redis too."""
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "BROKER_CLASS", None)  # the settings' database broker
    monkeypatch.setattr(Conf, "REDIS", redis_server.url)
    return redis_server


@pytest.fixture
def segment_server(settings: Any) -> Iterator[SegmentServer]:
    with serving(settings) as server:
        yield server


@pytest.fixture
def machines(
    redis_broker: RedisServer, segment_server: SegmentServer, settings: Any, tmp_path: Path
) -> Iterator[Callable[[], tuple[Machine, Machine]]]:
    """Starts two machines (once the test has set up its data); stops what is left."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    env = {key: value for key, value in os.environ.items() if key != "Q_CLUSTER_NAME"}
    env.update(
        {
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis_broker.url,
            "SECRET_KEY": settings.SECRET_KEY,  # signs the task packages both sides read
            "DEBUG": "false",
            "LOG_LEVEL": "INFO",  # django-q2 logs each task a worker takes
            "MEDIA_ROOT": settings.MEDIA_ROOT,
            "Q_WORKERS": str(WORKERS),
            "EMAIL_CONNECTIONS": str(CONNECTIONS),
            "EMAIL_TIMEOUT": "5",
            "CONDUCTOR_LEASE_SECONDS": str(LEASE),
            "SEGMENT_TIMEOUT_SECONDS": "1",
            "SEGMENT_LEASE_SECONDS": "2",
            "SEGMENT_ALLOWED_HOSTS": ",".join(settings.SEGMENT_ALLOWED_HOSTS),
        }
    )
    started: list[Machine] = []

    def start() -> tuple[Machine, Machine]:
        for name in ("a", "b"):
            machine = Machine(name, start_smtp_server(), tmp_path / f"qcluster-{name}.log")
            machine.start(env)
            started.append(machine)
        wait_until(lambda: len(clusters_up()) == 2, 60, "both clusters to report to Redis")
        return started[0], started[1]

    try:
        yield start
    finally:
        for machine in started:
            if machine.process.poll() is None:
                machine.stop()
            machine.relay.controller.stop(no_assert=True)


def clusters_up() -> set[str]:
    """The ids of the clusters whose status is in Redis (each saves it every half second)."""
    return {str(s.cluster_id) for s in Stat.get_all(broker=get_broker()) if s.status != "Stopped"}


def wait_until(condition: Callable[[], Any], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}")
        time.sleep(0.05)


def welcome_conversation(shop) -> None:
    """Published: new subscribers get one email, then the conversation ends."""
    send = (StepKind.MESSAGE, {"message": MessageFactory.create(list=shop, subject="Welcome").pk})
    conversation, _ = conversation_with_steps(shop, send, (StepKind.TERMINATE, {}), name="Welcome")
    publish(conversation)


def post_import(shop, count: int) -> ListImport:
    """``count`` new addresses, posted as a Listrak client posts a file."""
    rows = "".join(f"c{n:05d}@example.com\n" for n in range(count))
    body = {
        "fileDelimiter": ",",
        "fileMappings": [{"fileColumn": 0, "fileColumnType": "Email"}],
        "fileName": "spring.csv",
        "fileStream": base64.b64encode(f"Email\n{rows}".encode()).decode(),
        "hasColumnNames": True,
        "importType": "AddSubscribers",
        "segmentationImportType": "Update",
    }
    response = api_caller().post(f"List/{shop.pk}/ListImport", body)
    assert response.status_code == 201, response.content
    return ListImport.objects.get(pk=int(response.json()["resourceId"]))


def received(*machines: Machine) -> Counter[str]:
    """Emails received by the machines' relays, by recipient."""
    return Counter(m["To"] for machine in machines for m in machine.relay.messages)


def remaining(count: int, *, emails: int) -> dict[str, Any]:
    """What is not finished yet of ``count`` imported contacts and the
    ``emails`` they get; empty once everything is."""
    connection.close()  # a fresh look from the test's side
    left: dict[str, Any] = {}
    if (imported := ListImport.objects.get().status) != ImportStatus.PROCESSING_COMPLETED:
        left["import"] = imported
    deliveries = Counter(Delivery.objects.values_list("status", flat=True))
    if sum(deliveries.values()) != emails or set(deliveries) - {"Sent", "Uncertain"}:
        left["deliveries"] = dict(deliveries)
    if Delivery.objects.filter(status=DeliveryStatus.SENT).exclude(claim_token="").exists():
        left["sent, activity not yet recorded"] = True
    enrollments = Counter(Enrollment.objects.values_list("state", flat=True))
    if enrollments != {EnrollmentState.FINISHED: count}:
        left["enrollments"] = dict(enrollments)
    if outbox := SegmentMessage.objects.count():
        left["Segment outbox"] = outbox
    if unsent := Broadcast.objects.exclude(status=BroadcastStatus.SENT).count():
        left["broadcasts not sent"] = unsent
    return left


def wait_until_finished(count: int, *, emails: int) -> None:
    deadline = time.monotonic() + FINISH_SECONDS
    while left := remaining(count, emails=emails):
        if time.monotonic() > deadline:
            pytest.fail(f"not finished after {FINISH_SECONDS} s: {left}")
        time.sleep(0.2)


def assert_segment_got_each_message_once(
    server: SegmentServer, count: int, *, resent_before: float | None = None
) -> None:
    """Every new subscriber's identify and every sent email's "Email Sent"
    arrived, each messageId once; a message arrives twice only when its first
    request was in flight at ``resent_before`` (the kill): the worker died
    before recording it, and it goes again with the same messageId, which
    Segment de-duplicates."""
    sent = Counter(
        Delivery.objects.filter(status=DeliveryStatus.SENT).values_list("contact__email", flat=True)
    )
    first_at: dict[str, float] = {}
    arrivals: Counter[str] = Counter()
    kinds: defaultdict[str, Counter[str]] = defaultdict(Counter)  # kind: {address: messages}
    for request in list(server.requests):
        for message in request.batch:
            message_id = message["messageId"]
            first_at.setdefault(message_id, request.at)
            arrivals[message_id] += 1
            if arrivals[message_id] == 1:
                kinds[message.get("event") or message["type"]][message["anonymousId"]] += 1
    twice = {m for m, n in arrivals.items() if n > 1}
    if resent_before is None:
        assert twice == set(), f"{len(twice)} Segment messages arrived twice"
    else:
        assert all(first_at[m] <= resent_before for m in twice), "resent after the kill"
    assert max(arrivals.values()) <= 2
    assert kinds["identify"] == Counter(addresses(count))
    assert kinds["Email Sent"] == sent, "an Email Sent message missing or extra"
    assert set(kinds) == {"identify", "Email Sent"}, set(kinds)


def addresses(count: int) -> list[str]:
    return [f"c{n:05d}@example.com" for n in range(count)]


def assert_redis_carried_the_tasks(redis: RedisServer) -> None:
    """Every task went through Redis: django-q2's ORM queue was never used,
    and Redis took at least as many pushes as the tasks recorded as done."""
    done = Success.objects.count()
    pushes = redis.client().info("commandstats").get("cmdstat_rpush", {}).get("calls", 0)
    assert OrmQ.objects.count() == 0
    assert done > 0 and pushes >= done, (done, pushes)


def test_a_machine_killed_midway_leaves_the_other_to_finish_everything_once(
    shop, machines, redis_broker, segment_server
):
    count = 2000
    welcome_conversation(shop)
    make_integration(segment_server.endpoint, shop)
    a, b = machines()

    post_import(shop, count)
    wait_until(lambda: len(received(a, b)) >= count // 4, 60, "a quarter of the emails")
    victim, survivor = (a, b) if len(a.relay.messages) >= len(b.relay.messages) else (b, a)
    by_victim = len(victim.relay.messages)
    victim.kill()
    killed_at = time.monotonic()
    assert len(received(a, b)) < count, "everything was sent before the kill: no test"

    wait_until_finished(count, emails=count)
    survivor.stop()
    assert survivor.process.returncode == 0, survivor.log.read_text()[-3000:]

    mailed = received(a, b)
    assert max(mailed.values()) == 1, [to for to, n in mailed.items() if n > 1]
    statuses = Counter(Delivery.objects.values_list("status", flat=True))
    sent = set(
        Delivery.objects.filter(status=DeliveryStatus.SENT).values_list("contact__email", flat=True)
    )
    uncertain = set(
        Delivery.objects.filter(status=DeliveryStatus.UNCERTAIN).values_list(
            "contact__email", flat=True
        )
    )
    # Only the emails the dead machine's workers had handed to their connections
    # are uncertain: at most two per connection. Each arrived at most once (above),
    # and none was sent again; every other address got its email.
    assert len(uncertain) <= 2 * CONNECTIONS * WORKERS, statuses
    assert sent <= set(mailed), sent - set(mailed)
    assert set(mailed) <= sent | uncertain
    assert not uncertain & set(received(survivor)), "an uncertain email was sent again"
    assert sent | uncertain == set(addresses(count))
    assert by_victim > 0 and len(survivor.relay.messages) > 0
    assert_segment_got_each_message_once(segment_server, count, resent_before=killed_at)
    assert_redis_carried_the_tasks(redis_broker)


@contextmanager
def schedules_locked(name: str) -> Iterator[Callable[[], None]]:
    """Hold schedule ``name``'s row lock from another connection, as a
    scheduler that is queueing it does: every scheduler that ticks meanwhile
    waits for it. Yields what releases it (also done on exit)."""
    holder = connections.create_connection(DEFAULT_DB_ALIAS)
    holder.set_autocommit(False)
    table = holder.ops.quote_name(Schedule._meta.db_table)
    with holder.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE name = %s FOR UPDATE", [name])
        assert cursor.fetchone() is not None, f"no {name!r} schedule"
    try:
        yield holder.rollback
    finally:
        holder.rollback()
        holder.close()


def schedulers_waiting() -> int:
    """Database sessions waiting for a schedule's row lock (django-q2's scheduler)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE %s",
            [f"%{Schedule._meta.db_table}%FOR UPDATE%"],
        )
        return cursor.fetchone()[0]


def test_two_machines_share_the_work_and_their_schedulers_queue_each_sweep_once(
    shop, machines, redis_broker, segment_server
):
    count = 1000
    welcome_conversation(shop)
    make_integration(segment_server.endpoint, shop)
    with schedules_locked("conductor") as release:
        a, b = machines()

        post_import(shop, count)
        wait_until_finished(count, emails=count)
        # Then a broadcast to them all, scheduled as staff schedule one.
        sale = MessageFactory.create(list=shop, subject="Spring sale")
        broadcast = create_broadcast(email_list=shop, name="Spring sale", message=sale)
        schedule_broadcast(broadcast=broadcast)
        wait_until_finished(count, emails=2 * count)

        mailed = Counter((m["To"], m["Subject"]) for m in a.relay.messages + b.relay.messages)
        assert sorted(mailed) == [(to, subject) for to in addresses(count) for subject in SUBJECTS]
        assert max(mailed.values()) == 1
        statuses = Counter(Delivery.objects.values_list("status", flat=True))
        assert statuses == {DeliveryStatus.SENT: 2 * count}
        assert_segment_got_each_message_once(segment_server, count)
        # Both machines took tasks from the one queue, and both sent emails.
        assert sum(a.tasks_run().values()) > 0 and sum(b.tasks_run().values()) > 0
        assert len(a.relay.messages) > 0 and len(b.relay.messages) > 0, (
            len(a.relay.messages),
            len(b.relay.messages),
        )

        # Every schedule is due. Both schedulers tick (every 30 s of a cluster's
        # life) and wait for the lock held here: released, they race for it.
        wait_until(lambda: schedulers_waiting() == 2, 60, "both schedulers to tick")
        release()
    names = set(Schedule.objects.values_list("name", flat=True))
    assert set(SWEEPS) <= names
    wait_until(
        lambda: set(Success.objects.values_list("group", flat=True)) >= names,
        30,
        "every schedule's task to run",
    )
    queued = a.schedules_queued() + b.schedules_queued()
    assert queued == Counter(names), queued  # each once, by one scheduler or the other
    assert Counter(Success.objects.exclude(group=None).values_list("group", flat=True)) == Counter(
        names
    )
    assert_redis_carried_the_tasks(redis_broker)
    for machine in (a, b):
        machine.stop()
        assert machine.process.returncode == 0, machine.log.read_text()[-3000:]
