"""The development mailbox: an email backend that keeps every email in the
database instead of sending it, for staff to read in the admin (Emails >
Development mailbox). ``make run`` uses it, so trying the platform mails
no one.

    EMAIL_BACKEND=emails.mailbox.MailboxBackend
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage as ParsedEmail
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from emails.models import MailboxEmail

#: Headers that say how the parts are encoded, not what the email says.
_MIME_HEADERS = {"mime-version", "content-type", "content-transfer-encoding"}
_DOCTYPE = re.compile(r"\s*<!doctype[^>]*>", re.IGNORECASE)


class MailboxBackend(BaseEmailBackend):
    """Keeps each email as a :class:`MailboxEmail` row. Safe from the
    worker's sending threads (``emails.sending.senders``): each opens its own
    connection, which writes with that thread's database connection."""

    closes_database = False

    def open(self) -> bool:
        # A sending thread has no database connection until this backend's
        # first email opens one; ``close`` closes it again rather than leave
        # it to the thread's end (PostgreSQL counts connections).
        self.closes_database = self._database().connection is None
        return False

    def close(self) -> None:
        if self.closes_database:
            self._database().close()
            self.closes_database = False

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        kept = 0
        for message in email_messages:
            recipients = message.recipients()
            if not recipients:  # as Django's SMTP backend: nothing to send
                continue
            try:
                MailboxEmail.objects.create(
                    sender=str(message.from_email),
                    recipients=", ".join(recipients),
                    subject=str(message.subject),
                    raw=message.message().as_bytes(),
                )
            except Exception:
                if not self.fail_silently:
                    raise
            else:
                kept += 1
        return kept

    @staticmethod
    def _database() -> BaseDatabaseWrapper:
        return connections[router.db_for_write(MailboxEmail)]


@dataclass
class ReadEmail:
    """What a mail client shows of an email."""

    headers: list[tuple[str, str]]
    text: str
    html: str
    attachments: list[str] = field(default_factory=list)
    source: str = ""  # the whole message as text


def read(raw: bytes) -> ReadEmail:
    """The headers (the encoding ones left out), the text and HTML bodies,
    the attachments' names and the source of the email ``raw``."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, ParsedEmail)  # so the default policy makes it
    headers = [
        (name, str(value)) for name, value in parsed.items() if name.lower() not in _MIME_HEADERS
    ]
    text, html = (parsed.get_body(preferencelist=(kind,)) for kind in ("plain", "html"))
    names = [part.get_filename() or part.get_content_type() for part in parsed.iter_attachments()]
    return ReadEmail(
        headers=headers,
        text=_content(text) if text is not None else "",
        html=_content(html) if html is not None else "",
        attachments=names,
        source=raw.decode("utf-8", "replace"),
    )


def _content(part: Any) -> str:
    """A text part's text; an unknown charset is read as UTF-8 with the bad
    bytes replaced, rather than not shown at all."""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")


def preview_html(html: str) -> str:
    """``html`` to show in a sandboxed frame, its links opening in a new tab
    (in the frame itself the admin's Content-Security-Policy would refuse
    them). The ``<base>`` goes after any doctype, which must come first."""
    doctype = _DOCTYPE.match(html)
    at = doctype.end() if doctype else 0
    return f'{html[:at]}<base target="_blank">{html[at:]}'
