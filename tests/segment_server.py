"""A real HTTP server standing in for Segment's API, for tests.

    @pytest.fixture
    def segment_server(settings):
        with serving(settings) as server:  # its address allowed for this test
            yield server

    def test_it_posts(segment_server):
        ...write messages, deliver...
        (request,) = segment_server.requests
        assert request.body["batch"][0]["type"] == "identify"

It listens on a free localhost port in a thread (``ThreadingHTTPServer``,
HTTP/1.1 keep-alive) and answers each request with the next scripted
:class:`Reply` (``200 {"success": true}`` when none is left): a status with
headers, a stall past the client's timeout, a dropped connection, or
killing a process before answering. Every request is recorded with its
headers and parsed body.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer. ``stall``: wait that many seconds before
    answering (longer than the client's timeout: it never sees the answer).
    ``drop``: close the connection after reading the request, without
    answering. ``kill_pid``: SIGKILL that process, then drop. ``pause``:
    answer after that many seconds (a slow server, but in time)."""

    status: int = 200
    body: str = '{"success":true}'
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0
    drop: bool = False
    kill_pid: int | None = None
    pause: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes
    status: int | None  # None: dropped, stalled or killed: never answered in time
    at: float  # time.monotonic() when it arrived

    @property
    def batch(self) -> list[dict[str, Any]]:
        return self.body["batch"]


class SegmentServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        #: The answer once the scripted ones are used up.
        self.default = Reply()
        self.requests: list[Received] = []
        self.connections = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle's
                # algorithm holds the body back until the client's delayed ACK.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with server._lock:
                    server.connections += 1

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                reply = server.next_reply()
                answered = not (reply.drop or reply.stall or reply.kill_pid)
                server.record(
                    Received(
                        self.path,
                        dict(self.headers),
                        json.loads(raw),
                        raw,
                        reply.status if answered else None,
                        time.monotonic(),
                    )
                )
                if reply.kill_pid is not None:
                    os.kill(reply.kill_pid, signal.SIGKILL)
                if reply.stall or reply.pause:
                    time.sleep(reply.stall or reply.pause)
                if reply.drop or reply.kill_pid is not None:
                    self.close_connection = True
                    return
                content = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:  # the client gave up waiting (a stall)
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self._lock:
            self.replies.extend(replies)

    def next_reply(self) -> Reply:
        with self._lock:
            return self.replies.popleft() if self.replies else self.default

    def record(self, request: Received) -> None:
        with self._lock:
            self.requests.append(request)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message received, in order, answered or not."""
        return [m for r in list(self.requests) for m in r.batch]

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The messages of the requests answered 2xx, in order."""
        return [
            m
            for r in list(self.requests)
            if r.status is not None and 200 <= r.status < 300
            for m in r.batch
        ]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def serving(settings: Any = None) -> Iterator[SegmentServer]:
    """A running server, stopped on exit (each test module's ``segment_server``
    fixture); given pytest-django's ``settings``, its address is allowed as an
    endpoint for the test."""
    server = SegmentServer()
    if settings is not None:
        allow(settings, server.endpoint)
    try:
        yield server
    finally:
        server.stop()


def allow(settings: Any, *endpoints: str) -> None:
    """Let integrations send to ``endpoints`` (local test servers) as well as to
    Segment's hosts: the operator's ``SEGMENT_ALLOWED_HOSTS``, for one test."""
    settings.SEGMENT_ALLOWED_HOSTS = [*settings.SEGMENT_ALLOWED_HOSTS, *endpoints]


def speed_up(settings: Any) -> None:
    """Short timeouts, leases and backoffs, so that retries take milliseconds,
    and backfills that start at once."""
    settings.SEGMENT_TIMEOUT_SECONDS = 1
    settings.SEGMENT_LEASE_SECONDS = 5
    settings.SEGMENT_RETRY_BASE_SECONDS = 0.02
    settings.SEGMENT_RETRY_MAX_SECONDS = 0.1
    settings.SEGMENT_MAX_ATTEMPTS = 5
    settings.SEGMENT_MAX_AGE_SECONDS = 3600
    # No copy of the synced lists kept between receivers: each test sees its own
    # syncs (the database is rolled back between tests, the copy would not be).
    settings.SEGMENT_LIST_CACHE_SECONDS = 0


WRITE_KEY = "wk_live_0123456789abcdefWXYZ"


def make_integration(
    endpoint: str, *lists: Any, user_id_field: Any = None, name: str = "Segment", **kwargs: Any
) -> Any:
    """An integration at ``endpoint`` syncing ``lists`` (the first with
    ``user_id_field``); backfills are left to the test."""
    from integrations.segment.services import create_integration, sync_list

    integration = create_integration(name=name, write_key=WRITE_KEY, endpoint=endpoint, **kwargs)
    for index, email_list in enumerate(lists):
        sync_list(
            integration=integration,
            email_list=email_list,
            user_id_field=user_id_field if index == 0 else None,
            backfill=False,
        )
    return integration


def outbox(integration: Any = None) -> list[dict[str, Any]]:
    """The waiting messages' payloads, in the order they will be sent."""
    from integrations.models import MessageStatus, SegmentMessage

    messages = SegmentMessage.objects.filter(status=MessageStatus.PENDING).order_by("id")
    if integration is not None:
        messages = messages.filter(integration=integration)
    return [json.loads(payload) for payload in messages.values_list("payload", flat=True)]


def database_url() -> str:
    """The test database, as a worker process's DATABASE_URL."""
    from pathlib import Path
    from urllib.parse import quote

    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    host = db["HOST"] or "localhost"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"
