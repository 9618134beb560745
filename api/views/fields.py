"""Profile fields, Listrak's "segmentation fields": ``SegmentationFieldGroup``
and ``SegmentationField`` (with ``/Values``) under ``List/{listId}``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import INT32_MAX, ApiView, parse_id
from api.envelopes import (
    ResourceCreatedSerializer,
    ResourceDeletedSerializer,
    collection,
    operation_schema,
    resource,
    responses,
)
from api.errors import RESOURCE_DEPENDENCY, ApiError, found, invalid
from api.routes import route
from api.scopes import Scope
from api.serializers import ApiSerializer, TextField, WholeNumberField, validated
from api.views.lists import BODY_ERRORS, LIST_ID, path_id, refused_as
from contacts.services import (
    ValuesOfAnotherType,
    ValuesTooLong,
    change_field,
    clear_field_values,
    delete_field,
)
from lists.models import DataType, ProfileField, ProfileFieldGroup
from lists.services import (
    FieldGroupNotEmpty,
    create_field,
    create_field_group,
    delete_field_group,
    update_field_group,
)

GROUP_ID = path_id(
    "segmentation_field_group_id", "Identifier used to locate the profile field group."
)
FIELD_ID = path_id("segmentation_field_id", "Identifier used to locate the profile field.")
GROUP_NOT_FOUND = "listId and segmentationFieldGroupId"
FIELD_NOT_FOUND = "listId, segmentationFieldGroupId, and segmentationFieldId"


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

    def get_group(self, list_id: str, segmentation_field_group_id: str) -> ProfileFieldGroup:
        return self.get_in_list(
            ProfileFieldGroup, list_id, segmentation_field_group_id, "segmentationFieldGroupId"
        )

    def get_field(
        self, list_id: str, segmentation_field_group_id: str, segmentation_field_id: str
    ) -> ProfileField:
        group = self.get_group(list_id, segmentation_field_group_id)
        pk = parse_id(segmentation_field_id, "segmentationFieldId")
        field = ProfileField.objects.filter(pk=pk, group=group, list_id=group.list_id).first()
        return found(field, FIELD_NOT_FOUND)


_group_schema = operation_schema("SegmentationFieldGroup")
_field_schema = operation_schema("SegmentationField")


def _group_rules(what: str) -> AbstractContextManager[None]:
    return refused_as(
        parameter="segmentationFieldGroupName", noun="segmentation field group", what=what
    )


@contextmanager
def _field_rules(what: str) -> Iterator[None]:
    """The services' refusals of a field's write, as this API words them."""
    try:
        with refused_as(parameter="segmentationFieldName", noun="segmentation field", what=what):
            yield
    except ValuesOfAnotherType as misfit:
        raise invalid(
            "dataType",
            f"Contacts hold {misfit.old_type} values in {misfit.field_name!r}; clear them "
            "(DELETE …/Values) before changing the field to "
            f"{misfit.data_type}.",
        ) from None
    except ValuesTooLong as misfit:
        raise invalid(
            "maxLength",
            f"Some contacts hold values of {misfit.field_name!r} longer than "
            f"{misfit.max_length} characters; shorten or clear them first.",
        ) from None


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
        with _group_rules("listId"):
            group = create_field_group(email_list=email_list, **data)
        return self.created(group.pk)


class FieldGroupView(_FieldsView):
    @_group_schema(
        "GetSegmentationFieldGroupResource",
        "Get a Profile Field Group",
        parameters=[LIST_ID, GROUP_ID],
        responses=responses({200: resource(FieldGroupSerializer)}),
    )
    def get(self, request: Request, list_id: str, segmentation_field_group_id: str) -> Response:
        group = self.get_group(list_id, segmentation_field_group_id)
        return self.ok(FieldGroupSerializer(group).data)

    @_group_schema(
        "PutSegmentationFieldGroupResource",
        "Update a Profile Field Group",
        parameters=[LIST_ID, GROUP_ID],
        request=FieldGroupSerializer,
        responses=responses({200: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def put(self, request: Request, list_id: str, segmentation_field_group_id: str) -> Response:
        group = self.get_group(list_id, segmentation_field_group_id)
        data = validated(FieldGroupSerializer, self.body(request))
        with _group_rules(GROUP_NOT_FOUND):
            update_field_group(group=group, **data)
        return self.updated(group.pk)

    @_group_schema(
        "DeleteSegmentationFieldGroupResource",
        "Delete a Profile Field Group",
        parameters=[LIST_ID, GROUP_ID],
        responses=responses({200: ResourceDeletedSerializer}),
    )
    def delete(self, request: Request, list_id: str, segmentation_field_group_id: str) -> Response:
        group = self.get_group(list_id, segmentation_field_group_id)
        try:
            delete_field_group(group=group)
        except FieldGroupNotEmpty as refusal:
            words = refusal.worded("segmentation field group", "segmentation field")
            raise ApiError(words, code=RESOURCE_DEPENDENCY) from None
        return self.deleted()


class FieldCollectionView(_FieldsView):
    @_field_schema(
        "GetSegmentationFieldCollection",
        "Get all Profile Fields",
        parameters=[LIST_ID, GROUP_ID],
        responses=responses({200: collection(FieldSerializer)}),
    )
    def get(self, request: Request, list_id: str, segmentation_field_group_id: str) -> Response:
        group = self.get_group(list_id, segmentation_field_group_id)
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
        group = self.get_group(list_id, segmentation_field_group_id)
        data = validated(FieldSerializer, self.body(request))
        with _field_rules(GROUP_NOT_FOUND):
            field = create_field(group=group, **data)
        return self.created(field.pk)


class FieldView(_FieldsView):
    @_field_schema(
        "GetSegmentationFieldResource",
        "Get a Profile Field",
        parameters=[LIST_ID, GROUP_ID, FIELD_ID],
        responses=responses({200: resource(FieldSerializer)}),
    )
    def get(self, request: Request, **path: str) -> Response:
        field = self.get_field(**path)
        return self.ok(FieldSerializer(field).data)

    @_field_schema(
        "PutSegmentationFieldResource",
        "Update a Profile Field",
        parameters=[LIST_ID, GROUP_ID, FIELD_ID],
        request=FieldSerializer,
        responses=responses({200: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def put(self, request: Request, **path: str) -> Response:
        field = self.get_field(**path)
        data = validated(FieldSerializer, self.body(request))
        with _field_rules(FIELD_NOT_FOUND):
            change_field(field=field, **data)
        return self.updated(field.pk)

    @_field_schema(
        "DeleteSegmentationFieldResource",
        "Delete a Profile Field",
        parameters=[LIST_ID, GROUP_ID, FIELD_ID],
        responses=responses({200: ResourceDeletedSerializer}),
    )
    def delete(self, request: Request, **path: str) -> Response:
        field = self.get_field(**path)
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
    def delete(self, request: Request, **path: str) -> Response:
        field = self.get_field(**path)
        clear_field_values(field=field)
        return self.updated(field.pk)


_GROUP = "List/<list_id>/SegmentationFieldGroup/<segmentation_field_group_id>"
_FIELD = f"{_GROUP}/SegmentationField/<segmentation_field_id>"
urlpatterns = [
    route("List/<list_id>/SegmentationFieldGroup", FieldGroupCollectionView.as_view()),
    route(_GROUP, FieldGroupView.as_view()),
    route(f"{_GROUP}/SegmentationField", FieldCollectionView.as_view()),
    route(_FIELD, FieldView.as_view()),
    route(f"{_FIELD}/Values", FieldValuesView.as_view()),
]
