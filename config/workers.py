"""How a polling worker (``run_conductor``, ``run_broadcasts``,
``deliver_segment``) outlives a database or broker restart: it runs each pass
through :class:`Backoff`, which waits and tries the pass again on a new
connection instead of letting the process die with nothing to restart it.
And :func:`freeze_start_up`, which every such worker calls once loaded."""

from __future__ import annotations

import contextlib
import gc
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg
import redis.exceptions
from django import db
from django.core.management.base import BaseCommand

T = TypeVar("T")

#: The errors of a database or broker that is down, restarting or refusing
#: connections for a while. Anything else (a programming error) is raised.
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    db.OperationalError,
    db.InterfaceError,
    psycopg.OperationalError,  # raised outside Django's wrapper, e.g. while closing
    psycopg.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def freeze_start_up(command: BaseCommand) -> None:
    """Leave what the worker process has loaded so far (Django, the apps,
    their modules: over a hundred thousand objects) out of the garbage
    collector's full collections. A worker's batches allocate thousands of
    model instances each, which set off full collections, and each walked
    every object loaded at start-up again: 7 % of ``run_conductor``'s CPU in
    ``bench/conductor.py``. None of those objects is ever garbage.

    Only when ``command`` is the process (``manage.py <command>``): called
    from other code (``call_command``), its caller's objects may well be."""
    if getattr(command, "_called_from_command_line", False):  # set by run_from_argv
        gc.collect()
        gc.freeze()


def is_infrastructure_error(error: BaseException) -> bool:
    """Whether ``error`` says the database or broker is unreachable for now,
    rather than that the code is wrong."""
    if not isinstance(error, INFRASTRUCTURE_ERRORS):
        return False
    # SQLite raises OperationalError for a mistake in the SQL too (a syntax
    # error, a missing table), with the generic code SQLITE_ERROR; a locked
    # database or a file that cannot be opened has a code of its own.
    cause = error if isinstance(error, sqlite3.Error) else error.__cause__
    code = getattr(cause, "sqlite_errorcode", None)
    return code is None or code & 0xFF != sqlite3.SQLITE_ERROR


def close_connections() -> None:
    """Drop this thread's database connections: Django keeps a broken one
    (and would hand it out again), so the next query opens a new one."""
    for connection in db.connections.all(initialized_only=True):
        with contextlib.suppress(*INFRASTRUCTURE_ERRORS):  # it was already gone
            connection.close()


class Backoff:
    """Runs a worker's passes through outages: a pass that fails on the
    infrastructure is tried again after ``first`` seconds, then twice as long
    each time up to ``longest``, and from ``first`` again after a success.

    An outage is logged as one line when it starts and one when it ends, not
    one per attempt: a worker polling every second would otherwise fill the
    log during a long one.
    """

    def __init__(
        self,
        *,
        logger: logging.Logger,
        first: float = 0.5,
        longest: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.logger = logger
        self.first = first
        self.longest = longest
        self.sleep = sleep
        self.delay = first
        #: ``time.monotonic()`` of the outage's first failure; None while all is well.
        self.outage_started: float | None = None
        self.outage_of = ""

    def run(self, work: Callable[[], T]) -> T:
        """``work()``'s result, once it runs without an infrastructure error."""
        while True:
            try:
                result = work()
            except INFRASTRUCTURE_ERRORS as error:
                if not is_infrastructure_error(error):
                    raise
                self.failed(error)
                continue
            self.succeeded()
            return result

    def failed(self, error: Exception) -> None:
        """Note a failed attempt, drop the connections and wait the next delay."""
        if self.outage_started is None:
            self.outage_started = time.monotonic()
            is_broker = isinstance(error, redis.exceptions.RedisError)
            self.outage_of = "task broker" if is_broker else "database"
            # One line: a PostgreSQL error goes on with a hint on the next lines.
            reason = next((line for line in str(error).splitlines() if line.strip()), "")
            self.logger.warning(
                "%s unreachable: %s; retrying", self.outage_of, reason or type(error).__name__
            )
        close_connections()
        self.sleep(self.delay)
        self.delay = min(self.delay * 2, self.longest)

    def succeeded(self) -> None:
        """Note a pass that went through: the outage, if any, is over."""
        self.delay = self.first
        if self.outage_started is not None:
            seconds = time.monotonic() - self.outage_started
            self.outage_started = None
            self.logger.warning("%s reachable again after %.1f s", self.outage_of, seconds)
