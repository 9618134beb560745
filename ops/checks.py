"""What ``/readyz`` checks, as django-health-check plugins: the database
answers, the task broker answers, every migration is applied, and a
django-q2 cluster has reported lately.

Each failure is said in words that name no host, password or file: the
answer goes to anyone who asks (see ``ops.views``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import health_check
import redis
from asgiref.sync import sync_to_async
from django import db
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django_q.brokers import Broker, get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.status import Stat
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

#: Seconds a probe waits for Redis to connect or answer (the check's own budget is 5).
REDIS_TIMEOUT = 3
#: How many unapplied migrations the answer names before "and N more".
MIGRATIONS_NAMED = 5
#: The default cache's key for "a cluster was seen", kept HEALTH_WORKERS_SEEN_SECONDS.
WORKERS_SEEN_KEY = "ops:workers-seen"
#: Said for any ``db.Error``: not only DatabaseError, since a connection the
#: server cut raises InterfaceError.
DATABASE_DOWN = "the database does not answer"


def on_request_thread(function: Callable[[], None]) -> Callable[[], Any]:
    """``function`` run on the request's own thread, with its database
    connection. django-health-check runs a plain ``run`` in a thread pool,
    where Django opens a connection per thread and leaves it open: one more
    PostgreSQL connection per probe."""
    return sync_to_async(function, thread_sensitive=True)


@contextmanager
def django_q_broker() -> Iterator[Broker]:
    """django-q2's broker, as its workers use it. A Redis one gives up after
    ``REDIS_TIMEOUT`` (a probe must answer, even when Redis hangs) and is
    closed afterwards."""
    broker = get_broker()
    client = broker.connection
    if isinstance(client, redis.Redis):
        # Read when the pool opens its first connection, which the ping below does.
        client.connection_pool.connection_kwargs.update(
            socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        )
    try:
        yield broker
    finally:
        if isinstance(client, redis.Redis):
            client.close()


@dataclasses.dataclass
class Database(health_check.Database):
    """``SELECT 1`` on the default database: django-health-check's own
    check, on a connection of its own that it closes."""

    name: ClassVar[str] = "database"


@dataclasses.dataclass
class TaskBroker(HealthCheck):
    """django-q2's broker answers: Redis to a PING; the ORM broker, which
    is the database, to a read of its queue table."""

    name: ClassVar[str] = "broker"

    async def run(self) -> None:
        if Conf.ORM:
            await on_request_thread(self.read_queue)()
        else:
            await sync_to_async(self.ping, thread_sensitive=False)()

    def read_queue(self) -> None:
        try:
            OrmQ.objects.using(Conf.ORM).exists()
        except db.Error as error:
            raise ServiceUnavailable(f"{DATABASE_DOWN} (it is the task broker)") from error

    def ping(self) -> None:
        try:
            with django_q_broker() as broker:
                answered = broker.ping()
        except redis.RedisError as error:
            raise ServiceUnavailable(f"Redis does not answer ({type(error).__name__})") from error
        if not answered:
            raise ServiceUnavailable("the task broker does not answer")


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration on disk is applied: a process of a new release is
    not ready until ``migrate`` has run."""

    name: ClassVar[str] = "migrations"

    async def run(self) -> None:
        await on_request_thread(self.check)()

    def check(self) -> None:
        try:
            executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except db.Error as error:
            raise ServiceUnavailable(f"{DATABASE_DOWN}: applied migrations unknown") from error
        unapplied = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
        if unapplied:
            named = ", ".join(unapplied[:MIGRATIONS_NAMED])
            more = len(unapplied) - MIGRATIONS_NAMED
            raise ServiceUnavailable(
                f"not applied: {named}" + (f" and {more} more" if more > 0 else "")
            )


@dataclasses.dataclass
class Workers(HealthCheck):
    """A django-q2 cluster (``manage.py qcluster``) reported within
    ``HEALTH_WORKERS_SEEN_SECONDS``.

    A running cluster rewrites its status (a ``Stat``) every half second,
    and it lasts 3 seconds: in Redis with the Redis broker, in the
    ``django_q`` cache (the database) with the ORM one. This process
    remembers the last one it saw for the setting's seconds, so that a
    cluster restarting (a deployment) does not make every web process
    unready at once."""

    name: ClassVar[str] = "workers"

    async def run(self) -> None:
        await on_request_thread(self.check)()

    def check(self) -> None:
        seconds = settings.HEALTH_WORKERS_SEEN_SECONDS
        try:
            with django_q_broker() as broker:
                stats = Stat.get_all(broker=broker)
        except db.Error as error:
            raise ServiceUnavailable(f"{DATABASE_DOWN}: workers' reports unread") from error
        except redis.RedisError as error:
            raise ServiceUnavailable("Redis does not answer: workers' reports unread") from error
        if any(str(stat.status) != str(Conf.STOPPED) for stat in stats):
            cache.set(WORKERS_SEEN_KEY, True, timeout=seconds)
        elif cache.get(WORKERS_SEEN_KEY) is None:
            raise ServiceUnavailable(f"no worker seen in the last {seconds} s")


#: What ``/readyz`` runs, in the order its answer lists them.
READINESS: tuple[type[HealthCheck], ...] = (Database, TaskBroker, Migrations, Workers)
