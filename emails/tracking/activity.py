"""The activity recorded about one email: the contact it went to, and
details naming the email (``message_id``, ``delivery_id``, then what names
its source, such as ``conversation_id``) before what happened to it."""

from __future__ import annotations

import datetime

from contacts.models import Activity
from contacts.services import email_activity
from emails.models import Delivery


def delivery_details(delivery: Delivery) -> dict[str, object]:
    """The details naming the email of ``delivery``: its message, itself, and
    what its source asked to be named by (its conversation)."""
    return {"message_id": delivery.message_id, "delivery_id": delivery.pk, **delivery.details}


def delivery_activity(
    delivery: Delivery,
    kind: str,
    *,
    details: dict[str, object] | None = None,
    occurred_at: datetime.datetime | None = None,
) -> Activity:
    """An unsaved activity ``kind`` of the delivery's contact: the email's
    details, then ``details``; at ``occurred_at`` (now when not given)."""
    contact = delivery.contact
    return email_activity(
        contact_id=delivery.contact_id,
        list_id=contact.list_id,
        email=contact.email,
        kind=kind,
        occurred_at=occurred_at,
        details={**delivery_details(delivery), **(details or {})},
    )
