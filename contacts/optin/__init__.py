"""Double opt-in: the confirmation email, and the link that confirms.

1. A contact made ``Pending`` (``subscribe_contacts(..., double_opt_in=True)``)
   gets an :class:`~contacts.models.OptInRequest` from
   :func:`request_confirmations`, in the same transaction.
2. Once that commits, a django-q2 task (``tasks.send_confirmations``) claims
   each request by a compare-and-swap under a lease and sends the email
   (``sending``); a scheduled sweep (``tasks.resume_confirmations``) re-queues
   requests whose task was lost or whose worker died.
3. The email links to ``/confirm/<token>/`` (``confirmation``); a POST there
   subscribes the contact with method ``Double Opt-In``.
"""

from contacts.optin.confirmation import (
    confirm_subscription,
    confirmation_url,
    contact_for_token,
)
from contacts.optin.tasks import request_confirmations

__all__ = [
    "confirm_subscription",
    "confirmation_url",
    "contact_for_token",
    "request_confirmations",
]
