"""A real SMTP server for tests: aiosmtpd on a free localhost port.

    def test_it_mails(smtp_server):
        send_something()
        (message,) = smtp_server.messages
        assert message["To"] == "a@example.com"

The ``smtp_server`` fixture points Django's SMTP backend at the server for the
test. Messages are collected as parsed ``email.message.EmailMessage`` objects
by the time the backend's send returns (the server answers DATA after
storing them).
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"


class CollectingHandler:
    """Keeps every message it is given; refuses the addresses in ``refused``
    with their answer (a permanent 550, as a mail server does for an unknown
    mailbox, unless the test chose another)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.refused: dict[str, str] = {}  # address: answer
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refused:
            return self.refused[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        with self._lock:
            self.envelopes.append(envelope)
            self.messages.append(message)
        return "250 Message accepted for delivery"


class SmtpServer:
    """A running server: where it listens, and what it received."""

    def __init__(self, controller: Controller, handler: CollectingHandler) -> None:
        self.controller = controller
        self.handler = handler
        self.host: str = controller.hostname
        self.port: int = controller.port

    @property
    def messages(self) -> list[EmailMessage]:
        return list(self.handler.messages)

    def refuse(self, address: str, answer: str = "550 5.1.1 No such user here") -> None:
        """Refuse ``address`` with ``answer`` from now on (a 4xx one says: try later)."""
        self.handler.refused[address.lower()] = answer

    def accept(self, address: str) -> None:
        """Take ``address`` again."""
        self.handler.refused.pop(address.lower(), None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_smtp_server() -> SmtpServer:
    handler = CollectingHandler()
    controller = Controller(handler, hostname=HOST, port=free_port())
    controller.start()
    return SmtpServer(controller, handler)


def text_of(message: EmailMessage, subtype: str = "plain") -> str:
    """The decoded text/``subtype`` part of a received message."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"the message has no text/{subtype} part"
    return part.get_content()


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    """A real SMTP server for the test, with Django's SMTP backend pointed at it."""
    server = start_smtp_server()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    try:
        yield server
    finally:
        server.controller.stop()
