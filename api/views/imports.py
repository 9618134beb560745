"""``List/{listId}/ListImport``: start an import of a file into a list and
follow it (``/Status``, ``/Summary``, ``/Contact``).

A POST carries the whole file, Base64-encoded in ``fileStream``; it is checked
at once (api.import_files) and stored, and a django-q2 worker runs the same
importer as the admin upload and the import command.

Where Listrak's reference is silent:

- **Event columns.** ImportFileMapping has no event id. An ``Event`` column
  fires the event its header names (an Event of the list, matched by name in
  any case) when ``hasColumnNames`` is true; a mapping may instead give this
  server's optional ``eventId``, which a file without column names needs. A
  non-blank cell fires the event for the row's contact. An unknown event is a
  400 naming the column.
- **Options the importer does not implement are refused, not dropped:**
  ``ExternalContactID`` columns, a ``defaultValue``, a ``textQualifier`` other
  than ``"``, ``triggerJourney: false`` on an add (new subscribers always
  start the list's subscription journeys), ``includeUnsubscribed: true`` on an
  update (unsubscribed contacts are never changed), and SegmentationField or
  Event columns on an import type that would ignore them.
  ``suppressEmailNotifications`` is accepted either way: no notification
  email is ever sent.
- ``hasColumnNames`` left out means false, as for Listrak's .NET clients.
- Columns no mapping names are ignored, even when named after profile fields.
- ``fileDelimiter`` is one ASCII character or a name: ``tab`` (or ``\\t``),
  ``comma``, ``pipe``, ``semicolon``, ``space``.
- The import list answers every import of the list, oldest first (its
  Collection shape has no cursor); ``startDate`` and ``endDate`` bound their
  creation time, inclusive, a bare date or time read in the list's time zone.
- ``/Contact`` lists the file's rows in order, with the address as the file
  gave it; it is empty until the import has completed.
"""

from __future__ import annotations

import datetime
from typing import Any, cast

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.serializer_helpers import ReturnList

from api.base import INT32_MAX, ApiView
from api.envelopes import (
    PAGING,
    ResourceCreatedSerializer,
    collection,
    paged,
    resource,
    responses,
)
from api.errors import invalid
from api.import_files import ImportFileSerializer, parse_import_file
from api.paging import keyset_page
from api.params import parse_period
from api.routes import route
from api.scopes import Scope
from api.serializers import validated
from contacts.imports.models import ImportStatus, ListImport, RowResult
from contacts.imports.tasks import enqueue_import
from contacts.selectors import import_rows, list_imports

REPORT_SCOPES = (Scope.LIST, Scope.CONTACT, Scope.REPORT)


class ListImportSerializer(serializers.Serializer):
    importFileId = serializers.IntegerField(source="pk")
    importFileName = serializers.CharField(source="file_name")
    importDate = serializers.DateTimeField(source="created_at", default_timezone=datetime.UTC)


class ListImportStatusSerializer(serializers.Serializer):
    startDate = serializers.DateTimeField(
        source="started_at", allow_null=True, default_timezone=datetime.UTC
    )
    endDate = serializers.DateTimeField(
        source="finished_at", allow_null=True, default_timezone=datetime.UTC
    )
    status = serializers.ChoiceField(choices=ImportStatus.values)


class ListImportSummarySerializer(serializers.Serializer):
    alreadySubscribedCount = serializers.IntegerField()
    alreadyUnsubscribedCount = serializers.IntegerField()
    bannedCount = serializers.IntegerField()
    invalidEmailCount = serializers.IntegerField()
    previouslyUnsubscribedCount = serializers.IntegerField()
    processedCount = serializers.IntegerField()
    skippedCount = serializers.IntegerField()
    subscribedCount = serializers.IntegerField()
    suppressedCount = serializers.IntegerField()
    unsubscribedCount = serializers.IntegerField()


class ListImportContactSerializer(serializers.Serializer):
    emailAddress = serializers.EmailField(source="email")
    importResult = serializers.ChoiceField(source="result", choices=RowResult.values)


def _path_int(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, int, OpenApiParameter.PATH, description=description)


def _query(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, str, OpenApiParameter.QUERY, description=description)


LIST_ID = _path_int("list_id", "Identifier used to locate the list.")
IMPORT_ID = _path_int("import_id", "Identifier used to locate the import file.")
DATES = [
    _query("startDate", "Only imports created on or after this date (or date-time)."),
    _query("endDate", "Only imports created on or before this date (or date-time)."),
]


class ListImportView(ApiView):
    """Shared by the views of one import: finds it within its list."""

    session_permissions = ("contacts.view_listimport",)

    def get_import(self, list_id: str, import_id: str) -> ListImport:
        return self.get_in_list(ListImport, list_id, import_id, "importFileId")


class ListImportCollectionView(ApiView):
    required_scopes = (Scope.LIST, Scope.CONTACT)
    session_permissions = ("contacts.view_listimport",)
    # The whole file arrives in the body.
    max_body_bytes = settings.API_MAX_IMPORT_BYTES

    @extend_schema(
        operation_id="ListImport_GetListImportCollection",
        tags=["ListImport"],
        summary="Get all List Imports",
        parameters=[LIST_ID, *DATES],
        responses=responses({200: collection(ListImportSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        start, end = parse_period(request.query_params, email_list.zone)
        imports = list_imports(email_list=email_list, created_from=start, created_to=end)
        return self.ok(ListImportSerializer(imports, many=True).data)

    @extend_schema(
        operation_id="ListImport_PostImportFileResource",
        tags=["ListImport"],
        summary="Start a List Import",
        parameters=[LIST_ID],
        request=ImportFileSerializer,
        responses=responses({201: ResourceCreatedSerializer}, 400, 401, 404, 413, 415),
    )
    def post(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        body = validated(ImportFileSerializer, self.body(request))
        checked = parse_import_file(email_list, body)
        list_import = checked.list_import
        with transaction.atomic():
            list_import.file.save(checked.storage_name, ContentFile(checked.content), save=True)
            enqueue_import(list_import)
        return self.created(list_import.pk)


class ListImportResourceView(ListImportView):
    required_scopes = (Scope.LIST, Scope.CONTACT)

    @extend_schema(
        operation_id="ListImport_GetListImportResource",
        tags=["ListImport"],
        summary="Get a List Import",
        parameters=[LIST_ID, IMPORT_ID],
        responses=responses({200: resource(ListImportSerializer)}),
    )
    def get(self, request: Request, list_id: str, import_id: str) -> Response:
        return self.ok(ListImportSerializer(self.get_import(list_id, import_id)).data)


class ListImportStatusView(ListImportView):
    required_scopes = REPORT_SCOPES

    @extend_schema(
        operation_id="ListImportStatus_GetListImportStatusResource",
        tags=["ListImportStatus"],
        summary="Get a List Import Status",
        parameters=[LIST_ID, IMPORT_ID],
        responses=responses({200: resource(ListImportStatusSerializer)}),
    )
    def get(self, request: Request, list_id: str, import_id: str) -> Response:
        return self.ok(ListImportStatusSerializer(self.get_import(list_id, import_id)).data)


class ListImportSummaryView(ListImportView):
    required_scopes = REPORT_SCOPES

    @extend_schema(
        operation_id="ListImportSummary_GetListImportSummaryResource",
        tags=["ListImportSummary"],
        summary="Get a List Import Summary",
        parameters=[LIST_ID, IMPORT_ID],
        responses=responses({200: resource(ListImportSummarySerializer)}),
    )
    def get(self, request: Request, list_id: str, import_id: str) -> Response:
        return self.ok(self.get_import(list_id, import_id).summary())


class ListImportContactView(ListImportView):
    required_scopes = REPORT_SCOPES

    @extend_schema(
        operation_id="ListImportContact_GetListImportContactCollection",
        tags=["ListImportContact"],
        summary="Get all List Import Contacts",
        parameters=[LIST_ID, IMPORT_ID, *PAGING],
        responses=responses({200: paged(ListImportContactSerializer)}),
    )
    def get(self, request: Request, list_id: str, import_id: str) -> Response:
        list_import = self.get_import(list_id, import_id)
        rows, cursor = keyset_page(
            import_rows(list_import=list_import),
            params=request.query_params,
            key=("row_number",),
            after=_after_row,
            key_of=lambda row: (row.row_number,),
        )
        # many=True makes a ListSerializer, whose data is a list (the stubs type the child's).
        data = cast(ReturnList[Any], ListImportContactSerializer(rows, many=True).data)
        return self.page(data, cursor)


def _after_row(rows: QuerySet, start: list[Any]) -> QuerySet:
    # A cursor is the client's text: a hand-made one must not reach the query as a non-number.
    (row_number,) = start
    if type(row_number) is not int or not 0 <= row_number <= INT32_MAX:
        raise invalid("cursor", "Pass the nextPageCursor of the previous page, or Start.")
    return rows.filter(row_number__gt=row_number)


urlpatterns = [
    route("List/<list_id>/ListImport", ListImportCollectionView.as_view()),
    route("List/<list_id>/ListImport/<import_id>", ListImportResourceView.as_view()),
    route("List/<list_id>/ListImport/<import_id>/Status", ListImportStatusView.as_view()),
    route("List/<list_id>/ListImport/<import_id>/Summary", ListImportSummaryView.as_view()),
    route("List/<list_id>/ListImport/<import_id>/Contact", ListImportContactView.as_view()),
]
