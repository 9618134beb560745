"""External events and their groups: ``Event`` and ``EventGroup`` under
``List/{listId}``. Listrak has no DELETE for an event: block it instead."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import INT32_MAX, ApiView
from api.envelopes import (
    ResourceCreatedSerializer,
    ResourceDeletedSerializer,
    collection,
    operation_schema,
    resource,
    responses,
)
from api.errors import invalid
from api.routes import route
from api.scopes import Scope
from api.serializers import ApiSerializer, TextField, WholeNumberField, validated
from api.views.lists import BODY_ERRORS, LIST_ID, path_id, refused_as
from lists.models import Event, EventGroup, EventStatus, List
from lists.services import (
    UnknownEventGroup,
    create_event,
    create_event_group,
    delete_event_group,
    update_event,
    update_event_group,
)

EVENT_ID = path_id("event_id", "Identifier used to locate the event.")
EVENT_GROUP_ID = path_id("event_group_id", "Identifier used to locate the event group.")
EVENT_NOT_FOUND = "listId and eventId"
EVENT_GROUP_NOT_FOUND = "listId and eventGroupId"


@extend_schema_field(
    {
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": INT32_MAX,
        "nullable": True,
        "description": "Identifier of the event group associated with the event; "
        "null (or 0) for none.",
    }
)
class EventGroupIdField(WholeNumberField):
    """An event group of the list, or none: null, or 0 as a .NET client sends it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=INT32_MAX, allow_null=True, **kwargs)


@extend_schema_serializer(component_name="Event")
class EventSerializer(ApiSerializer):
    eventId = serializers.IntegerField(source="pk", read_only=True)
    eventName = TextField(source="name", max_length=100)
    eventGroupId = EventGroupIdField(source="group_id", required=False)
    status = serializers.ChoiceField(choices=EventStatus.values)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("group_id") == 0:
            attrs["group_id"] = None  # 0 is "none" to a .NET client
        return attrs


@extend_schema_serializer(component_name="EventGroup")
class EventGroupSerializer(ApiSerializer):
    eventGroupId = serializers.IntegerField(source="pk", read_only=True)
    eventGroupName = TextField(source="name", max_length=100)


class _EventsView(ApiView):
    required_scopes = (Scope.LIST, Scope.EVENT)

    def get_event(self, list_id: str, event_id: str) -> Event:
        return self.get_in_list(Event, list_id, event_id, "eventId")

    def get_event_group(self, list_id: str, event_group_id: str) -> EventGroup:
        return self.get_in_list(EventGroup, list_id, event_group_id, "eventGroupId")


_event_schema = operation_schema("Event")
_group_schema = operation_schema("EventGroup")


@contextmanager
def _event_rules(what: str) -> Iterator[None]:
    try:
        with refused_as(parameter="eventName", noun="event", what=what):
            yield
    except UnknownEventGroup as unknown:
        raise invalid("eventGroupId", unknown.worded()) from None


def _group_rules(what: str) -> AbstractContextManager[None]:
    return refused_as(parameter="eventGroupName", noun="event group", what=what)


class EventCollectionView(_EventsView):
    @_event_schema(
        "GetEventCollection",
        "Get all Events",
        parameters=[LIST_ID],
        responses=responses({200: collection(EventSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        events = Event.objects.filter(list=self.get_list(list_id)).order_by("name", "id")
        return self.ok(EventSerializer(events, many=True).data)

    @_event_schema(
        "PostEventResource",
        "Create an Event",
        parameters=[LIST_ID],
        request=EventSerializer,
        responses=responses({201: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def post(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        data = validated(EventSerializer, self.body(request))
        with _event_rules(EVENT_NOT_FOUND):
            event = create_event(email_list=email_list, **data)
        return self.created(event.pk)


class EventView(_EventsView):
    @_event_schema(
        "GetEventResource",
        "Get an Event",
        parameters=[LIST_ID, EVENT_ID],
        responses=responses({200: resource(EventSerializer)}),
    )
    def get(self, request: Request, list_id: str, event_id: str) -> Response:
        return self.ok(EventSerializer(self.get_event(list_id, event_id)).data)

    @_event_schema(
        "PutEventResource",
        "Update an Event",
        parameters=[LIST_ID, EVENT_ID],
        request=EventSerializer,
        responses=responses({200: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def put(self, request: Request, list_id: str, event_id: str) -> Response:
        event = self.get_event(list_id, event_id)
        data = validated(EventSerializer, self.body(request))
        # Left out, eventGroupId keeps the event's group; null or 0 removes it.
        with _event_rules(EVENT_NOT_FOUND):
            update_event(event=event, **data)
        return self.updated(event.pk)


class EventGroupCollectionView(_EventsView):
    @_group_schema(
        "GetEventGroupCollection",
        "Get all Event Groups",
        parameters=[LIST_ID],
        responses=responses({200: collection(EventGroupSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        groups = EventGroup.objects.filter(list=self.get_list(list_id)).order_by("name", "id")
        return self.ok(EventGroupSerializer(groups, many=True).data)

    @_group_schema(
        "PostEventGroupResource",
        "Create an Event Group",
        parameters=[LIST_ID],
        request=EventGroupSerializer,
        responses=responses({201: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def post(self, request: Request, list_id: str) -> Response:
        email_list: List = self.get_list(list_id)
        data = validated(EventGroupSerializer, self.body(request))
        with _group_rules(EVENT_GROUP_NOT_FOUND):
            group = create_event_group(email_list=email_list, **data)
        return self.created(group.pk)


class EventGroupView(_EventsView):
    @_group_schema(
        "GetEventGroupResource",
        "Get an Event Group",
        parameters=[LIST_ID, EVENT_GROUP_ID],
        responses=responses({200: resource(EventGroupSerializer)}),
    )
    def get(self, request: Request, list_id: str, event_group_id: str) -> Response:
        return self.ok(EventGroupSerializer(self.get_event_group(list_id, event_group_id)).data)

    @_group_schema(
        "PutEventGroupResource",
        "Update an Event Group",
        parameters=[LIST_ID, EVENT_GROUP_ID],
        request=EventGroupSerializer,
        responses=responses({200: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def put(self, request: Request, list_id: str, event_group_id: str) -> Response:
        group = self.get_event_group(list_id, event_group_id)
        data = validated(EventGroupSerializer, self.body(request))
        with _group_rules(EVENT_GROUP_NOT_FOUND):
            update_event_group(group=group, **data)
        return self.updated(group.pk)

    @_group_schema(
        "DeleteEventGroupResource",
        "Delete an Event Group",
        parameters=[LIST_ID, EVENT_GROUP_ID],
        responses=responses({200: ResourceDeletedSerializer}),
    )
    def delete(self, request: Request, list_id: str, event_group_id: str) -> Response:
        # A group that still holds events is refused with the service's own
        # words and code (ERROR_RESOURCE_DEPENDENCY), through the API's error handler.
        delete_event_group(group=self.get_event_group(list_id, event_group_id))
        return self.deleted()


urlpatterns = [
    route("List/<list_id>/Event", EventCollectionView.as_view()),
    route("List/<list_id>/Event/<event_id>", EventView.as_view()),
    route("List/<list_id>/EventGroup", EventGroupCollectionView.as_view()),
    route("List/<list_id>/EventGroup/<event_group_id>", EventGroupView.as_view()),
]
