"""``List/{listId}/Contact``: read contacts a page at a time, create or update
one with Listrak's rules, and read one by address or email key."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import INT32_MAX, ApiView, parse_bool
from api.envelopes import PAGING, ResourceCreatedSerializer, paged, resource, responses
from api.errors import ApiError, found, invalid
from api.paging import keyset_page
from api.params import EnumField, parse_ids, parse_period
from api.routes import route
from api.scopes import Scope
from api.serializers import ApiSerializer, ContactAddressField, TextField, validated
from api.views.lists import BODY_ERRORS
from contacts.models import Contact, SubscriptionState
from contacts.selectors import (
    contact_by_identifier,
    events_by_id,
    list_contacts,
    profile_fields_by_id,
)
from contacts.services.profile import UpdateType
from contacts.services.upsert import save_contact
from lists.models import Event, List, ProfileField

MAX_FIELDS = 30


class SegmentationFieldValueSerializer(ApiSerializer):
    segmentationFieldGroupId = serializers.IntegerField(read_only=True)
    segmentationFieldId = serializers.IntegerField(min_value=1, max_value=INT32_MAX)
    value = serializers.CharField(allow_blank=True, allow_null=True, trim_whitespace=False)


class ContactSerializer(ApiSerializer):
    emailAddress = ContactAddressField()
    emailKey = serializers.CharField(read_only=True)
    universalEmailKey = serializers.CharField(read_only=True)
    subscriptionState = EnumField(
        [SubscriptionState.SUBSCRIBED, SubscriptionState.UNSUBSCRIBED],
        required=False,
        allow_null=True,
    )
    subscribeDate = serializers.DateTimeField(read_only=True, allow_null=True)
    resubscribeDate = serializers.DateTimeField(read_only=True, allow_null=True)
    subscribeMethod = serializers.CharField(read_only=True, allow_null=True)
    unsubscribeDate = serializers.DateTimeField(read_only=True, allow_null=True)
    unsubscribeMethod = serializers.CharField(read_only=True, allow_null=True)
    externalContactID = TextField(required=False, allow_blank=True, allow_null=True, max_length=100)
    segmentationFieldValues = SegmentationFieldValueSerializer(many=True, required=False)


def _iso(value: datetime.datetime | None) -> str | None:
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z") if value else None


def contact_data(contact: Contact, fields: list[ProfileField]) -> dict[str, Any]:
    """A contact in Listrak's shape, with the values of ``fields``."""
    return {
        "emailAddress": contact.email,
        "emailKey": contact.email_key,
        "universalEmailKey": contact.universal_email_key,
        "subscriptionState": contact.state,
        "subscribeDate": _iso(contact.subscribed_at),
        "resubscribeDate": _iso(contact.resubscribed_at),
        "subscribeMethod": contact.subscribe_method or None,
        "unsubscribeDate": _iso(contact.unsubscribed_at),
        "unsubscribeMethod": contact.unsubscribe_method or None,
        "externalContactID": contact.external_contact_id or None,
        "segmentationFieldValues": [
            {
                "segmentationFieldGroupId": field.group_id,
                "segmentationFieldId": field.pk,
                "value": contact.profile.get(field.key, ""),
            }
            for field in fields
        ],
    }


def requested_fields(email_list: List, params: Any) -> list[ProfileField]:
    """The profile fields named by ``segmentationFieldIds`` (none when absent)."""
    ids = parse_ids(params, "segmentationFieldIds")
    if len(set(ids)) > MAX_FIELDS:
        raise ApiError(
            f"At most {MAX_FIELDS} profile fields may be requested at once, not {len(set(ids))}.",
            code="ERROR_TOO_MANY_SEGMENTATION_FIELDS",
        )
    by_id = profile_fields_by_id(email_list=email_list, ids=ids)
    missing = [str(i) for i in ids if i not in by_id]
    if missing:
        raise invalid(
            "segmentationFieldIds",
            f"{', '.join(missing)} {'is not a profile field' if len(missing) == 1 else 'are not profile fields'} of list {email_list.pk}.",  # noqa: E501
        )
    return [by_id[i] for i in dict.fromkeys(ids)]


def _events(email_list: List, params: Any) -> list[Event]:
    ids = list(dict.fromkeys(parse_ids(params, "eventIds")))
    by_id = events_by_id(email_list=email_list, ids=ids)
    missing = [str(i) for i in ids if i not in by_id]
    if missing:
        raise invalid("eventIds", f"No event {', '.join(missing)} on list {email_list.pk}.")
    return [by_id[i] for i in ids]


def _update_type(params: Any) -> UpdateType:
    raw = (params.get("updateType") or "").strip()
    if not raw:
        return UpdateType.UPDATE
    for update_type in UpdateType:
        if update_type.value.lower() == raw.lower():
            return update_type
    raise invalid("updateType", "Use Update, Append or Overwrite.")


def _requested_contacts(email_list: List, params: Any) -> QuerySet[Contact]:
    """The contacts a collection request asks for (``subscriptionState``,
    ``externalContactId``, the dates and which subscribe date they bound)."""
    state = (params.get("subscriptionState") or SubscriptionState.SUBSCRIBED).strip()
    states = {s.lower(): s for s in (SubscriptionState.SUBSCRIBED, SubscriptionState.UNSUBSCRIBED)}
    if state.lower() not in states:
        raise invalid("subscriptionState", "Use Subscribed or Unsubscribed.")
    start, end = parse_period(params, email_list.zone)
    return list_contacts(
        email_list=email_list,
        state=states[state.lower()],
        external_contact_id=params.get("externalContactId") or "",
        start=start,
        end=end,
        # Read even when no date needs it: a bad value is refused, never ignored.
        use_original_subscribe_date=parse_bool(params, "useOriginalSubscribeDate", default=True),
    )


_FIELD_IDS = OpenApiParameter(
    "segmentationFieldIds", str, description="Comma-separated profile field ids (at most 30)."
)


class ContactCollectionView(ApiView):
    required_scopes = (Scope.CONTACT,)

    @extend_schema(
        operation_id="Contact_GetContactCollection",
        tags=["Contact"],
        parameters=[
            OpenApiParameter("subscriptionState", str, enum=["Subscribed", "Unsubscribed"]),
            OpenApiParameter("externalContactId", str),
            _FIELD_IDS,
            *PAGING,
            OpenApiParameter("startDate", str),
            OpenApiParameter("endDate", str),
            OpenApiParameter("useOriginalSubscribeDate", bool),
        ],
        responses=responses({200: paged(ContactSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        params = request.query_params
        fields = requested_fields(email_list, params)
        rows, cursor = keyset_page(
            _requested_contacts(email_list, params),
            params=params,
            key=["email"],
            after=lambda qs, start: qs.filter(email__gt=str(start[0])),
            key_of=lambda contact: [contact.email],
        )
        return self.page([contact_data(c, fields) for c in rows], cursor)

    @extend_schema(
        operation_id="Contact_PostContactResource",
        tags=["Contact"],
        request=ContactSerializer,
        parameters=[
            OpenApiParameter("eventIds", str, description="Comma-separated event ids to fire."),
            OpenApiParameter("overrideUnsubscribe", bool),
            OpenApiParameter("subscribedByContact", bool),
            OpenApiParameter("sendDoubleOptIn", bool),
            OpenApiParameter("updateType", str, enum=["Update", "Append", "Overwrite"]),
            OpenApiParameter("newEmailAddress", {"type": "string", "format": "email"}),
        ],
        responses=responses({201: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def post(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        data = validated(ContactSerializer, self.body(request))
        params = request.query_params
        new_email = params.get("newEmailAddress")
        contact = save_contact(
            email_list=email_list,
            email=data["emailAddress"],
            state=data.get("subscriptionState"),
            external_contact_id=data.get("externalContactID"),
            values={
                v["segmentationFieldId"]: v["value"]
                for v in data.get("segmentationFieldValues", [])
            },
            events=_events(email_list, params),
            override_unsubscribe=parse_bool(params, "overrideUnsubscribe"),
            subscribed_by_contact=parse_bool(params, "subscribedByContact"),
            double_opt_in=parse_bool(params, "sendDoubleOptIn"),
            update_type=_update_type(params),
            new_email=new_email if new_email not in (None, "") else None,
        )
        return self.created(contact.email)


class ContactResourceView(ApiView):
    required_scopes = (Scope.CONTACT,)

    @extend_schema(
        operation_id="Contact_GetContactResourceByIdentifier",
        tags=["Contact"],
        parameters=[
            _FIELD_IDS,
        ],
        responses=responses({200: resource(ContactSerializer)}),
    )
    def get(self, request: Request, list_id: str, identifier: str) -> Response:
        email_list = self.get_list(list_id)
        fields = requested_fields(email_list, request.query_params)
        contact = contact_by_identifier(email_list=email_list, identifier=identifier.strip())
        return self.ok(contact_data(found(contact, "listId and contactIdentifier"), fields))


urlpatterns = [
    route("List/<list_id>/Contact", ContactCollectionView.as_view()),
    route("List/<list_id>/Contact/<identifier>", ContactResourceView.as_view()),
]
