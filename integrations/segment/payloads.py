"""What Segment receives: the ``identify`` and ``track`` calls of SPEC section 6.

**The activity details contract.** Track properties come from
``contacts.models.Activity.details``; whoever records email activity writes
these keys (a key that is absent leaves its property out):

=================================  =========================================================
``details`` key                    becomes
=================================  =========================================================
``message_id``                     ``email_id`` (a ``conductor.models.Message`` pk)
``delivery_id``                    ``email_subject`` = the subject that email was sent with,
                                   rendered for its contact (``Delivery.subject``), and
                                   ``campaign_name`` = the name of the conversation whose
                                   step sent it (a ``conductor.models.Delivery`` pk);
                                   ``conversation_id`` may be given instead
``broadcast_id``                   ``campaign_name`` = the broadcast's campaign, else
                                   the broadcast's name
``transactional_id``               ``campaign_name`` = the transactional message's
                                   campaign, else its name
``link_id``, ``link_url``          ``link_id``, ``link_url`` (``email_clicked``)
``order_total``                    ``order_total`` (``email_converted``), a number
``google_analytics_campaign_name`` ``google_analytics_campaign_name``, when the email has one
``ip``, ``user_agent``             ``context.ip``; ``context.user_agent`` (Listrak's
                                   spelling) and ``context.userAgent`` (Segment's), the
                                   same value; for ``email_opened`` and ``email_clicked`` only
``method``                         ``unsubscribe_type`` (``unsubscribed``; the contact
                                   services write it)
=================================  =========================================================

``list_id`` and ``list_name`` are always set. ``email_subject`` is never the
message's template (``Sale for {{ profile.first_name }}``): without a delivery
that kept its subject (an email sent before deliveries did), it is the
message's subject only when that has no merge field, and is left out otherwise.

``emails.sending.delivery`` writes ``email_sent`` with ``message_id``,
``delivery_id`` and ``conversation_id``, and keeps the rendered subject on the
delivery; the engagement records (opens, clicks, unsubscribes from the email,
bounces, complaints, conversions) carry the same three keys, so each of their
events reports the subject that contact received.

Each call is serialized once, when it is written to the outbox, compactly and
ASCII-only (so its length in characters is its size in bytes), without
``sentAt``: that is added at each attempt (``delivery.request_body``).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any, cast

from django.core.exceptions import ValidationError

#: Segment's limits: a message, and a batch request. Kept just under 32 KiB and
#: 500 KiB, whichever way Segment counts a kilobyte.
MAX_MESSAGE_BYTES = 32_000
MAX_BATCH_BYTES = 500_000
MAX_BATCH_MESSAGES = 100

#: What ``sentAt`` adds to a message: ``,"sentAt":"2024-01-01T00:00:00.000Z"``.
SENT_AT_BYTES = len(',"sentAt":""') + len("2024-01-01T00:00:00.000Z")

#: The track event of each activity kind (``contacts.models.ActivityKind``).
TRACK_EVENTS = {
    "email_sent": "Email Sent",
    "email_opened": "Email Opened",
    "email_clicked": "Email Link Clicked",
    "email_bounced": "Email Bounced",
    "email_spam": "Email Marked As Spam",
    "email_converted": "Email Converted",
    "unsubscribed": "Unsubscribed",
}
#: Events whose activity's ``ip`` and user agent go into ``context``.
WITH_CLIENT_CONTEXT = {"Email Opened", "Email Link Clicked"}
#: Details copied as they are into the track properties when present.
COPIED_PROPERTIES = ("link_id", "link_url", "order_total", "google_analytics_campaign_name")


def iso_time(moment: datetime.datetime) -> str:
    """ISO-8601 in UTC with milliseconds: ``2024-05-01T12:00:00.123Z``."""
    text = moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def list_trait(list_id: int) -> str:
    return f"listrak_list_{list_id}"


def identify(
    *,
    message_id: str,
    email: str,
    list_id: int,
    subscribed: bool,
    user_id: str | None,
    timestamp: datetime.datetime,
) -> dict[str, Any]:
    """An identify call: ``anonymousId`` and trait ``email`` are the address,
    the list's trait is ``true`` while subscribed and ``null`` (which removes
    it in Segment) once not; ``userId`` only when the contact has one."""
    payload: dict[str, Any] = {"type": "identify", "messageId": message_id, "anonymousId": email}
    if user_id:
        payload["userId"] = user_id
    payload["traits"] = {"email": email, list_trait(list_id): True if subscribed else None}
    payload["timestamp"] = iso_time(timestamp)
    return payload


def track(
    *,
    message_id: str,
    email: str,
    event: str,
    properties: dict[str, Any],
    client: dict[str, Any] | None = None,
    timestamp: datetime.datetime,
) -> dict[str, Any]:
    """A track call: ``anonymousId`` is the address, never a ``userId``;
    ``context.traits.email``, plus ``client`` (``client_context``)."""
    context: dict[str, Any] = {"traits": {"email": email}}
    context.update(client or {})
    return {
        "type": "track",
        "messageId": message_id,
        "anonymousId": email,
        "event": event,
        "properties": properties,
        "context": context,
        "timestamp": iso_time(timestamp),
    }


def email_properties(
    details: dict[str, Any],
    *,
    list_id: int,
    list_name: str,
    subjects: dict[str, str],
    campaigns: dict[str, str],
) -> dict[str, Any]:
    """The properties of an email event (or of an unsubscribe that came from
    an email) from its activity's details; see the module's contract.
    ``subjects`` are the subjects deliveries were sent with, keyed
    ``"delivery:<id>"``, and Message subjects, keyed ``"message:<id>"``;
    ``campaigns`` campaign names keyed ``"delivery:<id>"``,
    ``"conversation:<id>"``, ``"broadcast:<id>"`` or ``"transactional:<id>"``."""
    properties: dict[str, Any] = {}
    if details.get("message_id") is not None:
        properties["email_id"] = details["message_id"]
    subject = subjects.get(f"delivery:{as_id(details.get('delivery_id'))}") or subjects.get(
        f"message:{as_id(details.get('message_id'))}"
    )
    if subject is not None:
        properties["email_subject"] = subject
    campaign = next(
        (
            campaigns[key]
            for key in (
                f"delivery:{as_id(details.get('delivery_id'))}",
                f"conversation:{as_id(details.get('conversation_id'))}",
                f"broadcast:{as_id(details.get('broadcast_id'))}",
                f"transactional:{as_id(details.get('transactional_id'))}",
            )
            if campaigns.get(key)
        ),
        None,
    )
    if campaign is not None:
        properties["campaign_name"] = campaign
    for key in COPIED_PROPERTIES:
        if details.get(key) not in (None, ""):
            properties[key] = details[key]
    properties["list_id"] = list_id
    properties["list_name"] = list_name
    return properties


def client_context(details: dict[str, Any]) -> dict[str, Any]:
    """``context.ip``, and the user agent as both ``context.user_agent``
    (Listrak's spelling) and ``context.userAgent`` (Segment's, which its
    destinations read), of an open or a click."""
    client = {key: details[key] for key in ("ip", "user_agent") if details.get(key)}
    if "user_agent" in client:
        client["userAgent"] = client["user_agent"]
    return client


def as_id(value: object) -> int | None:
    """A details value meant as a primary key, or None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return int(cast(Any, value))  # whatever it is: int() refuses it below if it must
    except (TypeError, ValueError):
        return None


def serialize(payload: dict[str, Any], *, contact: str, list_id: int) -> str:
    """The payload as stored: compact ASCII JSON. Raises ValidationError,
    naming the contact and its largest value, when the message (with the
    ``sentAt`` added at sending) would pass Segment's per-message limit: the
    change that produced it is then rolled back."""
    text = json.dumps(payload, separators=(",", ":"))
    size = len(text) + SENT_AT_BYTES
    if size > MAX_MESSAGE_BYTES:
        field, field_size = max(_value_sizes(payload), key=lambda pair: pair[1])
        raise ValidationError(
            "The Segment %(kind)s message of %(email)s (list %(list)s) would be %(size)s bytes, "
            "over Segment's limit of %(limit)s bytes: %(field)s alone is %(field_size)s bytes.",
            code="segment_message_too_large",
            params={
                "kind": payload.get("event") or payload["type"],
                "email": contact,
                "list": list_id,
                "size": size,
                "limit": MAX_MESSAGE_BYTES,
                "field": field,
                "field_size": field_size,
            },
        )
    return text


def _value_sizes(value: Any, path: str = "") -> Iterator[tuple[str, int]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _value_sizes(item, f"{path}.{key}" if path else str(key))
    else:
        yield path, len(json.dumps(value))
