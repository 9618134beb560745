"""What the email app tells the sources of its emails (a Conductor Message
step today), so that this app never needs to know them."""

from __future__ import annotations

from collections.abc import Callable

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


#: A source's say, up to the moment each email is sent, in whether it still
#: wants it (a cancelled broadcast does not): functions taking the claimed
#: deliveries (``source_type_id``, ``source_id`` loaded) and returning
#: ``{delivery id: why not, in words}`` for those to skip.
Withdrawal = Callable[[list], dict[int, str]]
_withdrawals: dict[str, Withdrawal] = {}


def add_withdrawal(name: str, withdrawal: Withdrawal) -> None:
    """Let a source withdraw emails it asked for (registered in its ``ready``)."""
    _withdrawals[name] = withdrawal


def withdrawn(deliveries: list) -> dict[int, str]:
    """``{delivery id: reason}`` of the deliveries their sources no longer want."""
    reasons: dict[int, str] = {}
    for withdrawal in _withdrawals.values():
        reasons.update(withdrawal(deliveries))
    return reasons
