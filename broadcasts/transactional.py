"""Sending a transactional message: one email of a template to one address,
with the request's merge values, now.

- **To whom**: any address of the list, subscribed or not (transactional
  mail is not marketing), but never a banned or suppressed one. An address
  the list does not have becomes a contact that never subscribed
  (``contacts.services.transactional_recipient``): no marketing goes to it,
  and to any later subscription it is a new address.
- **What**: the message as it is now (see ``_delivery``), the request's
  values shown in place of the contact's own profile values; the contact's
  profile is never changed by them.
- **Once**: a request a client sends again (a timeout, a retry) is the same
  send. Its key (``RequestKey``) is unique per message in the database, so
  two identical requests racing write one send and one email.
- **Now**: the email is claimed ahead of every other and sent by the web
  process itself once the request commits (``emails.sending.delivery.send_now``);
  if the mail server is down it waits, Pending, for the workers.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from broadcasts.models import Campaign, SavedMessage, TransactionalMessage, TransactionalSend
from contacts.addresses import normalise_email
from contacts.models import Contact
from contacts.services import transactional_recipient
from emails.models import Delivery, Message
from emails.render import GIVEN_VALUES
from emails.sending.delivery import send_now
from lists.models import List
from lists.profile_schema import ProfileSchema

#: ``{{ links.unsubscribe }}`` and its like: Listrak's "system links", which a
#: transactional message may not hold (ERROR_TRANSACTIONAL_MESSAGE_SYSTEM_LINK).
_SYSTEM_LINK = re.compile(r"links\.(unsubscribe|pass_along|browser)\b")
SYSTEM_LINK_WORDS = {
    "unsubscribe": "the unsubscribe link",
    "pass_along": "the forward-to-a-friend link",
    "browser": "the view-in-browser link",
}


@dataclass(frozen=True)
class RequestKey:
    """What makes a request sent again the same one: the sha-256 of its API
    client, its message and either the client's ``Idempotency-Key`` header
    (for ever) or its body (for ``window``)."""

    value: str
    #: How long the request stays the same one; None: for ever.
    window: datetime.timedelta | None = None


def header_key(
    *, client_id: int, transactional_message: TransactionalMessage, header: str
) -> RequestKey:
    """The key of a request bearing the ``Idempotency-Key`` header ``header``."""
    return RequestKey(_digest("header", client_id, transactional_message.pk, header))


def body_key(
    *,
    client_id: int,
    transactional_message: TransactionalMessage,
    body: Mapping[str, object],
) -> RequestKey | None:
    """The key of a request without the header: its body as canonical JSON
    (``body`` already read: the same address and values, whatever their order
    or spelling), the same for ``TRANSACTIONAL_RETRY_SECONDS``; None when
    that is 0 (then every request sends)."""
    seconds = settings.TRANSACTIONAL_RETRY_SECONDS
    if not seconds:
        return None
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    value = _digest("body", client_id, transactional_message.pk, canonical)
    return RequestKey(value, datetime.timedelta(seconds=seconds))


def _digest(kind: str, *parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, (kind, *parts))).encode()).hexdigest()


@dataclass(frozen=True)
class Sent:
    """A send, and whether this request wrote it (False: a retry of an earlier one)."""

    send: TransactionalSend
    created: bool


def send_transactional(
    *,
    transactional_message: TransactionalMessage,
    email: str,
    values: Mapping[int, object],
    request_key: RequestKey | None = None,
) -> Sent:
    """Send ``transactional_message`` to ``email`` with ``values`` (``{profile
    field id: value}``, checked by each field's type) shown in place of the
    contact's own: a ``TransactionalSend`` and its email, sent once this
    transaction commits. A request with the key of an earlier one gets that
    send back and sends nothing.

    Refused with ValidationError, writing nothing: an invalid address, a
    value that does not fit its field (naming it), a message holding a system
    link (``ERROR_TRANSACTIONAL_MESSAGE_SYSTEM_LINK``), a banned address
    (``ERROR_BANNED_EMAIL_ADDRESS``) or a suppressed one (``ERROR_SUPPRESSED_EMAIL``);
    an ``Idempotency-Key`` used before for another address or other values."""
    message = transactional_message
    address = normalise_email(email)
    given = given_values(message, values)
    with transaction.atomic():
        if request_key is not None and (earlier := _earlier(message, request_key)) is not None:
            _check_same_request(earlier, address, given)
            return Sent(earlier, created=False)
        check_system_links(message.message)
        contact = transactional_recipient(email_list=message.list, email=address)
        sent = _send(message, contact, given, request_key=request_key)
        if not sent.created:  # an identical request won the race: the same one?
            _check_same_request(sent.send, address, given)
        return sent


def resend(
    *,
    send: TransactionalSend,
    forward_to: str | None = None,
    request_key: RequestKey | None = None,
) -> Sent:
    """Send ``send``'s email again, with its values: to its own address, or
    forwarded to ``forward_to``; the message as it is now. Refused as
    ``send_transactional`` refuses (a banned or suppressed address, a system
    link); a request with the key of an earlier one gets that resend back."""
    message = send.transactional_message
    address = send.contact.email if forward_to is None else normalise_email(forward_to)
    with transaction.atomic():
        if request_key is not None and (earlier := _earlier(message, request_key)) is not None:
            if earlier.resend_of_id != send.pk:  # the key of another request
                _check_same_request(earlier, "", {})
            _check_same_request(earlier, address, send.values)
            return Sent(earlier, created=False)
        check_system_links(message.message)
        contact = transactional_recipient(email_list=message.list, email=address)
        return _send(message, contact, send.values, request_key=request_key, resend_of=send)


def given_values(message: TransactionalMessage, values: Mapping[int, object]) -> dict[str, str]:
    """``{profile field key: value}`` of ``values`` cleaned by their fields'
    types (a blank one shows blank); ValidationError naming each unknown
    field and each value that does not fit."""
    cleaned = ProfileSchema(message.list).clean(dict(values)) if values else {}
    return {key: value or "" for key, value in cleaned.items()}


def check_system_links(message: Message) -> None:
    """Refuse a message using ``{{ links.unsubscribe }}``, ``links.pass_along``
    or ``links.browser``: a receipt is not marketing, and Listrak sends no
    transactional message holding such a "system link"."""
    written = " ".join((message.subject, message.html_body, message.text_body))
    found = sorted({match.group(1) for match in _SYSTEM_LINK.finditer(written)})
    if found:
        raise ValidationError(
            "The message “%(message)s” holds %(links)s; a transactional message may not "
            "(it is not marketing). Remove %(them)s from the message.",
            code="ERROR_TRANSACTIONAL_MESSAGE_SYSTEM_LINK",
            params={
                "message": message.name,
                "links": " and ".join(SYSTEM_LINK_WORDS[name] for name in found),
                "them": "them" if len(found) > 1 else "it",
            },
        )


# --- Writing transactional messages (the admin) ----------------------------------------


def check_settings(
    *,
    email_list: List,
    message: Message,
    campaign: Campaign | None = None,
    instance: TransactionalMessage | None = None,
) -> None:
    """Refuse, on the field at fault, settings a transactional message of
    ``email_list`` may not have: a message of another list, or one another
    transactional message or a saved message already is (editing it would
    change both), or one holding a system link; a campaign of another list."""
    problems: dict[str, list[str]] = {}
    if message.list_id != email_list.pk:
        problems["message"] = [
            f"“{message}” is a message of another list: choose one of {email_list}."
        ]
    else:
        other = TransactionalMessage.objects.filter(message=message)
        if instance is not None and instance.pk is not None:
            other = other.exclude(pk=instance.pk)
        taken = other.first()
        if taken is not None:
            problems["message"] = [
                f"“{message}” is already the transactional message “{taken}”'s: write another "
                "(+) or choose another."
            ]
        elif SavedMessage.objects.filter(message=message).exists():
            problems["message"] = [
                f"“{message}” is a saved message: write another (+) or choose another."
            ]
        else:
            try:
                check_system_links(message)
            except ValidationError as error:
                problems["message"] = error.messages
    if campaign is not None and campaign.list_id != email_list.pk:
        problems["campaign"] = [f"“{campaign}” is a campaign of another list."]
    if problems:
        raise ValidationError(problems)


def create_transactional_message(
    *,
    email_list: List,
    name: str,
    message: Message,
    campaign: Campaign | None = None,
    external_campaign_id: str = "",
) -> TransactionalMessage:
    """A transactional message of ``email_list`` sending ``message``; refused
    as ``check_settings`` says."""
    check_settings(email_list=email_list, message=message, campaign=campaign)
    return TransactionalMessage.objects.create(
        list=email_list,
        name=name.strip() or message.name,
        message=message,
        campaign=campaign,
        external_campaign_id=external_campaign_id,
    )


def update_transactional_message(
    *,
    transactional_message: TransactionalMessage,
    name: str,
    message: Message,
    campaign: Campaign | None = None,
    external_campaign_id: str = "",
) -> TransactionalMessage:
    """Change its name, message, campaign or external campaign id (its list
    stays: its API address names it); refused as ``check_settings`` says.
    The next email it sends is the new message's."""
    check_settings(
        email_list=transactional_message.list,
        message=message,
        campaign=campaign,
        instance=transactional_message,
    )
    transactional_message.name = name.strip() or message.name
    transactional_message.message = message
    transactional_message.campaign = campaign
    transactional_message.external_campaign_id = external_campaign_id
    transactional_message.save(
        update_fields=["name", "message", "campaign", "external_campaign_id"]
    )
    return transactional_message


def api_address(transactional_message: TransactionalMessage) -> str:
    """Where a shop's backend sends it: "POST /email/v1/List/3/TransactionalMessage/12/Message"."""
    return (
        f"POST /email/v1/List/{transactional_message.list_id}/TransactionalMessage/"
        f"{transactional_message.pk}/Message"
    )


# --- Requests sent again ----------------------------------------------------------------


def _earlier(message: TransactionalMessage, key: RequestKey) -> TransactionalSend | None:
    """The send an earlier request with ``key`` wrote; one older than the
    key's window is let go of (its key emptied), so this request sends."""
    earlier = (
        TransactionalSend.objects.filter(transactional_message=message, request_key=key.value)
        .select_related("contact")
        .first()
    )
    if earlier is None or key.window is None:
        return earlier
    if earlier.created_at >= timezone.now() - key.window:
        return earlier
    # Two requests past the window at once: the second's update waits for the
    # first's, then finds the key gone and goes on to lose the insert (``_send``).
    TransactionalSend.objects.filter(pk=earlier.pk, request_key=key.value).update(request_key="")
    return None


def _check_same_request(earlier: TransactionalSend, address: str, given: dict[str, str]) -> None:
    if earlier.contact.email != address or earlier.values != given:
        raise ValidationError(
            "This Idempotency-Key was used before for another request (to %(email)s, or with "
            "other values): send each new email with a new key.",
            code="ERROR_INVALID_PARAMETER",
            params={"email": earlier.contact.email},
        )


def _send(
    message: TransactionalMessage,
    contact: Contact,
    given: dict[str, str],
    *,
    request_key: RequestKey | None,
    resend_of: TransactionalSend | None = None,
) -> Sent:
    send = TransactionalSend(
        transactional_message=message,
        contact=contact,
        values=given,
        request_key=request_key.value if request_key is not None else "",
        resend_key=uuid.uuid4().hex,
        resend_of=resend_of,
        created_at=timezone.now(),
    )
    try:
        with transaction.atomic():  # a savepoint: losing the race below rolls back only this
            send.save()
    except IntegrityError:
        if request_key is None:
            raise
        # The same request, sent twice at once: the other committed its send
        # first (the insert waited for it); its send is this request's too.
        winner = TransactionalSend.objects.select_related("contact").get(
            transactional_message=message, request_key=request_key.value
        )
        return Sent(winner, created=False)
    delivery = _delivery(send)
    transaction.on_commit(lambda: send_now([delivery.pk]))
    return Sent(send, created=True)


def _delivery(send: TransactionalSend) -> Delivery:
    message = send.transactional_message
    return Delivery.objects.create(
        source_type=ContentType.objects.get_for_model(TransactionalSend),
        source_id=send.pk,
        message_id=message.message_id,
        # Not frozen (unlike a conversation version's or a broadcast's content):
        # a transactional template is live. Each email goes out within a second
        # of its request, so no email already under way would change; a fix to
        # the template (a typo in the receipt) reaches the very next one.
        content=None,
        contact=send.contact,
        transactional=True,
        created_at=send.created_at,
        merge_context={GIVEN_VALUES: send.values},
        details={"transactional_id": message.pk},
    )
