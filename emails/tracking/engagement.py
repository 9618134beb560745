"""What a contact's engagement with a sent email records: an activity per
open, click and unsubscribe, through ``contacts.hooks`` like every other
change (Segment's track calls and Conductor's child threads follow them).

Activity details (the keys ``integrations.segment.payloads`` documents):
``message_id``, ``delivery_id``, ``conversation_id``, ``ip``, ``user_agent``,
and for clicks ``link_kind`` (``link``, ``browser`` or ``pass_along``) plus
``link_id`` and ``link_url`` for a link of the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from contacts.hooks import record_activities
from contacts.models import ActivityKind, SubscriptionState, UnsubscribeMethod
from contacts.services import unsubscribe_contact
from emails.contents import sent_message
from emails.models import MAY_HAVE_GONE_OUT, Delivery, MessageLink
from emails.tracking.activity import delivery_activity, delivery_details
from emails.tracking.tokens import read_token

MAX_USER_AGENT = 500


@dataclass(frozen=True)
class Visitor:
    """Who opened or clicked, as far as the request tells."""

    ip: str = ""
    user_agent: str = ""

    def details(self) -> dict[str, object]:
        found = {"ip": self.ip, "user_agent": self.user_agent[:MAX_USER_AGENT]}
        return {key: value for key, value in found.items() if value}


def delivery_for(kind: str, token: str) -> Delivery | None:
    """The sent delivery a ``kind`` token names, or None (forged, altered,
    or not a delivery that went out)."""
    ids = read_token(kind, token)
    return None if ids is None else _sent_delivery(ids[0])


def link_for(token: str) -> tuple[Delivery, MessageLink] | None:
    """The delivery and the link of its message a click token names, or None:
    a click can only lead to a link that message really contains."""
    ids = read_token("click", token)
    if ids is None:
        return None
    delivery = _sent_delivery(ids[0])
    if delivery is None:
        return None
    link = MessageLink.objects.filter(pk=ids[1], message_id=delivery.message_id).first()
    return None if link is None else (delivery, link)


def _sent_delivery(pk: int) -> Delivery | None:
    delivery = (
        Delivery.objects.select_related("message", "content", "contact__list")
        # A token exists only in a rendered email; Failed ones may have gone out.
        .filter(pk=pk, status__in=MAY_HAVE_GONE_OUT)
        .first()
    )
    if delivery is not None:
        delivery.message = sent_message(delivery)  # its pages show what was sent
    return delivery


def record_open(delivery: Delivery, visitor: Visitor) -> None:
    _record(delivery, ActivityKind.EMAIL_OPENED, visitor.details())


def record_click(
    delivery: Delivery,
    visitor: Visitor,
    *,
    kind: str = "link",
    link: MessageLink | None = None,
    url: str = "",
) -> None:
    """A click on a link of the message (``link`` with the ``url`` it led
    to), or on its browser or pass-along link (``kind``)."""
    details: dict[str, object] = {"link_kind": kind, **visitor.details()}
    if link is not None:
        details.update(link_id=link.pk, link_url=url or link.url)
    _record(delivery, ActivityKind.EMAIL_CLICKED, details)


def unsubscribe(delivery: Delivery, *, one_click: bool) -> bool:
    """Unsubscribe the delivery's contact from its list; False when it was
    not subscribed any more (nothing changes)."""
    contact = delivery.contact
    if contact.state in (SubscriptionState.UNSUBSCRIBED, SubscriptionState.NEVER_SUBSCRIBED):
        return False  # nothing to leave (never subscribed: only sent transactional email)
    method = UnsubscribeMethod.ONE_CLICK if one_click else UnsubscribeMethod.UNSUBSCRIBE_LINK
    unsubscribe_contact(contact=contact, method=method, details=delivery_details(delivery))
    return True


def _record(delivery: Delivery, kind: str, details: dict[str, object]) -> None:
    record_activities([delivery_activity(delivery, kind, details=details)])
