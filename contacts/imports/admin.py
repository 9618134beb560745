"""The upload page for contact imports, its progress page and its rejected rows.

An upload is only stored and queued here; a django-q2 worker processes it
(contacts.imports.tasks). An import's data is never changed through the admin.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from contacts.imports.models import ImportRowResult, ImportStatus, ListImport, RowResult
from contacts.imports.source import parse_mapping
from contacts.imports.tasks import enqueue_import

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

#: The change page reloads itself this often (seconds) until the import has finished.
REFRESH_SECONDS = 2
IN_PROGRESS = (ImportStatus.DATA_UPLOADED, ImportStatus.PROCESSING_DATA)
#: Rows with these results are rejected rows, whatever their reason says.
REJECTED_RESULTS = (RowResult.INVALID, RowResult.BANNED, RowResult.SUPPRESSED, RowResult.SKIPPED)
CSV_CHUNK_ROWS = 2000
TAB_NAMES = ("\\t", "tab")
#: Characters the CSV reader cannot split on.
BAD_DELIMITERS = ('"', "\r", "\n")


class MappingField(forms.CharField):
    """A textarea of ``COLUMN=TARGET`` lines, cleaned to a dict."""

    def __init__(self, *, target: str, **kwargs: Any) -> None:
        self.target = target
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "cols": 40}))
        super().__init__(**kwargs)

    def clean(self, value: Any) -> dict[str, str]:
        return parse_mapping(super().clean(value), target=self.target)


class ListImportUploadForm(forms.ModelForm):
    delimiter = forms.CharField(
        initial=",",
        max_length=3,
        strip=False,
        widget=forms.TextInput(attrs={"size": 3}),
        help_text="One character; write \\t or tab for a tab.",
    )
    field_map = MappingField(
        target="FIELD",
        label="Field map",
        help_text=(
            "One COLUMN=FIELD per line: a column name (or 0-based index) and a profile field "
            "name (or id). Leave blank to map columns to the profile fields of the same name."
        ),
    )
    event_map = MappingField(
        target="EVENT",
        label="Event columns",
        help_text=(
            "One COLUMN=EVENT per line: a non-blank cell in COLUMN fires EVENT (name or id) "
            "for the row's contact."
        ),
    )

    class Meta:
        model = ListImport
        fields = [
            "list",
            "file",
            "import_type",
            "segmentation_type",
            "delimiter",
            "has_header",
            "email_column",
            "field_map",
            "event_map",
        ]
        help_texts = {
            "file": "A UTF-8 CSV file.",
            "email_column": "Its name (or 0-based index); found by name when blank.",
        }

    def clean_delimiter(self) -> str:
        value = self.cleaned_data["delimiter"]
        if value.strip().lower() in TAB_NAMES:
            return "\t"
        if len(value) != 1:
            raise forms.ValidationError(f"The delimiter is one character, not {value!r}.")
        if value in BAD_DELIMITERS:
            raise forms.ValidationError(f"{value!r} cannot be the delimiter.")
        return value


@admin.register(ListImport)
class ListImportAdmin(admin.ModelAdmin):
    list_display = [
        "file_name",
        "list",
        "status",
        "processed_count",
        "subscribed_count",
        "created_at",
    ]
    list_filter = ["status", "list"]
    list_select_related = ["list"]
    search_fields = ["file_name"]
    date_hierarchy = "created_at"
    upload_fieldsets = [
        (None, {"fields": ["list", "file", "import_type", "segmentation_type"]}),
        (
            "File layout",
            {"fields": ["delimiter", "has_header", "email_column", "field_map", "event_map"]},
        ),
    ]
    result_fieldsets = [
        (None, {"fields": ["list", "file_name", "status", "error"]}),
        ("Times", {"fields": ["created_at", "started_at", "finished_at"]}),
        (
            "Summary",
            {
                "fields": [
                    "processed_count",
                    "subscribed_count",
                    "already_subscribed_count",
                    "previously_unsubscribed_count",
                    "unsubscribed_count",
                    "already_unsubscribed_count",
                    "invalid_email_count",
                    "banned_count",
                    "suppressed_count",
                    "skipped_count",
                    "invalid_value_count",
                    "rejected_rows",
                ]
            },
        ),
        (
            "Options",
            {
                "fields": [
                    "import_type",
                    "segmentation_type",
                    "delimiter_name",
                    "has_header",
                    "email_column",
                    "field_map_lines",
                    "event_map_lines",
                ]
            },
        ),
    ]
    readonly_fields = [name for _, options in result_fieldsets for name in options["fields"]]

    # --- Permissions: an import is uploaded, watched and deleted, never edited. ---

    def has_change_permission(self, request: HttpRequest, obj: ListImport | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ListImport | None = None) -> bool:
        # A running import's worker writes its rows in one transaction; deleting the
        # import under it would wait for that transaction and then fail.
        if obj is not None and _running(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: ListImport) -> None:
        # The upload holds people's addresses: it goes with its import, once that is gone for good.
        storage, name = obj.file.storage, obj.file.name
        super().delete_model(request, obj)
        if name:
            transaction.on_commit(lambda: storage.delete(name))

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # The bulk delete cannot tell running imports apart; delete them one at a time.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # --- The upload page and the result page. ---

    def get_fieldsets(self, request: HttpRequest, obj: ListImport | None = None) -> _FieldsetSpec:
        fieldsets = self.upload_fieldsets if obj is None else self.result_fieldsets
        return cast("_FieldsetSpec", fieldsets)  # plain dicts of fieldset options

    def get_readonly_fields(self, request: HttpRequest, obj: ListImport | None = None) -> list[str]:
        return [] if obj is None else self.readonly_fields

    def get_form(
        self,
        request: HttpRequest,
        obj: ListImport | None = None,
        change: bool = False,
        **kwargs: Any,
    ) -> type[forms.ModelForm]:
        kwargs["form"] = ListImportUploadForm if obj is None else forms.ModelForm
        return super().get_form(request, obj, change, **kwargs)

    def add_view(
        self,
        request: HttpRequest,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().add_view(request, form_url, extra_context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ListImport | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.status in IN_PROGRESS:
            context["refresh_seconds"] = REFRESH_SECONDS
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(
        self, request: HttpRequest, obj: ListImport, form: ListImportUploadForm, change: bool
    ) -> None:
        obj.file_name = form.cleaned_data["file"].name
        obj.status = ImportStatus.DATA_UPLOADED
        obj.save()
        enqueue_import(obj)

    def response_add(
        self, request: HttpRequest, obj: ListImport, post_url_continue: str | None = None
    ) -> HttpResponse:
        self.message_user(
            request,
            f"{obj.file_name} is uploaded and queued; this page follows its progress.",
            messages.SUCCESS,
        )
        url = reverse("admin:contacts_listimport_change", args=[obj.pk])
        return HttpResponseRedirect(url)

    # --- What the result page shows. ---

    @admin.display(description="Rejected rows")
    def rejected_rows(self, obj: ListImport) -> str:
        if obj.status != ImportStatus.PROCESSING_COMPLETED:
            return "When the import has completed."
        url = reverse("admin:contacts_listimport_rejected", args=[obj.pk])
        return format_html(
            '<a href="{}" class="rejected-rows">Download rejected rows</a> '
            "(invalid, banned, suppressed and skipped rows, and rows with refused values)",
            url,
        )

    @admin.display(description="Delimiter")
    def delimiter_name(self, obj: ListImport) -> str:
        return "tab" if obj.delimiter == "\t" else obj.delimiter

    @admin.display(description="Field map")
    def field_map_lines(self, obj: ListImport) -> str:
        return _lines(obj.field_map) or "By column names"

    @admin.display(description="Event columns")
    def event_map_lines(self, obj: ListImport) -> str:
        return _lines(obj.event_map) or "None"

    # --- The rejected rows as CSV. ---

    def get_urls(self) -> list[URLPattern]:
        rejected = path(
            "<path:object_id>/rejected-rows/",
            self.admin_site.admin_view(self.rejected_rows_view),
            name="contacts_listimport_rejected",
        )
        return [rejected, *super().get_urls()]

    def rejected_rows_view(self, request: HttpRequest, object_id: str) -> StreamingHttpResponse:
        list_import = self.get_object(request, unquote(object_id))
        if list_import is None:
            raise Http404("No such import.")
        if not self.has_view_permission(request, list_import):
            raise PermissionDenied
        response = StreamingHttpResponse(
            rejected_rows_csv(list_import), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="import-{list_import.pk}-rejected.csv"'
        )
        return response


class _Echo:
    """A file whose write returns what it is given, so csv.writer makes lines to stream."""

    def write(self, value: str) -> str:
        return value


def rejected_rows_csv(list_import: ListImport) -> Iterator[str]:
    """``row,email,result,reason`` lines of every rejected row of the import, by
    row number. Reads the rows a chunk at a time: an import can have millions."""
    writer = csv.writer(_Echo())
    rows = (
        ImportRowResult.objects.filter(
            Q(result__in=REJECTED_RESULTS) | ~Q(reason=""), list_import=list_import
        )
        .order_by("row_number")
        .values_list("row_number", "email", "result", "reason")
    )
    yield writer.writerow(["row", "email", "result", "reason"])
    for row in rows.iterator(chunk_size=CSV_CHUNK_ROWS):
        yield writer.writerow(row)


def _running(list_import: ListImport) -> bool:
    if list_import.status != ImportStatus.PROCESSING_DATA:
        return False
    # A worker that died leaves its lease to run out; that import may go.
    expires = list_import.lease_expires_at
    return expires is None or expires > timezone.now()


def _lines(mapping: dict[str, Any]) -> str:
    return "\n".join(f"{column}={target}" for column, target in mapping.items())
