"""``List/{listId}/Contact``: read contacts a page at a time, create or update
one with Listrak's rules, and read one by address or email key."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import INT32_MAX, ApiView, parse_bool, parse_id
from api.envelopes import PAGING, ResourceCreatedSerializer, paged, resource, responses
from api.errors import ApiError, invalid, not_found
from api.paging import keyset_page
from api.params import EnumField, parse_moment
from api.routes import route
from api.scopes import Scope
from api.serializers import ApiSerializer, ContactAddressField, TextField, validated
from api.views.lists import BODY_ERRORS
from contacts.models import Contact, SubscriptionState
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
    raw = (params.get("segmentationFieldIds") or "").strip()
    if not raw:
        return []
    ids = [parse_id(part, "segmentationFieldIds") for part in raw.split(",") if part.strip()]
    if len(set(ids)) > MAX_FIELDS:
        raise ApiError(
            f"At most {MAX_FIELDS} profile fields may be requested at once, not {len(set(ids))}.",
            code="ERROR_TOO_MANY_SEGMENTATION_FIELDS",
        )
    found = {f.pk: f for f in ProfileField.objects.filter(list=email_list, pk__in=ids)}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise invalid(
            "segmentationFieldIds",
            f"{', '.join(missing)} {'is not a profile field' if len(missing) == 1 else 'are not profile fields'} of list {email_list.pk}.",  # noqa: E501
        )
    return [found[i] for i in dict.fromkeys(ids)]


def _events(email_list: List, params: Any) -> list[Event]:
    raw = (params.get("eventIds") or "").strip()
    if not raw:
        return []
    ids = list(dict.fromkeys(parse_id(p, "eventIds") for p in raw.split(",") if p.strip()))
    found = {e.pk: e for e in Event.objects.filter(list=email_list, pk__in=ids)}
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise invalid("eventIds", f"No event {', '.join(missing)} on list {email_list.pk}.")
    return [found[i] for i in ids]


def _update_type(params: Any) -> UpdateType:
    raw = (params.get("updateType") or "").strip()
    if not raw:
        return UpdateType.UPDATE
    for update_type in UpdateType:
        if update_type.value.lower() == raw.lower():
            return update_type
    raise invalid("updateType", "Use Update, Append or Overwrite.")


def _filtered(email_list: List, params: Any) -> QuerySet[Contact]:
    state = (params.get("subscriptionState") or SubscriptionState.SUBSCRIBED).strip()
    states = {s.lower(): s for s in (SubscriptionState.SUBSCRIBED, SubscriptionState.UNSUBSCRIBED)}
    if state.lower() not in states:
        raise invalid("subscriptionState", "Use Subscribed or Unsubscribed.")
    state = states[state.lower()]
    contacts = Contact.objects.filter(list=email_list, state=state)
    external = params.get("externalContactId")
    if external:
        contacts = contacts.filter(external_contact_id=external)
    zone = email_list.zone
    start = parse_moment(params, "startDate", zone, end_of_day=False)
    end = parse_moment(params, "endDate", zone, end_of_day=True)
    # Read even when no date needs it: a bad value is refused, never ignored.
    original = parse_bool(params, "useOriginalSubscribeDate", default=True)
    if start is None and end is None:
        return contacts
    if state == SubscriptionState.UNSUBSCRIBED:
        column = "unsubscribed_at"
    elif original:
        column = "subscribed_at"
    else:
        contacts = contacts.annotate(latest_subscribe=Coalesce("resubscribed_at", "subscribed_at"))
        column = "latest_subscribe"
    if start is not None:
        contacts = contacts.filter(**{f"{column}__gte": start})
    if end is not None:
        contacts = contacts.filter(**{f"{column}__lte": end})
    return contacts


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
            _filtered(email_list, params),
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
        identifier = identifier.strip()
        if "@" in identifier:
            contact = Contact.objects.filter(list=email_list, email=identifier.lower()).first()
        else:
            contact = Contact.objects.filter(list=email_list, email_key=identifier).first()
        if contact is None:
            raise not_found("listId and contactIdentifier")
        return self.ok(contact_data(contact, fields))


urlpatterns = [
    route("List/<list_id>/Contact", ContactCollectionView.as_view()),
    route("List/<list_id>/Contact/<identifier>", ContactResourceView.as_view()),
]
