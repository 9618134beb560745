"""PgBouncer in transaction mode, for real: Debian's ``pgbouncer`` in front of
the test database, with a pool smaller than the number of processes using it,
so that they share server connections. With ``DATABASE_POOLER=transaction``
the platform's concurrent work goes through it and ends as it does on a
direct connection: two ``run_conductor`` and two ``run_broadcasts`` workers at
once (every step once, every email once), a list import on PostgreSQL's path
(advisory lock, SET LOCAL, temporary tables, COPY), and the rejected-rows CSV
that reads with ``QuerySet.iterator()`` while another client holds the server
connection of its first chunk (which, without the setting, breaks it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from broadcasts.models import Broadcast, BroadcastStatus
from broadcasts.services import create_broadcast, schedule_broadcast
from contacts.imports.admin import CSV_CHUNK_ROWS
from contacts.imports.models import ImportRowResult, ListImport
from contacts.models import Contact
from emails.models import Delivery, DeliveryStatus
from tests.factories import ListFactory, MessageFactory
from tests.smtp import SmtpServer, start_smtp_server
from tests.test_conductor_race import assert_each_ran_once, contacts_due

ON_SQLITE = django_settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        ON_SQLITE,
        reason="needs a PostgreSQL server behind PgBouncer (the suite's second run has one)",
    ),
]

ROOT = Path(__file__).resolve().parent.parent
#: Server connections PgBouncer keeps per database: fewer than the clients
#: (four workers, each with its own connection), so they share them.
POOL_SIZE = 3
START_TIMEOUT = 10.0
#: PgBouncer refuses to run as root; as root it runs as the user PostgreSQL runs as.
RUN_AS = "postgres"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PgBouncer:
    """One ``pgbouncer`` process in transaction mode in front of the test database."""

    def __init__(self, directory: Path) -> None:
        db = connection.settings_dict
        self.directory = directory
        self.port = free_port()
        self.user = db["USER"] or "postgres"
        self.password = db["PASSWORD"] or ""
        self.name = db["NAME"]
        self.server = (db["HOST"] or "127.0.0.1", db["PORT"] or "5432")
        self.process: subprocess.Popen[bytes] | None = None

    def url(self) -> str:
        """The test database through PgBouncer, as a worker's DATABASE_URL."""
        password = f":{quote(self.password, safe='')}" if self.password else ""
        return f"postgres://{quote(self.user, safe='')}{password}@127.0.0.1:{self.port}/{self.name}"

    def start(self) -> None:
        executable = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        if not os.access(executable, os.X_OK):
            pytest.fail("pgbouncer is not installed; run scripts/ensure_system_deps.sh")
        config = self.directory / "pgbouncer.ini"
        host, port = self.server
        # "*": any database name (the test database's) goes to the test server.
        config.write_text(
            "[databases]\n"
            f"* = host={host} port={port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.directory / 'users.txt'}\n"
            f"admin_users = {self.user}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {POOL_SIZE}\n"
            "max_client_conn = 200\n"
            # A client left waiting for a server connection (a pool starved by
            # transactions that wait on each other) fails instead of hanging.
            "query_wait_timeout = 30\n"
            f"logfile = {self.directory / 'pgbouncer.log'}\n"
        )
        (self.directory / "users.txt").write_text(f'"{self.user}" "{self.password}"\n')
        command = [executable, str(config)]
        if os.geteuid() == 0:
            shutil.chown(self.directory, user=RUN_AS)
            for path in self.directory.iterdir():
                shutil.chown(path, user=RUN_AS)
            command = ["runuser", "-u", RUN_AS, "--", *command]
        self.process = subprocess.Popen(
            command,
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_until_ready()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def stats(self) -> dict[str, int]:
        """PgBouncer's own counters for the test database (its admin console,
        which speaks only the simple query protocol)."""
        with (
            psycopg.connect(
                host="127.0.0.1",
                port=self.port,
                user=self.user,
                password=self.password or None,
                dbname="pgbouncer",
                autocommit=True,
                cursor_factory=psycopg.ClientCursor,
            ) as admin,
            admin.cursor() as cursor,
        ):
            cursor.execute("SHOW STATS")
            names = [column.name for column in cursor.description or ()]
            for row in cursor.fetchall():
                stats = dict(zip(names, row, strict=True))
                if stats["database"] == self.name:
                    return {k: int(v) for k, v in stats.items() if k != "database"}
        return {}

    def log(self) -> str:
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                pass
            if self.process is None or self.process.poll() is not None:
                pytest.fail(f"pgbouncer on port {self.port} did not start:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"pgbouncer on port {self.port} not ready in {START_TIMEOUT} s")
            time.sleep(0.02)


@pytest.fixture
def pgbouncer() -> Iterator[PgBouncer]:
    # Not pytest's tmp_path: the pgbouncer user must be able to reach it.
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-", dir="/tmp"))
    bouncer = PgBouncer(directory)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(directory, ignore_errors=True)


def pooled_env(bouncer: PgBouncer, smtp: SmtpServer | None = None) -> dict[str, str]:
    """A process's environment: the database through PgBouncer, in transaction mode."""
    env = {
        **os.environ,
        "DATABASE_URL": bouncer.url(),
        "DATABASE_POOLER": "transaction",
        "SECRET_KEY": "pgbouncer-test",
        "DEBUG": "false",
        "REDIS_URL": "",
        "EMAIL_CONNECTIONS": "3",
    }
    if smtp is not None:
        env["EMAIL_URL"] = f"smtp://{smtp.host}:{smtp.port}"
    return env


def command(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with open(log, "wb") as output:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def finished(process: subprocess.Popen[bytes], log: Path, bouncer: PgBouncer) -> None:
    returncode = process.wait(timeout=120)
    assert returncode == 0, f"{log.read_text(errors='replace')}\n--- pgbouncer:\n{bouncer.log()}"


def broadcast_due(count: int) -> Broadcast:
    """A broadcast to ``count`` subscribers of its own list, due now."""
    email_list = ListFactory.create(name="Broadcast list")
    now = timezone.now()
    Contact.objects.bulk_create(
        Contact(list=email_list, email=f"b{n:05d}@example.com", subscribed_at=now)
        for n in range(count)
    )
    message = MessageFactory.create(
        list=email_list, subject="Spring sale", text_body="Hi {{ email }}"
    )
    broadcast = create_broadcast(email_list=email_list, name="Spring sale", message=message)
    return schedule_broadcast(broadcast=broadcast)


def test_two_conductors_and_two_broadcasters_through_pgbouncer_send_every_email_once(
    pgbouncer, shop, tmp_path
):
    contacts_due(shop, 600)
    broadcast = broadcast_due(600)
    smtp = start_smtp_server()
    workers: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        env = pooled_env(pgbouncer, smtp)
        workers = [
            (command(env, tmp_path / f"{name}.log", "manage.py", *args), tmp_path / f"{name}.log")
            for name, args in [
                ("conductor-a", ("run_conductor", "--once", "--batch", "100")),
                ("conductor-b", ("run_conductor", "--once", "--batch", "100")),
                ("broadcasts-a", ("run_broadcasts", "--once", "--poll", "0.2")),
                ("broadcasts-b", ("run_broadcasts", "--once", "--poll", "0.2")),
            ]
        ]
        for process, log in workers:
            finished(process, log, pgbouncer)

        assert_each_ran_once(600, smtp)  # the conversation's steps, and nobody mailed twice
        received = Counter(m["To"] for m in smtp.messages)
        assert len(received) == 1200 and max(received.values()) == 1
        assert Counter(Delivery.objects.values_list("status", flat=True)) == {
            DeliveryStatus.SENT: 1200
        }
        broadcast.refresh_from_db()
        assert (broadcast.status, broadcast.recipients) == (BroadcastStatus.SENT, 600)
        # It all went through PgBouncer (its counters for the test database).
        assert pgbouncer.stats()["total_xact_count"] > 0
    finally:
        for process, _ in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
        smtp.controller.stop(no_assert=True)


def test_an_import_and_its_rejected_rows_csv_work_through_pgbouncer(pgbouncer, shop, tmp_path):
    # More rejected rows than the CSV reads at a time (CSV_CHUNK_ROWS): several fetches.
    bad = CSV_CHUNK_ROWS + 500
    rows = [f"i{n:04d}@example.com" for n in range(1000)] + [f"bad-{n}" for n in range(bad)]
    upload = tmp_path / "contacts.csv"
    upload.write_text("email\n" + "\n".join(rows) + "\n")
    env = {**pooled_env(pgbouncer), "MEDIA_ROOT": str(tmp_path / "media")}
    log = tmp_path / "import.log"
    imported = command(
        env, log, "manage.py", "import_contacts", str(upload), "--list", str(shop.pk), "--json"
    )
    finished(imported, log, pgbouncer)
    summary = json.loads(log.read_text().strip().splitlines()[-1])

    assert Contact.objects.filter(list=shop).count() == 1000
    list_import = ListImport.objects.get(pk=summary["importId"])
    assert ImportRowResult.objects.filter(list_import=list_import).count() == 1000 + bad
    # The admin's download of rejected rows reads them with QuerySet.iterator(), a
    # chunk at a time. Between two chunks another client takes a server connection
    # and holds it in a transaction: PgBouncer hands back the one released last, so
    # the next chunk's read goes to another server connection.
    script = (
        "import os, django, psycopg; django.setup()\n"
        "from contacts.imports.admin import rejected_rows_csv\n"
        "from contacts.imports.models import ListImport\n"
        "lines, holder = [], None\n"
        f"for line in rejected_rows_csv(ListImport.objects.get(pk={list_import.pk})):\n"
        "    lines.append(line)\n"
        "    if holder is None and len(lines) == 2:\n"
        "        holder = psycopg.connect(os.environ['DATABASE_URL'])\n"
        "        holder.execute('SELECT 1')  # a transaction, left open\n"
        "print(len(lines), lines[1].strip())\n"
    )
    env = {**env, "DJANGO_SETTINGS_MODULE": "config.settings"}
    log = tmp_path / "csv.log"
    csv = command(env, log, "-c", script)
    finished(csv, log, pgbouncer)
    count, first = log.read_text().strip().splitlines()[-1].split(" ", 1)
    assert int(count) == 1 + bad  # the header and every bad address
    assert first.startswith("1001,bad-0,Invalid,")

    # Without the setting, the same read breaks: its server-side cursor stayed on
    # the server connection the other client now holds.
    log = tmp_path / "csv-direct.log"
    csv = command({**env, "DATABASE_POOLER": "none"}, log, "-c", script)
    assert csv.wait(timeout=120) != 0
    assert "does not exist" in log.read_text(errors="replace"), log.read_text(errors="replace")
