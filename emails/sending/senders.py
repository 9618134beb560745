"""Several connections to the mail server, used side by side from threads.

A worker's main thread renders emails and records what was sent (only it
touches the database); each :class:`Senders` thread holds one connection of
the email backend and does the SMTP exchanges. The worker renders the next
emails while the server answers, and the server has several emails in hand
at once: a conversation between two machines is mostly waiting for the
other's reply, four of them per email.

    with Senders(3, send_one) as senders:
        for delivery in deliveries:
            if not senders.put(delivery, build(delivery)):
                break  # every connection is gone: the server is down
            for delivery, error in senders.finished():
                ...
        for delivery, error in senders.close():
            ...  # error is ServerGone for the emails never tried
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend

logger = logging.getLogger(__name__)

_STOP = object()
SWITCH_INTERVAL = 0.0005


class ServerGone(Exception):
    """The email was never tried: no connection to the server was left."""


class MaybeDelivered(Exception):
    """The email's data went out but the server's answer never came (the
    connection dropped): the server may have stored it."""


class Senders:
    """``connections`` threads sending ``(key, email)`` pairs with
    ``send(email, backend)``; each result is ``(key, None)`` when the email
    went out, ``(key, exception)`` when it did not."""

    def __init__(
        self,
        connections: int,
        send: Callable[[Any, BaseEmailBackend], None],
        *,
        queued: int | None = None,
    ) -> None:
        self.send = send
        # A short queue (``queued``, by default one email per connection):
        # a worker that dies has few emails handed over and not yet sent.
        self.todo: queue.Queue[Any] = queue.Queue(maxsize=queued or connections)
        self.done: queue.SimpleQueue[tuple[Any, Exception | None]] = queue.SimpleQueue()
        self.alive = connections
        self.in_flight = 0  # handed over, result not yet taken
        self.early: list[tuple[Any, Exception | None]] = []  # taken by ``wait_for_result``
        self.lock = threading.Lock()
        self.last_error: Exception | None = None
        self.threads = [
            threading.Thread(target=self._run, name=f"emails-smtp-{n}", daemon=True)
            for n in range(connections)
        ]

    def __enter__(self) -> Senders:
        # A sender whose reply has come in waits for the interpreter lock
        # while the main thread renders: up to the switch interval (5 ms),
        # four times an email. A shorter interval keeps the server busy.
        self.switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for _ in self.close():  # the caller's error: let the threads end
            pass
        sys.setswitchinterval(self.switch_interval)

    def put(self, key: Any, email: Any) -> bool:
        """Hand over one email (blocks while every connection is busy);
        False when no connection is left."""
        while self.alive:
            try:
                self.todo.put((key, email), timeout=0.05)
                self.in_flight += 1
                return True
            except queue.Full:
                continue
        return False

    def finished(self) -> Iterator[tuple[Any, Exception | None]]:
        """The results that came in since the last call."""
        while True:
            if self.early:
                result = self.early.pop(0)
            else:
                try:
                    result = self.done.get_nowait()
                except queue.Empty:
                    return
            self.in_flight -= 1
            yield result

    def wait_for_result(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for a result to come in (the next
        ``finished`` gives it)."""
        with contextlib.suppress(queue.Empty):
            self.early.append(self.done.get(timeout=timeout))

    def close(self) -> Iterator[tuple[Any, Exception | None]]:
        """Wait for the emails handed over; then every result not yet taken,
        and ``ServerGone`` for those no connection was left to try."""
        stops = len(self.threads)  # one each; any thread may take any of them
        while stops and any(thread.is_alive() for thread in self.threads):
            try:
                self.todo.put(_STOP, timeout=0.05)
                stops -= 1
            except queue.Full:
                continue
        for thread in self.threads:
            thread.join()
        yield from self.finished()
        gone = ServerGone(f"cannot reach the mail server: {self.last_error}")
        while True:
            try:
                item = self.todo.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                self.in_flight -= 1
                yield item[0], gone

    def _run(self) -> None:
        backend: BaseEmailBackend | None = None
        try:
            while (item := self.todo.get()) is not _STOP:
                key, email = item
                if backend is None:
                    backend = self._open()
                    if backend is None:  # the server cannot be reached: this thread ends
                        self.done.put((key, self.last_error))
                        return
                try:
                    self.send(email, backend)
                except Exception as error:  # refused, or the connection dropped
                    self.done.put((key, error))
                    # A fresh connection: a refused recipient may leave the session in any state.
                    backend.close()
                    backend = self._open()
                    if backend is None:
                        return
                else:
                    self.done.put((key, None))
        finally:
            if backend is not None:
                backend.close()
            with self.lock:
                self.alive -= 1

    def _open(self) -> BaseEmailBackend | None:
        try:
            backend = get_connection()
            backend.open()
        except Exception as error:
            logger.warning("emails: cannot reach the mail server: %s", error)
            self.last_error = error
            return None
        return backend
