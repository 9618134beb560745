"""Transactional messages under ``List/{listId}/TransactionalMessage``: read
them, send one to an address with merge values (``Message``), send a sent
one again (``Resend/{resendKey}``) and read what each email did
(``Activity``). Written in the admin; sent by ``broadcasts.transactional``.

A send answers with its ``resendKey`` as the ``resourceId``: the key its
email is resent by and that names it in the activity. A request sent again
is the same send (an ``Idempotency-Key`` header, or the same body from the
same client within ``TRANSACTIONAL_RETRY_SECONDS``): the same answer, and
no second email."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from oauth2_provider.models import AccessToken
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView, parse_id
from api.envelopes import (
    PAGING,
    ResourceCreatedSerializer,
    collection,
    operation_schema,
    paged,
    resource,
    responses,
)
from api.errors import ApiError, found, invalid, not_found
from api.message_reports import (
    ACTIVITY_TYPE,
    DATES,
    MessageActivitySerializer,
    activity_kind,
    activity_rows,
)
from api.paging import pk_page
from api.params import parse_period
from api.routes import route
from api.scopes import Scope
from api.serializers import ApiSerializer, ContactAddressField, validated
from api.views.contacts import SegmentationFieldValueSerializer
from api.views.lists import BODY_ERRORS, LIST_ID, path_id
from broadcasts.models import TransactionalMessage, TransactionalSend
from broadcasts.transactional import (
    RequestKey,
    body_key,
    given_values,
    header_key,
    resend,
    send_transactional,
)
from broadcasts.transactional_reads import (
    activity_by_delivery,
    resend_key_text,
    send_by_key,
    sends_of,
    sent_emails,
)
from contacts.addresses import normalise_email

TRANSACTIONAL_MESSAGE_ID = path_id(
    "transactional_message_id", "Identifier used to locate the transactional message."
)
RESEND_KEY = OpenApiParameter(
    "resend_key",
    {"type": "string", "format": "uuid"},
    OpenApiParameter.PATH,
    description="Key of the transactional message to resend.",
)
NOT_FOUND = "listId and transactionalMessageId"
SEND_NOT_FOUND = "listId, transactionalMessageId, and resendKey"
#: Longest ``Idempotency-Key`` header taken (Stripe's limit).
MAX_IDEMPOTENCY_KEY = 255
DATE_TYPES = ("Send", "Activity")

_schema = operation_schema("TransactionalMessage")
_activity_schema = operation_schema("TransactionalMessageActivity")
_resend_schema = operation_schema("TransactionalMessageResend")


@extend_schema_serializer(component_name="TransactionalMessage")
class TransactionalMessageSerializer(serializers.Serializer):
    transactionalMessageId = serializers.IntegerField()
    transactionalMessageName = serializers.CharField()
    campaignId = serializers.IntegerField(allow_null=True)
    externalCampaignId = serializers.CharField(allow_null=True)
    subject = serializers.CharField()


@extend_schema_serializer(component_name="TransactionalMessageContact")
class TransactionalMessageContactSerializer(ApiSerializer):
    emailAddress = ContactAddressField()
    segmentationFieldValues = SegmentationFieldValueSerializer(many=True, required=False)


@extend_schema_serializer(component_name="TransactionalMessageActivity")
class TransactionalMessageActivitySerializer(MessageActivitySerializer):
    resendKey = serializers.CharField()


def _message_data(message: TransactionalMessage) -> dict[str, Any]:
    return {
        "transactionalMessageId": message.pk,
        "transactionalMessageName": message.name,
        "campaignId": message.campaign_id,
        "externalCampaignId": message.external_campaign_id or None,
        "subject": message.message.subject,
    }


class _TransactionalView(ApiView):
    required_scopes: tuple[str, ...] = (Scope.LIST, Scope.MESSAGE)
    session_permissions = ("broadcasts.view_transactionalmessage",)

    def get_message(self, list_id: str, transactional_message_id: str) -> TransactionalMessage:
        email_list = self.get_list(list_id)
        pk = parse_id(transactional_message_id, "transactionalMessageId")
        found_message = (
            TransactionalMessage.objects.filter(pk=pk, list=email_list)
            .select_related("list", "message")
            .first()
        )
        return found(found_message, NOT_FOUND)

    def request_key(
        self, request: Request, message: TransactionalMessage, body: dict[str, Any]
    ) -> RequestKey | None:
        """This request's key: its ``Idempotency-Key`` header, else ``body``
        (already read), both with the API client sending it."""
        token = request.auth
        assert isinstance(token, AccessToken)  # only a bearer token may write (HasScopes)
        client_id = token.application_id
        header = request.META.get("HTTP_IDEMPOTENCY_KEY")
        if header is None:
            return body_key(client_id=client_id, transactional_message=message, body=body)
        header = header.strip()
        if not header or len(header) > MAX_IDEMPOTENCY_KEY or not header.isprintable():
            raise invalid(
                "Idempotency-Key",
                f"The Idempotency-Key header is 1 to {MAX_IDEMPOTENCY_KEY} printable "
                "characters, one per email you mean to send.",
            )
        return header_key(client_id=client_id, transactional_message=message, header=header)


class TransactionalMessageCollectionView(_TransactionalView):
    @_schema(
        "GetTransactionalMessageCollection",
        "Get all TransactionalMessages",
        parameters=[LIST_ID],
        responses=responses({200: collection(TransactionalMessageSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        messages = (
            TransactionalMessage.objects.filter(list=self.get_list(list_id))
            .select_related("message")
            .order_by("name", "id")
        )
        return self.ok([_message_data(m) for m in messages])


class TransactionalMessageView(_TransactionalView):
    @_schema(
        "GetTransactionalMessageResource",
        "Get a TransactionalMessage",
        parameters=[LIST_ID, TRANSACTIONAL_MESSAGE_ID],
        responses=responses({200: resource(TransactionalMessageSerializer)}),
    )
    def get(self, request: Request, list_id: str, transactional_message_id: str) -> Response:
        return self.ok(_message_data(self.get_message(list_id, transactional_message_id)))


class TransactionalSendView(_TransactionalView):
    @_schema(
        "PostTransactionalMessageSend",
        "Send a TransactionalMessage",
        parameters=[
            LIST_ID,
            TRANSACTIONAL_MESSAGE_ID,
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Any text naming this one email: the request sent again with "
                "it sends nothing more. Without it, the same body from the same client "
                "within TRANSACTIONAL_RETRY_SECONDS is the same send.",
            ),
        ],
        request=TransactionalMessageContactSerializer,
        responses=responses({201: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def post(self, request: Request, list_id: str, transactional_message_id: str) -> Response:
        message = self.get_message(list_id, transactional_message_id)
        data = validated(TransactionalMessageContactSerializer, self.body(request))
        try:
            address = normalise_email(data["emailAddress"])
        except ValidationError as error:
            raise invalid("emailAddress", " ".join(error.messages)) from None
        values = _values(data.get("segmentationFieldValues") or [])
        try:
            given = given_values(message, values)
        except ValidationError as error:
            raise invalid("segmentationFieldValues", " ".join(error.messages)) from None
        key = self.request_key(request, message, {"emailAddress": address, "values": given})
        # A refusal (a banned or suppressed address: ERROR_BANNED_EMAIL_ADDRESS,
        # ERROR_SUPPRESSED_EMAIL) leaves as a 400 with its code (api.errors).
        sent = send_transactional(
            transactional_message=message, email=address, values=values, request_key=key
        )
        return self.created(resend_key_text(sent.send))


def _values(given: list[dict[str, Any]]) -> dict[int, object]:
    """``{profile field id: value}``; a field given twice is Listrak's
    ``ERROR_SEGMENTATION_FIELD_DEFINED_TWICE``."""
    values: dict[int, object] = {}
    for item in given:
        field_id = item["segmentationFieldId"]
        if field_id in values:
            raise ApiError(
                f"segmentationFieldId {field_id} is given twice in segmentationFieldValues; "
                "give each profile field once.",
                code="ERROR_SEGMENTATION_FIELD_DEFINED_TWICE",
            )
        values[field_id] = item["value"]
    return values


class TransactionalResendView(_TransactionalView):
    @_resend_schema(
        "PostTransactionalMessageResend",
        "Resends a TransactionalMessage",
        parameters=[
            LIST_ID,
            TRANSACTIONAL_MESSAGE_ID,
            RESEND_KEY,
            OpenApiParameter(
                "forwardAddress",
                {"type": "string", "format": "email"},
                description="Where to send it; the original address when left out.",
            ),
        ],
        request=None,
        responses=responses({201: ResourceCreatedSerializer}),
    )
    def post(
        self, request: Request, list_id: str, transactional_message_id: str, resend_key: str
    ) -> Response:
        message = self.get_message(list_id, transactional_message_id)
        send = self._send(message, resend_key)
        if request.data not in ({}, None):  # an empty body (or none) is what clients send
            raise invalid(
                "the request body",
                "This route reads no body: give forwardAddress in the query string.",
            )
        forward = (request.query_params.get("forwardAddress") or "").strip()
        forward_to = None
        if forward:
            try:
                forward_to = normalise_email(forward)
            except ValidationError as error:
                raise invalid("forwardAddress", " ".join(error.messages)) from None
        body = {"resendKey": send.resend_key, "forwardAddress": forward_to}
        key = self.request_key(request, message, body)
        sent = resend(send=send, forward_to=forward_to, request_key=key)
        return self.created(resend_key_text(sent.send))

    def _send(self, message: TransactionalMessage, key: str) -> TransactionalSend:
        try:
            send = send_by_key(transactional_message=message, key=key)
        except ValueError:
            raise invalid("resendKey", f"resendKey is a UUID, not {key!r}.") from None
        if send is None:
            raise not_found(SEND_NOT_FOUND)
        return send

    def _check_body_headers(self, request: Request) -> None:
        # Listrak's clients post no body here (or an empty one): no Content-Type needed then.
        if int(request.META.get("CONTENT_LENGTH") or 0) == 0:
            return
        super()._check_body_headers(request)


class TransactionalActivityView(_TransactionalView):
    required_scopes = (Scope.LIST, Scope.MESSAGE, Scope.REPORT)

    @_activity_schema(
        "GetTransactionalMessageActivityCollection",
        "Get Transactional Message Activity",
        parameters=[
            LIST_ID,
            TRANSACTIONAL_MESSAGE_ID,
            ACTIVITY_TYPE,
            OpenApiParameter(
                "dateType",
                str,
                enum=list(DATE_TYPES),
                description="What startDate and endDate bound: the send (the default) or "
                "the activity.",
            ),
            *PAGING,
            *DATES,
            OpenApiParameter("emailAddress", {"type": "string", "format": "email"}),
        ],
        responses=responses({200: paged(TransactionalMessageActivitySerializer)}),
    )
    def get(self, request: Request, list_id: str, transactional_message_id: str) -> Response:
        message = self.get_message(list_id, transactional_message_id)
        params = request.query_params
        start, end = parse_period(params, message.list.zone)
        sent = sent_emails(
            transactional_message=message,
            start=start,
            end=end,
            by_activity=_date_type(params) == "Activity",
            with_activity=activity_kind(params),
            email=_email(params),
        )
        rows, cursor = pk_page(sent.select_related("contact"), params=params)
        activity = activity_by_delivery(
            transactional_message=message, delivery_ids=[d.pk for d in rows]
        )
        sends = sends_of(rows)
        data = [
            {**row, "resendKey": resend_key_text(sends[d.pk]) if d.pk in sends else None}
            for d, row in zip(rows, activity_rows(rows, activity), strict=True)
        ]
        return self.page(data, cursor)


def _date_type(params: Any) -> str:
    raw = (params.get("dateType") or "").strip()
    if not raw:
        return "Send"
    for name in DATE_TYPES:
        if name.lower() == raw.lower():
            return name
    raise invalid("dateType", f"dateType is Send or Activity, not {raw!r}.")


def _email(params: Any) -> str | None:
    raw = params.get("emailAddress")
    if raw is None or not raw.strip():
        return None
    try:
        return normalise_email(raw)
    except ValidationError as error:
        raise invalid("emailAddress", " ".join(error.messages)) from None


MESSAGE_ROUTE = "List/<list_id>/TransactionalMessage/<transactional_message_id>"

urlpatterns = [
    route("List/<list_id>/TransactionalMessage", TransactionalMessageCollectionView.as_view()),
    route(MESSAGE_ROUTE, TransactionalMessageView.as_view()),
    route(f"{MESSAGE_ROUTE}/Message", TransactionalSendView.as_view()),
    route(f"{MESSAGE_ROUTE}/Activity", TransactionalActivityView.as_view()),
    route(f"{MESSAGE_ROUTE}/Resend/<resend_key>", TransactionalResendView.as_view()),
]
