"""The probes: ``/healthz`` answers without touching anything; ``/readyz``
answers 200 only when the database and the task broker answer, every
migration is applied and a django-q2 cluster reported lately, and 503
naming what is wrong otherwise. Both answer anyone, and say nothing secret.

The faults are real: a real ``qcluster`` process reports, the PostgreSQL
server is stopped (SQLite: the database file cannot be opened), Redis is
killed, an app is migrated back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from multiprocessing import Event
from pathlib import Path

import pytest
from django.core.cache import cache, caches
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.brokers import Broker, get_broker
from django_q.cluster import Sentinel
from django_q.conf import Conf
from django_q.status import Stat

from tests.redis_server import RedisServer
from tests.redis_server import redis_server as redis_server  # the fixture
from tests.test_faults_workers import ON_SQLITE, pg_ctl, postgresql_data_directory
from tests.test_import_admin_browser import database_url, stop_group
from tests.test_settings import start

ROOT = Path(__file__).resolve().parent.parent
ALL_OK = {"database": "ok", "broker": "ok", "migrations": "ok", "workers": "ok"}


@pytest.fixture(autouse=True)
def no_cluster_seen(db) -> Iterator[None]:
    """No cluster's report left by an earlier test, in the database or in
    this process's memory of the last one seen."""
    cache.clear()
    caches["django_q"].clear()
    yield
    cache.clear()


def report_a_running_cluster(broker: Broker | None = None) -> None:
    """Save a cluster's status as a running cluster's guard loop does,
    ``Stat(sentinel).save()``, through django-q2's broker; without its
    processes (django-q2's own tests do the same)."""
    # A Sentinel takes over SIGINT and SIGTERM, as it would in its own process.
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    started = Event()
    started.set()
    try:
        sentinel = Sentinel(
            Event(), started, uuid.uuid4(), broker=broker or get_broker(), start=False
        )
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert sentinel.status() == Conf.IDLE
    Stat(sentinel).save()


def ready(client) -> tuple[int, dict]:
    answer = client.get("/readyz")
    assert answer["Content-Type"] == "application/json"
    return answer.status_code, answer.json()


# --- /healthz ------------------------------------------------------------------


def test_healthz_answers_200_without_a_single_query(client):
    with CaptureQueriesContext(connection) as queries:
        answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "checks": {}}
    assert len(queries) == 0, [q["sql"] for q in queries]


# --- /readyz: all well -----------------------------------------------------------


@pytest.fixture
def start_qcluster(transactional_db, settings, tmp_path: Path) -> Iterator[Callable[[], Path]]:
    """Starts ``manage.py qcluster`` on the test database, as production runs
    it (the ORM broker), in its own process group; returns its log's path."""
    started: list[subprocess.Popen] = []

    def start() -> Path:
        log = tmp_path / f"qcluster{len(started)}.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "SECRET_KEY": settings.SECRET_KEY,  # the signature of its reports
            "DEBUG": "false",
            "Q_WORKERS": "1",
            "REDIS_URL": "",
            "LOG_LEVEL": "WARNING",
        }
        with open(log, "wb") as output:
            started.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "qcluster"],
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        return log

    try:
        yield start
    finally:
        for process in started:
            stop_group(process)


def test_readyz_is_200_once_a_real_qcluster_reports(client, start_qcluster):
    status, answer = ready(client)
    assert (status, answer["checks"]["workers"]) == (503, "no worker seen in the last 120 s")
    log = start_qcluster()
    deadline = time.monotonic() + 60
    while status != 200:
        assert time.monotonic() < deadline, f"{answer}\n{log.read_text()}"
        time.sleep(0.2)
        status, answer = ready(client)
    assert answer == {"status": "ok", "checks": ALL_OK}


def test_readyz_is_200_when_a_cluster_reported_through_the_broker(client):
    report_a_running_cluster()
    assert ready(client) == (200, {"status": "ok", "checks": ALL_OK})


# --- /readyz: workers ------------------------------------------------------------


def test_readyz_is_503_naming_the_workers_when_no_cluster_reported(client):
    status, answer = ready(client)
    assert status == 503
    assert answer == {
        "status": "failing",
        "checks": {**ALL_OK, "workers": "no worker seen in the last 120 s"},
    }


def test_a_stopped_clusters_last_report_is_no_worker(client):
    report_a_running_cluster()
    (stat,) = Stat.get_all()
    stat.status = Conf.STOPPED
    stat.broker = get_broker()
    stat.save()
    status, answer = ready(client)
    assert (status, answer["checks"]["workers"]) == (503, "no worker seen in the last 120 s")


def test_a_cluster_seen_lately_keeps_readyz_200_for_the_settings_seconds(client, settings):
    settings.HEALTH_WORKERS_SEEN_SECONDS = 2
    report_a_running_cluster()
    assert ready(client)[0] == 200
    # Its report is gone (a cluster restarting): still ready, for those 2 s.
    caches["django_q"].clear()
    assert Stat.get_all() == []
    assert ready(client)[0] == 200
    time.sleep(2.2)
    status, answer = ready(client)
    assert (status, answer["checks"]["workers"]) == (503, "no worker seen in the last 2 s")


# --- /readyz: the database -------------------------------------------------------


@pytest.mark.skipif(not ON_SQLITE, reason="SQLite's fault; PostgreSQL's is below")
@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_naming_the_database_when_its_file_cannot_be_opened(client, tmp_path):
    report_a_running_cluster()
    assert ready(client)[0] == 200
    database = connection.settings_dict["NAME"]
    missing = tmp_path / "missing" / "db.sqlite3"  # a directory that does not exist
    connection.close()
    connection.settings_dict["NAME"] = str(missing)  # every new connection, every thread
    try:
        answer = client.get("/readyz")
        alive = client.get("/healthz")
    finally:
        connection.settings_dict["NAME"] = database
        connection.close()
    assert alive.status_code == 200  # liveness never asks the database
    assert answer.status_code == 503
    assert answer.json() == {
        "status": "failing",
        "checks": {
            "database": "unable to open database file",
            "broker": "the database does not answer (it is the task broker)",
            "migrations": "the database does not answer: applied migrations unknown",
            "workers": "the database does not answer: workers' reports unread",
        },
    }
    assert str(tmp_path) not in answer.content.decode()
    assert ready(client)[0] == 200  # the same process, once the database is back


@pytest.mark.skipif(ON_SQLITE, reason="needs a PostgreSQL server to stop (the suite's second run)")
@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_naming_the_database_while_postgresql_is_stopped(client):
    data = postgresql_data_directory()  # skips unless it is this run's throwaway cluster
    report_a_running_cluster()
    assert ready(client)[0] == 200
    pg_ctl(data, "stop", "-w", "-m", "fast")  # every connection is cut, this test's too
    try:
        answer = client.get("/readyz")
        alive = client.get("/healthz")
    finally:
        port = connection.settings_dict["PORT"]
        log = str(data.parent / "postgres.log")
        pg_ctl(data, "start", "-w", "-t", "60", "-l", log, "-o", f"-p {port}")
        connection.close()
    assert alive.status_code == 200  # liveness never asks the database
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["database"] == "connection failed"
    assert checks["broker"] == "the database does not answer (it is the task broker)"
    assert checks["migrations"] == "the database does not answer: applied migrations unknown"
    assert checks["workers"] == "the database does not answer: workers' reports unread"
    # Neither the server's address nor a trace: the answer is public.
    body = answer.content.decode()
    assert str(port) not in body
    assert "Traceback" not in body
    report_a_running_cluster()  # its report was in the database, lost with the connection
    assert ready(client)[0] == 200


# --- /readyz: migrations ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_naming_a_migration_not_applied(client):
    report_a_running_cluster()
    assert ready(client)[0] == 200
    call_command("migrate", "sessions", "zero", verbosity=0)  # a release whose migrate has not run
    try:
        status, answer = ready(client)
    finally:
        call_command("migrate", "sessions", verbosity=0)
    assert status == 503
    assert answer["checks"] == {**ALL_OK, "migrations": "not applied: sessions.0001_initial"}
    assert ready(client)[0] == 200


# --- /readyz: the broker (Redis) -------------------------------------------------


@pytest.fixture
def redis_broker(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, settings):
    """django-q2 on a real Redis, as REDIS_URL makes it (the suite's settings use the ORM)."""
    settings.REDIS_URL = redis_server.url
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "BROKER_CLASS", None)  # the settings' database broker
    monkeypatch.setattr(Conf, "REDIS", redis_server.url)
    return redis_server


def test_with_redis_readyz_is_200_when_it_answers_and_a_cluster_reported_there(
    client, redis_broker
):
    report_a_running_cluster()
    assert redis_broker.client().keys(f"{Conf.Q_STAT}:*")  # the report is in Redis
    assert ready(client) == (200, {"status": "ok", "checks": ALL_OK})


def test_with_redis_down_readyz_is_503_naming_the_broker(client, redis_broker):
    redis_broker.kill()
    status, answer = ready(client)
    assert status == 503
    assert answer["checks"] == {
        **ALL_OK,
        "broker": "Redis does not answer (ConnectionError)",
        "workers": "Redis does not answer: workers' reports unread",
    }
    assert str(redis_broker.port) not in str(answer)


def test_a_bad_workers_seen_seconds_stops_the_start_naming_it():
    result = start(SECRET_KEY="x" * 50, HEALTH_WORKERS_SEEN_SECONDS="0")
    assert result.returncode != 0
    assert "HEALTH_WORKERS_SEEN_SECONDS='0' is invalid" in result.stderr


# --- Anyone may ask; nobody learns more --------------------------------------------


def test_the_probes_need_no_login_set_no_cookie_and_are_never_cached(client):
    for path in ("/healthz", "/readyz"):
        answer = client.get(path)
        assert answer.status_code in (200, 503)
        assert not answer.cookies
        assert "no-cache" in answer["Cache-Control"]


def test_the_probes_only_read(client):
    for path in ("/healthz", "/readyz"):
        assert client.post(path).status_code == 405
        assert client.put(path).status_code == 405
