"""What the routes that send a broadcast share (``List/{listId}/Message`` and
``SavedMessage/{id}/Message``), and the writes of a message from Listrak's
fields: reading ``sendDate``, ``sendTestMessage``, ``sendReviewMessage`` and
``testEmailAddress``; checking and saving a message; sending a test.

A test (or a review: this server keeps no reviewers, so a review is a test
to the address given) goes now to that one address and nobody else, as
staff's test sends do (``emails.render.build_test_email``), and is kept as a
test broadcast: Listrak lists it with ``includeTestMessages``."""

from __future__ import annotations

import datetime
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field

from api.base import INT32_MAX, parse_bool
from api.envelopes import ErrorSerializer
from api.errors import UNHANDLED_EXCEPTION, ApiError, invalid
from api.params import parse_moment
from api.serializers import ApiSerializer, EmailAddressField, TextField, WholeNumberField
from broadcasts.models import Broadcast, BroadcastStatus, Campaign, SavedAudience, SavedMessage
from broadcasts.services import check_sendable, create_broadcast
from emails.models import Message
from emails.render import TemplateProblem, build_test_email
from lists.models import List

SEND_PARAMETERS = [
    OpenApiParameter(
        "sendDate",
        {"type": "string", "format": "date-time"},
        description="When to send: an ISO 8601 date-time, or a date (its midnight); "
        "in the list's time zone without an offset. Now when left out (or past).",
    ),
    OpenApiParameter(
        "sendTestMessage",
        bool,
        description="Send a test, now, to testEmailAddress only (not to the list).",
    ),
    OpenApiParameter(
        "sendReviewMessage",
        bool,
        description="As sendTestMessage: this server keeps no reviewers, so the review "
        "goes to testEmailAddress only.",
    ),
    OpenApiParameter(
        "testEmailAddress",
        {"type": "string", "format": "email"},
        description="Where a test or review goes; needed with either, refused without.",
    ),
]
#: A send's answer besides the usual errors: a test the mail server did not take.
SEND_UNAVAILABLE = {
    503: OpenApiResponse(
        ErrorSerializer, description="ServiceUnavailable: the mail server did not take the test"
    )
}

#: What this server's emails are: UTF-8 (Windows code page 65001).
UTF8_CODE_PAGE = 65001
#: A message's model fields by their names in Listrak's bodies.
MESSAGE_FIELD_NAMES = {
    "subject": "subject",
    "html_body": "bodyHtml",
    "text_body": "bodyText",
    "from_name": "fromName",
    "from_email": "fromEmail",
    "reply_email": "replyEmail",
}


# --- A message's fields in Listrak's bodies -------------------------------------------------


@extend_schema_field(
    {
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": INT32_MAX,
        "nullable": True,
    }
)
class OptionalIdField(WholeNumberField):
    """A row of the list named by id, or none: null, or 0 as a .NET client sends it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            min_value=0, max_value=INT32_MAX, allow_null=True, required=False, **kwargs
        )


def _optional_text(source: str, max_length: int | None = None, **kwargs: Any) -> TextField:
    return TextField(
        source=source,
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=max_length,
        **kwargs,
    )


class MessageFieldsSerializer(ApiSerializer):
    """The fields of a message every Listrak body that writes one has."""

    subject = TextField(max_length=500)
    fromName = TextField(source="from_name", max_length=200)
    fromEmail = EmailAddressField(source="from_email", max_length=254)
    replyEmail = EmailAddressField(
        source="reply_email", required=False, allow_blank=True, allow_null=True, max_length=254
    )
    bodyHtml = _optional_text("html_body", trim_whitespace=False)
    bodyText = _optional_text("text_body", trim_whitespace=False)
    campaignId = OptionalIdField(source="campaign_id")
    externalCampaignId = _optional_text("external_campaign_id", max_length=100)


def message_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The message's model fields given in validated ``data`` (null: blank)."""
    return {key: data[key] or "" for key in MESSAGE_FIELD_NAMES if key in data}


# --- Sending --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendOptions:
    """When a broadcast goes (None: now), or the one address a test goes to."""

    send_at: datetime.datetime | None
    test_address: str | None


def send_options(params: Any, email_list: List) -> SendOptions:
    """The query parameters of a send, with Listrak's refusals of the
    combinations that contradict each other."""
    send_at = parse_moment(params, "sendDate", email_list.zone, end_of_day=False)
    test = parse_bool(params, "sendTestMessage")
    review = parse_bool(params, "sendReviewMessage")
    address = (params.get("testEmailAddress") or "").strip()
    if test and review:
        raise ApiError(
            "Set sendTestMessage or sendReviewMessage, not both.",
            code="ERROR_TEST_FLAG_AND_REVIEW_FLAG_SET",
        )
    if test and send_at is not None:
        raise ApiError(
            "A test is sent now, to testEmailAddress only: leave sendDate out.",
            code="ERROR_TEST_FLAG_AND_SEND_DATE_SET",
        )
    if review and send_at is not None:
        raise ApiError(
            "A review is sent now, to testEmailAddress only: leave sendDate out.",
            code="ERROR_REVIEW_FLAG_AND_SEND_DATE_SET",
        )
    if not (test or review):
        if address:
            raise invalid(
                "testEmailAddress",
                "testEmailAddress is used only with sendTestMessage or sendReviewMessage "
                "set to true; without them the message goes to the list.",
            )
        return SendOptions(send_at=send_at, test_address=None)
    flag = "sendTestMessage" if test else "sendReviewMessage"
    if not address:
        raise invalid(
            "testEmailAddress",
            f"With {flag} set to true, give the address to send to in testEmailAddress.",
        )
    try:
        validate_email(address)
    except ValidationError:
        raise invalid("testEmailAddress", f"{address!r} is not an email address.") from None
    return SendOptions(send_at=None, test_address=address)


def save_message(message: Message) -> Message:
    """Check ``message`` as the admin does (``Message.clean``: templates that
    compile, merge fields the list has, a body) and save it; each problem is
    a 400 naming its field as Listrak's body does."""
    try:
        message.full_clean(exclude=["list"])
    except ValidationError as error:
        names = {**MESSAGE_FIELD_NAMES, "name": "savedMessageName"}
        raise ApiError(" ".join(_worded(error.message_dict, names))) from None
    message.save()
    return message


def _worded(problems: Mapping[str, list[str]], names: Mapping[str, str]) -> list[str]:
    return [
        text if field == NON_FIELD_ERRORS else f"{names.get(field, field)}: {text}"
        for field, texts in problems.items()
        for text in texts
    ]


def message_name(text: str) -> str:
    """A message's name from its subject (or a saved message's name)."""
    limit = Message._meta.get_field("name").max_length or 200
    return text if len(text) <= limit else text[: limit - 1] + "…"


def list_row(
    model: type[Campaign] | type[SavedAudience], email_list: List, pk: int | None, name: str
) -> Any:
    """The campaign or saved audience ``pk`` of ``email_list``; None for
    none (null or 0, as a .NET client sends it); a 400 naming ``name``
    when the list has no such row."""
    if not pk:
        return None
    row = model.objects.filter(pk=pk, list=email_list).first()
    if row is None:
        noun = model._meta.verbose_name
        raise invalid(name, f"List {email_list.pk} has no {noun} {pk}.")
    return row


def send_test(
    *,
    email_list: List,
    message: Message,
    address: str,
    campaign: Campaign | None = None,
    external_campaign_id: str = "",
    google_analytics_campaign_name: str = "",
) -> Broadcast:
    """Send ``message`` now to ``address`` alone and keep it as a Sent test
    broadcast. Refused in words, saving nothing (call it in a transaction),
    when the message cannot be sent or the mail server does not take it."""
    check_sendable(message)
    broadcast = create_broadcast(
        email_list=email_list,
        name=message.name,
        message=message,
        campaign=campaign,
        external_campaign_id=external_campaign_id,
        google_analytics_campaign_name=google_analytics_campaign_name,
    )
    now = timezone.now()
    Broadcast.objects.filter(pk=broadcast.pk).update(
        is_test=True,
        status=BroadcastStatus.SENT,
        send_at=now,
        started_at=now,
        finished_at=now,
        recipients=1,
    )
    try:
        build_test_email(message, address).send()
    except (TemplateProblem, ValueError) as error:  # a link whose address a merge field changes
        raise ApiError(f"The test was not sent: {error}") from None
    except smtplib.SMTPRecipientsRefused:
        raise invalid(
            "testEmailAddress", f"The mail server refused {address}; nothing was sent."
        ) from None
    except (smtplib.SMTPException, OSError) as error:
        raise ApiError(
            f"The test was not sent: the mail server failed ({error}). Nothing was saved; "
            "try again.",
            code=UNHANDLED_EXCEPTION,
            status_code=503,
        ) from None
    broadcast.refresh_from_db()
    return broadcast


# --- Saved messages -----------------------------------------------------------------------


def create_saved_message(
    *,
    email_list: List,
    name: str,
    message_fields: dict[str, Any],
    preheader: str = "",
    campaign: Campaign | None = None,
    external_campaign_id: str = "",
) -> SavedMessage:
    """A saved message of ``email_list`` and its message, checked as the
    admin checks messages."""
    with transaction.atomic():
        message = save_message(Message(list=email_list, name=message_name(name), **message_fields))
        return SavedMessage.objects.create(
            list=email_list,
            name=name,
            message=message,
            preheader=preheader,
            campaign=campaign,
            external_campaign_id=external_campaign_id,
        )


def update_saved_message(
    *, saved_message: SavedMessage, message_fields: dict[str, Any], **changes: Any
) -> SavedMessage:
    """Change a saved message and its message (``changes``: name, preheader,
    campaign, external_campaign_id). Broadcasts it sent keep their own copy.
    One deleted meanwhile is ``SavedMessage.DoesNotExist``."""
    with transaction.atomic():
        saved = (
            SavedMessage.objects.select_for_update()
            .select_related("message")
            .filter(pk=saved_message.pk)
            .first()
        )
        if saved is None:
            raise SavedMessage.DoesNotExist(f"Saved message {saved_message.pk} is gone.")
        message = saved.message
        for field, value in message_fields.items():
            setattr(message, field, value)
        if "name" in changes:
            message.name = message_name(changes["name"])
        save_message(message)
        for field, value in changes.items():
            setattr(saved, field, value)
        saved.modified_at = timezone.now()
        saved.save()
    return saved
