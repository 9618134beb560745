"""The SMTP exchange of one email, run on each connection of ``senders``.

Over Django's SMTP backend, the email goes as ``CampaignEmail.wire_bytes``
writes it, and the platform's own envelope addresses, already valid and
ASCII, skip what ``smtplib`` would check again; an answer lost after the
email's data went out raises :class:`MaybeDelivered` (the server may have
stored it). Any other backend (the console, files, the development mailbox,
a provider's API) is given the email as it is, to send its own way.
"""

from __future__ import annotations

import smtplib

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend

from emails.mime import CampaignEmail
from emails.sending.senders import MaybeDelivered


def send_one(email: CampaignEmail, smtp: BaseEmailBackend) -> None:
    """Send ``email`` over the connection ``smtp`` (one :class:`Senders` thread's)."""
    envelope = [email.envelope_from, *email.to]
    if isinstance(smtp, SmtpBackend) and smtp.connection and all(a.isascii() for a in envelope):
        _smtp_send(smtp.connection, email.envelope_from, email.to, email.wire_bytes())
        return
    email.connection = smtp
    email.send()


def _smtp_send(connection: smtplib.SMTP, sender: str, recipients: list[str], raw: bytes) -> None:
    """``smtplib``'s ``sendmail`` for the platform's own addresses, already
    valid and ASCII: ``sendmail`` parses each address again (a third of a
    millisecond each) and runs two regular expressions over the email."""
    connection.ehlo_or_helo_if_needed()
    code, reply = connection.docmd("MAIL", f"FROM:<{sender}>")
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    for recipient in recipients:
        code, reply = connection.docmd("RCPT", f"TO:<{recipient}>")
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    code, reply = connection.docmd("DATA")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    # RFC 5321 4.5.2: a line starting with "." gets another; "." alone ends the data.
    data = raw.replace(b"\n.", b"\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    connection.send(data + b".\r\n")
    try:
        code, reply = connection.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as error:
        # The whole email went out; whether the server stored it is unknown.
        raise MaybeDelivered(f"the connection dropped after the email was sent: {error}") from error
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)
