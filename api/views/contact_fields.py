"""``POST List/{listId}/Contact/SegmentationField``: profile values for many
contacts at once, applied by a background list import (an
``UpdateSubscribers`` import with ``Update`` semantics, as Listrak does), whose
id is returned so the client can follow it under ``ListImport``."""

from __future__ import annotations

import csv
import io

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import INT32_MAX, ApiView
from api.envelopes import ResourceCreatedSerializer, responses
from api.errors import invalid
from api.routes import route
from api.scopes import Scope
from api.serializers import ApiSerializer, ContactAddressField, validated
from api.views.lists import BODY_ERRORS
from contacts.addresses import normalise_email
from contacts.imports.models import ImportType, ListImport, SegmentationImportType
from contacts.imports.tasks import enqueue_import
from lists.models import List
from lists.profile_schema import ProfileSchema

MAX_CONTACTS = 10_000


class ContactSegmentationFieldValueSerializer(ApiSerializer):
    segmentationFieldId = serializers.IntegerField(min_value=1, max_value=INT32_MAX)
    value = serializers.CharField(allow_blank=True, allow_null=True, trim_whitespace=False)


class ContactSegmentationFieldValuesSerializer(ApiSerializer):
    emailAddress = ContactAddressField()
    segmentationFieldValues = ContactSegmentationFieldValueSerializer(many=True)


def _csv(email_list: List, rows: list[dict]) -> tuple[bytes, dict[str, int]]:
    """The rows as an import file (address, then one column per field) and
    its field map; every value is checked against its field first."""
    schema = ProfileSchema(email_list)
    field_ids: dict[int, int] = {}  # field id -> column
    for index, row in enumerate(rows):
        try:
            normalise_email(row["emailAddress"])
            schema.clean(
                {v["segmentationFieldId"]: v["value"] for v in row["segmentationFieldValues"]}
            )
        except ValidationError as error:
            raise invalid(f"item {index}", " ".join(error.messages)) from None
        for value in row["segmentationFieldValues"]:
            field_ids.setdefault(value["segmentationFieldId"], len(field_ids) + 1)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", *(f"field {f}" for f in field_ids)])
    for row in rows:
        cells = [""] * (len(field_ids) + 1)
        cells[0] = row["emailAddress"]
        for value in row["segmentationFieldValues"]:
            cells[field_ids[value["segmentationFieldId"]]] = value["value"] or ""
        writer.writerow(cells)
    return out.getvalue().encode(), {str(column): f for f, column in field_ids.items()}


class ContactSegmentationFieldView(ApiView):
    required_scopes = (Scope.CONTACT,)

    @extend_schema(
        operation_id="ContactSegmentationField_PostContactSegmentationFieldValuesResource",
        tags=["ContactSegmentationField"],
        request=ContactSegmentationFieldValuesSerializer(many=True),
        responses=responses({201: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def post(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        data = request.data
        if not isinstance(data, list):
            raise exceptions.ParseError("The request body must be a JSON array of contacts.")
        if not 1 <= len(data) <= MAX_CONTACTS:
            raise invalid("the body", f"Send 1 to {MAX_CONTACTS:,} contacts, not {len(data):,}.")
        rows = validated(ContactSegmentationFieldValuesSerializer, data, many=True)
        content, field_map = _csv(email_list, rows)
        with transaction.atomic():
            list_import = ListImport(
                list=email_list,
                file_name="Contact/SegmentationField",
                import_type=ImportType.UPDATE_SUBSCRIBERS,
                segmentation_type=SegmentationImportType.UPDATE,
                delimiter=",",
                has_header=True,
                email_column="0",
                field_map=field_map,
            )
            list_import.file.save("profile-values.csv", ContentFile(content), save=False)
            list_import.save()
            enqueue_import(list_import)
        return self.created(list_import.pk)


urlpatterns = [
    route("List/<list_id>/Contact/SegmentationField", ContactSegmentationFieldView.as_view()),
]
