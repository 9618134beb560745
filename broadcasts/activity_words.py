"""What broadcasts add to a contact's activity in words: the broadcast, or
the transactional message, an email was sent by. Registered by
``BroadcastsConfig.ready`` (see ``contacts.activity_words``)."""

from __future__ import annotations

from broadcasts.models import Broadcast, TransactionalMessage
from contacts.activity_words import Names, add_aside, add_names, detail_refs, details
from contacts.models import Activity


def in_broadcast(activity: Activity, names: Names) -> str | None:
    broadcast = names.quoted("broadcast", details(activity).get("broadcast_id"))
    return f"in broadcast {broadcast}" if broadcast else None


def by_transactional_message(activity: Activity, names: Names) -> str | None:
    message = names.quoted("transactional", details(activity).get("transactional_id"))
    return f"transactional message {message}" if message else None


def register() -> None:
    """Name the broadcasts and transactional messages activity details refer to."""
    add_names(
        "broadcast",
        refs=detail_refs("broadcast_id"),
        lookup=lambda ids: dict(Broadcast.objects.filter(pk__in=ids).values_list("pk", "name")),
    )
    add_names(
        "transactional",
        refs=detail_refs("transactional_id"),
        lookup=lambda ids: dict(
            TransactionalMessage.objects.filter(pk__in=ids).values_list("pk", "name")
        ),
    )
    add_aside("broadcast", in_broadcast)
    add_aside("transactional", by_transactional_message)
