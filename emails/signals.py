"""What the email app tells the sources of its emails (a Conductor Message
step today), so that this app never needs to know them."""

from __future__ import annotations

from django.dispatch import Signal

#: Some emails reached their end, sent in the transaction that recorded it
#: (so a source's reaction commits with it, or neither does). Arguments:
#:
#: - ``went``: emails that went out (Sent), may have (Uncertain), or were not
#:   sent because their contact may not be mailed now: the source goes on;
#: - ``failed``: emails never sent because of the email itself (the mail
#:   server refused it for good, or it could not be rendered), each with its
#:   ``error`` in words: a person must act, so the source stops its contact.
#:
#: Both are lists of ``Delivery`` with at least ``source_type_id``,
#: ``source_id`` and ``error`` loaded; either may be empty.
emails_settled = Signal()


def settled(*, went: list | None = None, failed: list | None = None) -> None:
    """Tell the sources these emails reached their end (see ``emails_settled``)."""
    if went or failed:
        emails_settled.send(sender=None, went=went or [], failed=failed or [])
