"""Queueing django-q2 tasks without ever failing the caller.

A task is only ever a shortcut: every piece of background work is also found
by a sweep schedule (``conductor``, ``resume-imports``,
``resume-opt-in-confirmations``, ``segment``) that runs every minute. So when
the broker cannot take a task (Redis down, or the database under the ORM
broker), the write that asked for it has committed and must be reported as
done; the task is logged as not queued and its sweep does the work later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from django.db import DatabaseError, transaction
from django_q.tasks import async_task
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

#: What a broker that cannot be reached raises: redis-py's errors (refused,
#: timed out, read-only, out of memory), socket errors, and the database
#: errors of the ORM broker.
BROKER_ERRORS = (RedisError, OSError, DatabaseError)


def enqueue_now(
    func: Callable[..., Any] | str, *args: Any, task_name: str, sweep: str, **kwargs: Any
) -> str | None:
    """Queue ``func(*args, **kwargs)`` as a django-q2 task named ``task_name``
    (``kwargs`` may hold django-q2's options, such as ``timeout``). Returns the
    task id, or None when the broker refused it: then one warning says that
    the ``sweep`` schedule will do the work, and nothing is raised."""
    # Under the ORM broker inside a transaction, a failed insert must not
    # break the caller's transaction: a savepoint keeps it apart.
    in_transaction = transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if in_transaction else nullcontext():
            return async_task(func, *args, task_name=task_name, **kwargs)
    except BROKER_ERRORS as error:
        logger.warning(
            "Task %s was not queued (%s: %s); the %r schedule will pick its work up.",
            task_name,
            type(error).__name__,
            error,
            sweep,
        )
        return None


def enqueue_on_commit(
    func: Callable[..., Any] | str, *args: Any, task_name: str, sweep: str, **kwargs: Any
) -> None:
    """:func:`enqueue_now` once the current transaction commits (at once
    outside one); nothing is queued if it rolls back."""
    transaction.on_commit(
        lambda: enqueue_now(func, *args, task_name=task_name, sweep=sweep, **kwargs)
    )
