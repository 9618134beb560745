"""Profile fields, Listrak's "segmentation fields": ``SegmentationFieldGroup``
and ``SegmentationField`` (with ``/Values``) under ``List/{listId}``."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.functions import Length
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import INT32_MAX, ApiView, parse_id
from api.envelopes import (
    ResourceCreatedSerializer,
    ResourceDeletedSerializer,
    collection,
    resource,
    responses,
)
from api.errors import RESOURCE_DEPENDENCY, ApiError, invalid, not_found
from api.routes import route
from api.scopes import Scope
from api.serializers import ApiSerializer, TextField, WholeNumberField, validated
from api.views.lists import BODY_ERRORS, LIST_ID, path_id, save_named
from conductor.filters import ProfileText
from contacts.models import Contact
from contacts.services.cleanup import clear_field_values, delete_field
from lists.models import DataType, List, ProfileField, ProfileFieldGroup

GROUP_ID = path_id(
    "segmentation_field_group_id", "Identifier used to locate the profile field group."
)
FIELD_ID = path_id("segmentation_field_id", "Identifier used to locate the profile field.")
GROUP_NOT_FOUND = "listId and segmentationFieldGroupId"
FIELD_NOT_FOUND = "listId, segmentationFieldGroupId, and segmentationFieldId"

# Types whose values share one stored form (lists.field_types): a field may
# change between them while it holds values.
_TEXT = {DataType.TEXT, DataType.COMMENT_AREA, DataType.CONTENT_BLOCK}
_SWITCH = {DataType.CHECK_BOX, DataType.RADIO_BUTTON}


@extend_schema_serializer(component_name="SegmentationFieldGroup")
class FieldGroupSerializer(ApiSerializer):
    segmentationFieldGroupId = serializers.IntegerField(source="pk", read_only=True)
    segmentationFieldGroupName = TextField(source="name", max_length=100)
    position = WholeNumberField(min_value=0, max_value=INT32_MAX)


@extend_schema_serializer(component_name="SegmentationField")
class FieldSerializer(ApiSerializer):
    segmentationFieldId = serializers.IntegerField(source="pk", read_only=True)
    segmentationFieldName = TextField(source="name", max_length=100)
    segmentationFieldGroupId = serializers.IntegerField(source="group_id", read_only=True)
    dataType = serializers.ChoiceField(source="data_type", choices=DataType.values)
    maxLength = WholeNumberField(source="max_length", min_value=1, max_value=4000)
    position = WholeNumberField(min_value=0, max_value=INT32_MAX)


class _FieldsView(ApiView):
    required_scopes = (Scope.LIST, Scope.SEGMENTATION)

    def get_group(self, list_id: str, group_id: str) -> tuple[List, ProfileFieldGroup]:
        email_list = self.get_list(list_id)
        pk = parse_id(group_id, "segmentationFieldGroupId")
        group = ProfileFieldGroup.objects.filter(pk=pk, list=email_list).first()
        if group is None:
            raise not_found(GROUP_NOT_FOUND)
        return email_list, group

    def get_field(self, list_id: str, group_id: str, field_id: str) -> ProfileField:
        email_list, group = self.get_group(list_id, group_id)
        pk = parse_id(field_id, "segmentationFieldId")
        field = ProfileField.objects.filter(pk=pk, group=group, list=email_list).first()
        if field is None:
            raise not_found(FIELD_NOT_FOUND)
        return field


def _group_schema(operation: str, summary: str, **kwargs: Any) -> Any:
    return extend_schema(
        operation_id=f"SegmentationFieldGroup_{operation}",
        summary=summary,
        tags=["SegmentationFieldGroup"],
        **kwargs,
    )


def _field_schema(operation: str, summary: str, **kwargs: Any) -> Any:
    return extend_schema(
        operation_id=f"SegmentationField_{operation}",
        summary=summary,
        tags=["SegmentationField"],
        **kwargs,
    )


class FieldGroupCollectionView(_FieldsView):
    @_group_schema(
        "GetSegmentationFieldGroupCollection",
        "Get all Profile Field Groups",
        parameters=[LIST_ID],
        responses=responses({200: collection(FieldGroupSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        groups = ProfileFieldGroup.objects.filter(list=self.get_list(list_id))
        return self.ok(FieldGroupSerializer(groups.order_by("position", "id"), many=True).data)

    @_group_schema(
        "PostSegmentationFieldGroupResource",
        "Create a Profile Field Group",
        parameters=[LIST_ID],
        request=FieldGroupSerializer,
        responses=responses({201: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def post(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        data = validated(FieldGroupSerializer, self.body(request))
        group = ProfileFieldGroup(list=email_list, **data)
        save_named(
            group,
            fields=[],
            parameter="segmentationFieldGroupName",
            noun="segmentation field group",
            what="listId",
        )
        return self.created(group.pk)


class FieldGroupView(_FieldsView):
    @_group_schema(
        "GetSegmentationFieldGroupResource",
        "Get a Profile Field Group",
        parameters=[LIST_ID, GROUP_ID],
        responses=responses({200: resource(FieldGroupSerializer)}),
    )
    def get(self, request: Request, list_id: str, segmentation_field_group_id: str) -> Response:
        _, group = self.get_group(list_id, segmentation_field_group_id)
        return self.ok(FieldGroupSerializer(group).data)

    @_group_schema(
        "PutSegmentationFieldGroupResource",
        "Update a Profile Field Group",
        parameters=[LIST_ID, GROUP_ID],
        request=FieldGroupSerializer,
        responses=responses({200: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def put(self, request: Request, list_id: str, segmentation_field_group_id: str) -> Response:
        _, group = self.get_group(list_id, segmentation_field_group_id)
        data = validated(FieldGroupSerializer, self.body(request))
        for name, value in data.items():
            setattr(group, name, value)
        save_named(
            group,
            fields=list(data),
            parameter="segmentationFieldGroupName",
            noun="segmentation field group",
            what=GROUP_NOT_FOUND,
        )
        return self.updated(group.pk)

    @_group_schema(
        "DeleteSegmentationFieldGroupResource",
        "Delete a Profile Field Group",
        parameters=[LIST_ID, GROUP_ID],
        responses=responses({200: ResourceDeletedSerializer}),
    )
    def delete(self, request: Request, list_id: str, segmentation_field_group_id: str) -> Response:
        _, group = self.get_group(list_id, segmentation_field_group_id)
        with transaction.atomic():
            # Locked, so a field added meanwhile waits and then fails, rather
            # than being deleted with the group without its values cleared.
            ProfileFieldGroup.objects.select_for_update().filter(pk=group.pk).first()
            names = list(group.fields.order_by("position", "id").values_list("name", flat=True))
            if names:
                many = len(names) > 1
                raise ApiError(
                    f"The segmentation field group {group.name!r} still holds "
                    f"{len(names)} segmentation field{'s' if many else ''} "
                    f"({', '.join(names[:10])}{', …' if len(names) > 10 else ''}); "
                    f"delete {'them' if many else 'it'} first.",
                    code=RESOURCE_DEPENDENCY,
                )
            group.delete()
        return self.deleted()


class FieldCollectionView(_FieldsView):
    @_field_schema(
        "GetSegmentationFieldCollection",
        "Get all Profile Fields",
        parameters=[LIST_ID, GROUP_ID],
        responses=responses({200: collection(FieldSerializer)}),
    )
    def get(self, request: Request, list_id: str, segmentation_field_group_id: str) -> Response:
        _, group = self.get_group(list_id, segmentation_field_group_id)
        fields = group.fields.order_by("position", "id")
        return self.ok(FieldSerializer(fields, many=True).data)

    @_field_schema(
        "PostSegmentationFieldResource",
        "Create a Profile Field",
        parameters=[LIST_ID, GROUP_ID],
        request=FieldSerializer,
        responses=responses({201: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def post(self, request: Request, list_id: str, segmentation_field_group_id: str) -> Response:
        email_list, group = self.get_group(list_id, segmentation_field_group_id)
        data = validated(FieldSerializer, self.body(request))
        field = ProfileField(list=email_list, group=group, **data)
        save_named(
            field,
            fields=[],
            parameter="segmentationFieldName",
            noun="segmentation field",
            what=GROUP_NOT_FOUND,
        )
        return self.created(field.pk)


class FieldView(_FieldsView):
    @_field_schema(
        "GetSegmentationFieldResource",
        "Get a Profile Field",
        parameters=[LIST_ID, GROUP_ID, FIELD_ID],
        responses=responses({200: resource(FieldSerializer)}),
    )
    def get(
        self,
        request: Request,
        list_id: str,
        segmentation_field_group_id: str,
        segmentation_field_id: str,
    ) -> Response:
        field = self.get_field(list_id, segmentation_field_group_id, segmentation_field_id)
        return self.ok(FieldSerializer(field).data)

    @_field_schema(
        "PutSegmentationFieldResource",
        "Update a Profile Field",
        parameters=[LIST_ID, GROUP_ID, FIELD_ID],
        request=FieldSerializer,
        responses=responses({200: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def put(
        self,
        request: Request,
        list_id: str,
        segmentation_field_group_id: str,
        segmentation_field_id: str,
    ) -> Response:
        field = self.get_field(list_id, segmentation_field_group_id, segmentation_field_id)
        data = validated(FieldSerializer, self.body(request))
        _check_values_fit(field, DataType(data["data_type"]), data["max_length"])
        for name, value in data.items():
            setattr(field, name, value)
        save_named(
            field,
            fields=list(data),
            parameter="segmentationFieldName",
            noun="segmentation field",
            what=FIELD_NOT_FOUND,
        )
        return self.updated(field.pk)

    @_field_schema(
        "DeleteSegmentationFieldResource",
        "Delete a Profile Field",
        parameters=[LIST_ID, GROUP_ID, FIELD_ID],
        responses=responses({200: ResourceDeletedSerializer}),
    )
    def delete(
        self,
        request: Request,
        list_id: str,
        segmentation_field_group_id: str,
        segmentation_field_id: str,
    ) -> Response:
        field = self.get_field(list_id, segmentation_field_group_id, segmentation_field_id)
        delete_field(field=field)
        return self.deleted()


class FieldValuesView(_FieldsView):
    @_field_schema(
        "DeleteSegmentationFieldValuesResource",
        "Delete Profile Field Values",
        description="Clears the profile field's value on every contact of the list.",
        parameters=[LIST_ID, GROUP_ID, FIELD_ID],
        responses=responses({200: ResourceCreatedSerializer}),
    )
    def delete(
        self,
        request: Request,
        list_id: str,
        segmentation_field_group_id: str,
        segmentation_field_id: str,
    ) -> Response:
        field = self.get_field(list_id, segmentation_field_group_id, segmentation_field_id)
        clear_field_values(field=field)
        return self.updated(field.pk)


def _check_values_fit(field: ProfileField, data_type: DataType, max_length: int) -> None:
    """Refuse a new type or length that the values contacts already hold
    would not fit (they were cleaned for the old ones)."""
    old_type = DataType(field.data_type)
    holders = Contact.objects.filter(list_id=field.list_id, profile__has_key=field.key)
    same_form = {old_type, data_type} <= _TEXT or {old_type, data_type} <= _SWITCH
    if old_type != data_type and not same_form and holders.exists():
        raise invalid(
            "dataType",
            f"Contacts hold {old_type} values in {field.name!r}; clear them "
            "(DELETE …/Values) before changing the field to "
            f"{data_type}.",
        )
    if data_type in _TEXT and max_length < field.max_length:
        longer = holders.alias(length=Length(ProfileText(field.key))).filter(length__gt=max_length)
        if longer.exists():
            raise invalid(
                "maxLength",
                f"Some contacts hold values of {field.name!r} longer than {max_length} "
                "characters; shorten or clear them first.",
            )


_GROUP = "List/<list_id>/SegmentationFieldGroup/<segmentation_field_group_id>"
_FIELD = f"{_GROUP}/SegmentationField/<segmentation_field_id>"
urlpatterns = [
    route("List/<list_id>/SegmentationFieldGroup", FieldGroupCollectionView.as_view()),
    route(_GROUP, FieldGroupView.as_view()),
    route(f"{_GROUP}/SegmentationField", FieldCollectionView.as_view()),
    route(_FIELD, FieldView.as_view()),
    route(f"{_FIELD}/Values", FieldValuesView.as_view()),
]
