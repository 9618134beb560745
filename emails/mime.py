"""The MIME text of a campaign email, written directly for SMTP.

Django's ``EmailMessage.message()`` builds the email with the standard
library's ``email`` package, whose header folding and generator cost about a
millisecond and a half per email: more than rendering it. Campaign emails
have one fixed shape (a few headers, a text part, an optional HTML part),
so :meth:`CampaignEmail.wire_bytes` writes that shape itself, for the
worker's SMTP connections (``emails.sending.smtp``). :class:`CampaignEmail`
is otherwise a plain Django ``EmailMultiAlternatives``: every other backend
(the console, files, the development mailbox, a provider's API) builds it
with Django's own ``message()``.
"""

from __future__ import annotations

import binascii
import random
import re
from email.header import Header
from email.utils import formatdate
from typing import cast

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives

#: MIME boundaries' source (seeded from the system once per process).
_boundaries = random.Random()

LONGEST_PLAIN_HEADER = 900  # SMTP allows 998 characters a line; fold well before
LONGEST_7BIT_LINE = 900
#: What goes into a header as it is: printable ASCII (control characters are encoded).
_PRINTABLE = re.compile(r"[ -~]*")


class CampaignEmail(EmailMultiAlternatives):
    """An email of a text body and at most one HTML alternative."""

    #: The bare sender address (``from_email`` may carry a display name).
    envelope_from: str = ""
    #: What an email service's API sends along and echoes back in its
    #: webhooks (django-anymail's ``metadata``); set for campaign emails.
    metadata: dict[str, str]
    #: Rendered text (``emails.render``), never lazy strings.
    subject: str
    body: str

    def wire_bytes(self, linesep: str = "\r\n") -> bytes:
        """The email as the SMTP fast path sends it: ASCII, lines ending in
        ``linesep``. Raises ``BadHeaderError`` for a header holding a newline,
        as Django's ``message()`` does."""
        headers = [
            ("From", self.from_email),
            ("To", ", ".join(self.to)),
            ("Subject", self.subject),
            ("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)),
            *self.extra_headers.items(),
            ("MIME-Version", "1.0"),
        ]
        lines = [_header(name, value) for name, value in headers]
        html = next((content for content, kind in self.alternatives if kind == "text/html"), None)
        if html is None:
            lines += _part("plain", self.body)
        else:
            # Unique, not secret (as the email package's own): a getrandom() call
            # per email cost more than the rest of this method.
            boundary = f"=_{_boundaries.getrandbits(96):024x}"
            lines += [
                f'Content-Type: multipart/alternative; boundary="{boundary}"',
                "",
                f"--{boundary}",
                *_part("plain", self.body),
                f"--{boundary}",
                *_part("html", cast(str, html)),  # attached as text by emails.render
                f"--{boundary}--",
                "",
            ]
        text = "\n".join(lines)
        return (text if linesep == "\n" else text.replace("\n", linesep)).encode("ascii")


def _header(name: str, value: str) -> str:
    value = str(value)
    if "\n" in value or "\r" in value:  # as Django refuses them: header injection
        raise BadHeaderError(f"Header values can't contain newlines (got {value!r} for {name})")
    # A subject is merged free text: one holding "=?" could read as an RFC 2047
    # encoded word ("=?utf-8?q?…?=") and be shown decoded, so it is encoded too.
    looks_encoded = name == "Subject" and "=?" in value
    if _PRINTABLE.fullmatch(value) and len(value) <= LONGEST_PLAIN_HEADER and not looks_encoded:
        return f"{name}: {value}"
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\n")
    return f"{name}: {encoded}"


def _part(subtype: str, text: str) -> list[str]:
    """A text part's headers, blank line and body. ASCII with short lines
    goes as it is (7bit); anything else quoted-printable, which keeps every
    line short and every byte ASCII whatever the server supports."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if text.isascii() and "\0" not in text and all(len(n) <= LONGEST_7BIT_LINE for n in lines):
        encoding, body = "7bit", text
    else:
        encoding = "quoted-printable"
        body = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    return [
        f'Content-Type: text/{subtype}; charset="utf-8"',
        f"Content-Transfer-Encoding: {encoding}",
        "",
        body,
    ]
