"""Posting batches to Segment's HTTP API over one keep-alive connection.

Redirects are never followed (``http.client`` does not): a 3xx is an answer
like any other and dead-letters its batch, so an allowed endpoint cannot pass
the workers on to a host that is not (see ``endpoints``).
"""

from __future__ import annotations

import base64
import datetime
import http.client
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import urlsplit

#: A connection idle this long is reopened before use rather than trusted:
#: servers close idle keep-alive connections, and a request on one of those
#: fails without having been read.
IDLE_RECONNECT_SECONDS = 15.0
#: How much of an answer's body is kept, for the log only.
KEPT_BODY = 500
#: A ``Retry-After`` beyond this is taken as this (a day).
MAX_RETRY_AFTER = 86_400.0
#: Statuses in the 5xx range that will not get better by trying again.
PERMANENT_5XX = {501, 505}


@dataclass(frozen=True)
class Answer:
    """How a request ended: the HTTP status (None when there was no answer: a
    timeout, a refused or dropped connection, ``error`` then naming it),
    ``Retry-After`` in seconds when the server gave one, and the start of the
    body or the error's text. The body is the server's to write: it goes to
    the log, never to staff (``describe``)."""

    status: int | None
    body: str = ""
    retry_after: float | None = None
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        """408, 429, 5xx but 501 and 505, and no answer at all."""
        if self.status is None:
            return True
        if self.status in (408, 429):
            return True
        return 500 <= self.status < 600 and self.status not in PERMANENT_5XX

    def describe(self) -> str:
        """What staff are shown (the admin, the last error, dead letters):
        ``HTTP 400 Bad Request`` (the standard reason, not the server's) or
        ``no answer (TimeoutError)``; never the body."""
        if self.status is None:
            return f"no answer ({self.error})" if self.error else "no answer"
        try:
            return f"HTTP {self.status} {HTTPStatus(self.status).phrase}"
        except ValueError:
            return f"HTTP {self.status}"


def batch_url(endpoint: str) -> str:
    return endpoint.rstrip("/") + "/v1/batch"


class SegmentClient:
    """One endpoint and write key: posts request bodies, reusing its
    connection between requests (HTTP/1.1 keep-alive)."""

    def __init__(self, *, endpoint: str, write_key: str, timeout: float) -> None:
        url = urlsplit(batch_url(endpoint))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"Not an http(s) endpoint: {endpoint!r}")
        self.endpoint = endpoint
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port
        self.path = url.path
        self.timeout = timeout
        self.write_key = write_key
        token = base64.b64encode(f"{write_key}:".encode()).decode("ascii")
        self._headers = {
            "Authorization": f"Basic {token}",
            "Content-Type": "application/json",
            "User-Agent": "retailmail-segment/1",
        }
        self._connection: http.client.HTTPConnection | None = None
        self._last_used = 0.0

    def post(self, body: bytes) -> Answer:
        """POST ``body`` to ``/v1/batch``; never raises for network trouble."""
        connection = self._open()
        try:
            connection.request("POST", self.path, body=body, headers=self._headers)
            response = connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as error:
            # A timeout, a refused or reset connection, an answer cut short:
            # the connection is in an unknown state, so it is not reused.
            self.close()
            return Answer(None, str(error)[:KEPT_BODY], error=type(error).__name__)
        self._last_used = time.monotonic()
        if response.will_close:
            self.close()
        return Answer(
            response.status,
            content[:KEPT_BODY].decode("utf-8", errors="replace"),
            retry_after_seconds(response.getheader("Retry-After")),
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _open(self) -> http.client.HTTPConnection:
        idle = time.monotonic() - self._last_used
        if self._connection is not None and idle > IDLE_RECONNECT_SECONDS:
            self.close()
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = kind(self._host, self._port, timeout=self.timeout)
        return self._connection


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: a number of seconds or an
    HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        seconds = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
