"""Workers outlive infrastructure faults: ``run_conductor`` and
``deliver_segment``, as real processes, wait out a database that restarts
(PostgreSQL) or cannot be opened yet (SQLite), log the outage once when it
starts and once when it ends, then do the work committed meanwhile; the
backoff they share retries only infrastructure errors."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import DatabaseError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import ConnectionHandler

from conductor.models import Enrollment, EnrollmentState, Step, StepKind, Trigger, TriggerKind
from conductor.versions import create_conversation, publish, working_version
from config.workers import Backoff
from contacts.services import subscribe_contact
from scripts.throwaway_pg import SUPERUSER, find_bindir
from tests.redis_server import RedisServer
from tests.segment_server import (
    SegmentServer,
    database_url,
    make_integration,
    outbox,
    serving,
    speed_up,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["run_conductor", "deliver_segment"]
OUTAGE = "database unreachable: "
RECOVERY = re.compile(r"database reachable again after \d+\.\d s")
ON_SQLITE = django_settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


@pytest.fixture(autouse=True)
def fast_segment(settings) -> None:
    speed_up(settings)


@pytest.fixture
def segment_server(settings) -> Iterator[SegmentServer]:
    with serving(settings) as server:
        yield server


# --- Real faults ---------------------------------------------------------------


def database_in(directory: Path) -> BaseDatabaseWrapper:
    """A Django connection to a SQLite database in ``directory``: until the
    directory exists, each query fails with a real OperationalError
    ("unable to open database file")."""
    engine = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(directory / "db.sqlite3")}
    return ConnectionHandler({"default": engine})["default"]


def postgresql_data_directory() -> Path:
    """The data directory of the throwaway cluster this run uses (skipping
    when it is any other server: a test restarts only a server of its own)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        (data,) = cursor.fetchone()
    data = Path(data)
    if not data.parent.name.startswith("throwaway-pg-"):
        pytest.skip(f"restarts only a scripts/throwaway_pg.py cluster, not the server at {data}")
    return data


def pg_ctl(data: Path, *args: str) -> None:
    command = [str(find_bindir() / "pg_ctl"), *args, "-D", str(data)]
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root (scripts/throwaway_pg.py)
        command = ["runuser", "-u", SUPERUSER, "--", *command]
    subprocess.run(
        command, cwd=data.parent, stdin=subprocess.DEVNULL, capture_output=True, check=True,
        timeout=120,
    )  # fmt: skip


def restart_postgresql(data: Path, *, down_seconds: float) -> None:
    """Stop the server (fast: every connection is cut, this test's too), leave
    it down a while, start it again on its port; then reconnect."""
    pg_ctl(data, "stop", "-w", "-m", "fast")
    time.sleep(down_seconds)
    port = connection.settings_dict["PORT"]
    # Its output to the cluster's log: on our pipes the server would hold them open.
    log = str(data.parent / "postgres.log")
    pg_ctl(data, "start", "-w", "-t", "60", "-l", log, "-o", f"-p {port}")
    connection.close()  # the broken connection; the next query opens a new one


# --- Worker processes ----------------------------------------------------------


def start_worker(command: str, log: Path, *, url: str | None = None) -> subprocess.Popen:
    """``manage.py COMMAND`` polling every 0.1 s, its output in ``log``."""
    env = {
        **os.environ,
        "DATABASE_URL": url or database_url(),
        "SECRET_KEY": "faults-test",
        "DEBUG": "false",
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
        "SEGMENT_TIMEOUT_SECONDS": "1",
        "SEGMENT_LEASE_SECONDS": "5",
        # This test's Segment server, allowed by the segment_server fixture.
        "SEGMENT_ALLOWED_HOSTS": ",".join(django_settings.SEGMENT_ALLOWED_HOSTS),
    }
    with open(log, "wb") as output:
        return subprocess.Popen(
            [sys.executable, "manage.py", command, "--poll", "0.1"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


def wait_for(condition: Callable[[], bool], what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not seen in {timeout} s:\n{log.read_text()}"
        time.sleep(0.1)


class Work:
    """Something for ``command`` to do on the shop's contacts: ``commit()``
    writes it (a new subscriber), ``done()`` says whether the worker did it."""

    def __init__(self, command: str, shop, segment_server: SegmentServer) -> None:
        self.command, self.shop, self.server = command, shop, segment_server
        self.count = 0
        self.emails: list[str] = []
        self.message_ids: set[str] = set()
        if command == "run_conductor":  # a conversation that only ends
            conversation = create_conversation(email_list=shop, name="Welcome")
            Trigger.objects.create(conversation=conversation, kind=TriggerKind.SUBSCRIBE)
            thread = working_version(conversation).threads.get(is_main=True)
            Step.objects.create(thread=thread, kind=StepKind.TERMINATE, position=0, settings={})
            publish(conversation)
        else:  # every change to the shop's contacts goes to this server
            make_integration(segment_server.endpoint, shop)

    def commit(self) -> None:
        self.count += 1
        email = f"{self.command}-{self.count}@example.com"
        with transaction.atomic():
            subscribe_contact(email_list=self.shop, email=email, method="API")
            # Read before the commit: the worker may send them at once.
            self.message_ids |= {m["messageId"] for m in outbox()}
        self.emails.append(email)

    def done(self) -> bool:
        if self.command == "run_conductor":
            finished = Enrollment.objects.filter(
                contact__email__in=self.emails, state=EnrollmentState.FINISHED
            )
            return finished.count() == len(self.emails)
        assert self.message_ids
        return self.message_ids <= {m["messageId"] for m in self.server.messages}


def assert_one_outage(log: Path, process: subprocess.Popen) -> None:
    text = log.read_text()
    assert process.poll() is None, f"the worker ended:\n{text}"
    assert text.count(OUTAGE) == 1, text
    assert len(RECOVERY.findall(text)) == 1, text
    assert "Traceback" not in text, text


# --- The workers, as processes --------------------------------------------------


@pytest.mark.skipif(ON_SQLITE, reason="needs a PostgreSQL server to restart")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_worker_outlives_a_postgresql_restart_and_does_the_work_committed_after_it(
    command, shop, segment_server, tmp_path
):
    data = postgresql_data_directory()
    work = Work(command, shop, segment_server)
    log = tmp_path / f"{command}.log"
    process = start_worker(command, log)
    try:
        work.commit()
        wait_for(work.done, "the work before the restart", log)
        # Down for seconds, so that the worker fails several attempts meanwhile.
        restart_postgresql(data, down_seconds=3)
        wait_for(lambda: OUTAGE in log.read_text(), "the outage line", log)
        work.commit()
        wait_for(work.done, "the work after the restart", log)
        wait_for(lambda: RECOVERY.search(log.read_text()) is not None, "the recovery line", log)
        assert_one_outage(log, process)
    finally:
        stop(process)


@pytest.mark.skipif(not ON_SQLITE, reason="a SQLite file; PostgreSQL's outage is the restart")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_worker_started_before_its_sqlite_database_can_be_opened_waits_for_it(
    command, shop, segment_server, tmp_path
):
    test_database = Path(connection.settings_dict["NAME"]).resolve()
    work = Work(command, shop, segment_server)
    work.commit()
    # The worker's database file is in a directory that does not exist yet.
    later = tmp_path / "later"
    log = tmp_path / f"{command}.log"
    process = start_worker(command, log, url=f"sqlite:///{later / test_database.name}")
    try:
        wait_for(lambda: OUTAGE in log.read_text(), "the outage line", log)
        time.sleep(2)  # several failed attempts
        later.symlink_to(test_database.parent, target_is_directory=True)
        wait_for(work.done, "the work", log)
        wait_for(lambda: RECOVERY.search(log.read_text()) is not None, "the recovery line", log)
        assert "database unreachable: unable to open database file; retrying" in log.read_text()
        assert_one_outage(log, process)
    finally:
        stop(process)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "term"])
def test_a_worker_waiting_out_an_outage_stops_at_once_on_ctrl_c_or_sigterm(
    command, signal_number, tmp_path
):
    log = tmp_path / f"{command}.log"
    process = start_worker(command, log, url=f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}")
    try:
        wait_for(lambda: OUTAGE in log.read_text(), "the outage line", log)
        time.sleep(2)  # 1.5 s after the first failure starts a wait of 2 s
        process.send_signal(signal_number)
        started = time.monotonic()
        process.wait(timeout=10)
        assert time.monotonic() - started < 1
        assert process.returncode != 0
    finally:
        stop(process)


# --- The backoff they share ----------------------------------------------------


def test_waits_start_at_half_a_second_double_up_to_thirty_and_start_over_after_a_success(
    tmp_path,
):
    directory = tmp_path / "later"
    later = database_in(directory)
    waits: list[float] = []

    def wait(seconds: float) -> None:  # the database can be opened after the eighth wait
        waits.append(seconds)
        if len(waits) == 8:
            directory.mkdir()

    backoff = Backoff(logger=logging.getLogger("test"), sleep=wait)
    backoff.run(lambda: later.cursor().execute("SELECT 1"))
    assert waits == [0.5, 1, 2, 4, 8, 16, 30, 30]

    later.close()
    directory.rename(tmp_path / "gone")  # the next outage, over after one wait
    waits.clear()

    def wait_once(seconds: float) -> None:
        waits.append(seconds)
        directory.mkdir()

    backoff.sleep = wait_once
    backoff.run(lambda: later.cursor().execute("SELECT 1"))
    assert waits == [0.5]
    later.close()


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(tmp_path, caplog):
    directory = tmp_path / "later"
    later = database_in(directory)
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 5:
            directory.mkdir()

    backoff = Backoff(logger=logging.getLogger("test.worker"), sleep=wait)
    with caplog.at_level(logging.WARNING, logger="test.worker"):
        backoff.run(lambda: later.cursor().execute("SELECT 1"))
        backoff.run(lambda: later.cursor().execute("SELECT 1"))
    later.close()
    lines = [record.getMessage() for record in caplog.records if record.name == "test.worker"]
    assert len(waits) == 5
    assert len(lines) == 2, lines
    assert lines[0] == "database unreachable: unable to open database file; retrying"
    assert RECOVERY.fullmatch(lines[1])


def test_a_programming_error_is_raised_at_once_and_not_retried():
    waits: list[float] = []
    backoff = Backoff(logger=logging.getLogger("test"), sleep=waits.append)
    # SQLite raises this as an OperationalError, PostgreSQL as a ProgrammingError.
    with pytest.raises(DatabaseError, match="SELEKT"):
        backoff.run(lambda: connection.cursor().execute("SELEKT 1"))
    assert waits == []


@pytest.mark.skipif(ON_SQLITE, reason="needs a PostgreSQL server to cut a connection")
def test_a_pass_on_a_connection_the_server_cut_is_run_again_on_a_new_connection():
    connection.ensure_connection()
    cut = connection.connection.info.backend_pid
    other = connection.copy()
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [cut])
    other.close()
    waits: list[float] = []
    backoff = Backoff(logger=logging.getLogger("test"), sleep=waits.append)

    def backend() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    # Django keeps the broken connection: without closing it, every retry would fail.
    assert backoff.run(backend) != cut
    assert waits == [0.5]


def test_a_broker_restart_is_waited_out_and_logged_as_the_task_brokers(tmp_path, caplog):
    broker = RedisServer(tmp_path)
    broker.start()
    client = broker.client()
    client.ping()
    broker.kill()
    waits: list[float] = []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            broker.start()  # on the same port

    backoff = Backoff(logger=logging.getLogger("test.worker"), sleep=wait)
    try:
        with caplog.at_level(logging.WARNING, logger="test.worker"):
            assert backoff.run(client.ping) is True
    finally:
        broker.kill()
    lines = [record.getMessage() for record in caplog.records if record.name == "test.worker"]
    assert waits == [0.5, 1, 2]
    assert len(lines) == 2, lines
    assert lines[0].startswith("task broker unreachable: ") and lines[0].endswith("; retrying")
    assert re.fullmatch(r"task broker reachable again after \d+\.\d s", lines[1])


@pytest.mark.parametrize("command", ["run_conductor", "run_broadcasts", "deliver_segment"])
def test_a_polling_worker_keeps_what_it_loaded_at_start_up_out_of_full_collections(command):
    import gc
    import io

    from django.core.management import call_command, load_command_class

    gc.unfreeze()
    try:
        call_command(command, "--once", stdout=io.StringIO())
        assert gc.get_freeze_count() == 0, "called from code: its caller's objects are not frozen"

        # As ``manage.py <command> --once`` runs it:
        load_command_class(APPS[command], command).run_from_argv(["manage.py", command, "--once"])
        # Everything loaded (Django, every app) is in the permanent generation.
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


APPS = {
    "run_conductor": "conductor",
    "run_broadcasts": "broadcasts",
    "deliver_segment": "integrations",
}
