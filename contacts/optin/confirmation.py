"""The confirmation link: a signed token naming the contact, and confirming it."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from contacts.models import Contact, SubscribeMethod
from contacts.services import ContactResult, subscribe_contacts

#: Keeps these tokens apart from every other signed value of the site: a value
#: signed for another purpose is not a valid confirmation token.
SALT = "contacts.optin.confirm"


def make_token(contact: Contact) -> str:
    """The token of ``contact``'s confirmation link. It carries the contact id
    and its email key: a guessed or altered id alone is refused."""
    return signing.dumps([contact.pk, contact.email_key], salt=SALT)


def confirmation_url(contact: Contact) -> str:
    """The absolute confirmation link of ``contact``, on ``PUBLIC_BASE_URL``
    (emails are built by workers, outside any request)."""
    path = reverse("optin-confirm", kwargs={"token": make_token(contact)})
    return f"{settings.PUBLIC_BASE_URL}{path}"


def contact_for_token(token: str) -> Contact | None:
    """The contact a confirmation token names (with its list), or None when
    the token is tampered with, foreign, or names a contact that is gone."""
    try:
        payload = signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError):
        return None
    match payload:
        case [int() as contact_id, str() as email_key]:
            return (
                Contact.objects.select_related("list")
                .filter(pk=contact_id, email_key=email_key)
                .first()
            )
    return None


def confirm_subscription(*, contact: Contact) -> ContactResult:
    """Confirm a pending contact: its first-ever subscription, with method
    ``Double Opt-In``. Confirming again is harmless (``AlreadySubscribed``);
    an unsubscribed, banned or suppressed contact stays as it is."""
    (result,) = subscribe_contacts(
        email_list=contact.list,
        emails=[contact.email],
        method=SubscribeMethod.DOUBLE_OPT_IN,
    )
    return result
