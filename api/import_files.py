"""The body of ``POST List/{listId}/ListImport`` (Listrak's ImportFile), checked
whole before anything is stored: a bad request is a 400 naming the problem
and creates nothing, so an import that is accepted only fails at run time for
reasons that arise later (its file removed from MEDIA_ROOT, say)."""

from __future__ import annotations

import base64
import binascii
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, cast

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from rest_framework import serializers

from api.base import INT32_MAX
from api.errors import ApiError, invalid
from api.params import EnumField
from api.serializers import ApiSerializer
from contacts.imports.models import ImportType, ListImport, SegmentationImportType
from contacts.imports.rows import ADDS, uses_profile
from contacts.imports.run import layout_for
from contacts.imports.source import ImportFileError, check_text, read_header
from lists.models import Event, List, ProfileField

EMAIL = "Email"
SEGMENTATION_FIELD = "SegmentationField"
EVENT = "Event"
EXTERNAL_CONTACT_ID = "ExternalContactID"
#: What clients write for a delimiter besides the character itself.
DELIMITER_NAMES = {
    "tab": "\t",
    "\\t": "\t",
    "comma": ",",
    "pipe": "|",
    "semicolon": ";",
    "space": " ",
}
#: The CSV readers (Python's and PostgreSQL's COPY) cannot split on these.
BAD_DELIMITERS = ('"', "\r", "\n")
#: The only qualifier the readers know.
QUOTE = '"'
_BASE64_SPACE = re.compile(rb"\s+")
#: The stored file's name, shortened (the original stays as file_name).
STORED_NAME_BYTES = 100


def unsupported(option: str, why: str) -> ApiError:
    return invalid(option, f"This server does not support {why}")


class IndexedListSerializer(serializers.ListSerializer):
    """Reports item errors as a list, so api.errors names them ``fileMappings[1].fileColumn``
    (DRF 3.18 keys them by index, which api.errors reads as field names)."""

    def to_internal_value(self, data: Any) -> list[Any]:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            detail = error.detail
            if isinstance(detail, dict) and all(isinstance(key, int) for key in detail):
                by_index = cast(dict[int, Any], detail)  # the stubs key details by name only
                raise serializers.ValidationError(
                    [by_index.get(index, {}) for index in range(len(data))]
                ) from None
            raise


class ImportFileMappingSerializer(ApiSerializer):
    segmentationFieldId = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=INT32_MAX
    )
    defaultValue = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False
    )
    fileColumn = serializers.IntegerField(min_value=0, max_value=INT32_MAX)
    fileColumnType = EnumField([EMAIL, SEGMENTATION_FIELD, EVENT, EXTERNAL_CONTACT_ID])
    eventId = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=INT32_MAX,
        help_text=(
            "This server's addition: the event an Event column fires. Without it the "
            "event is the one named by the column's header."
        ),
    )


class ImportFileSerializer(ApiSerializer):
    fileDelimiter = serializers.CharField(trim_whitespace=False, max_length=9)
    fileMappings = ImportFileMappingSerializer(many=True)
    fileName = serializers.CharField(max_length=255)
    fileStream = serializers.CharField(help_text="The file, Base64-encoded (UTF-8 text).")
    hasColumnNames = serializers.BooleanField(required=False, allow_null=True, default=False)
    importType = EnumField(ImportType.values)
    segmentationImportType = EnumField(SegmentationImportType.values)
    suppressEmailNotifications = serializers.BooleanField(required=False, allow_null=True)
    textQualifier = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False
    )
    triggerJourney = serializers.BooleanField(required=False, allow_null=True)
    includeUnsubscribed = serializers.BooleanField(required=False, allow_null=True)


@dataclass
class ImportRequest:
    """A checked ImportFile: the ListImport to create (unsaved) and its file."""

    list_import: ListImport
    content: bytes
    storage_name: str


def parse_import_file(email_list: List, data: dict[str, Any]) -> ImportRequest:
    """Check a validated ImportFile body against the importer and the list;
    raises ApiError (400) naming the first problem."""
    import_type: str = data["importType"]
    has_header = bool(data.get("hasColumnNames"))
    mappings: list[dict[str, Any]] = data["fileMappings"]
    _refuse_unsupported_options(data, import_type)
    delimiter = parse_delimiter(data["fileDelimiter"])
    email_column = _check_mappings(mappings, import_type)
    field_map = _field_map(email_list, mappings)
    content = decode_file(data["fileStream"])
    header = _header(content, delimiter)
    _check_widths(mappings, header)
    event_map = _event_map(email_list, mappings, header if has_header else None)
    if has_header and not field_map:
        import_type = _without_profile_columns(email_list, import_type, header, email_column)

    list_import = ListImport(
        list=email_list,
        file_name=data["fileName"],
        import_type=import_type,
        segmentation_type=data["segmentationImportType"],
        delimiter=delimiter,
        has_header=has_header,
        email_column=str(email_column),
        field_map={str(c): f for c, f in field_map.items()},
        event_map={str(c): e for c, e in event_map.items()},
    )
    _check_layout(list_import, header, email_column, field_map, event_map)
    return ImportRequest(list_import, content, storage_name(data["fileName"]))


def _refuse_unsupported_options(data: dict[str, Any], import_type: str) -> None:
    # Each option is refused only where it would change what happens, so a
    # Listrak client sending the value that matches this importer works unchanged.
    if data.get("textQualifier") not in (None, "", QUOTE):
        raise unsupported(
            "textQualifier", f'a text qualifier other than {QUOTE} (cells are quoted with ").'
        )
    if import_type in ADDS and data.get("triggerJourney") is False:
        raise unsupported(
            "triggerJourney",
            "triggerJourney false: new subscribers always start the list's subscription "
            "journeys (conversations). Send true or leave it out.",
        )
    if import_type == ImportType.UPDATE_SUBSCRIBERS and data.get("includeUnsubscribed"):
        raise unsupported(
            "includeUnsubscribed",
            "includeUnsubscribed true: an update never changes unsubscribed contacts. "
            "Send false or leave it out.",
        )
    for index, mapping in enumerate(data["fileMappings"]):
        if mapping["fileColumnType"] == EXTERNAL_CONTACT_ID:
            raise unsupported(
                f"fileMappings[{index}].fileColumnType",
                "ExternalContactID columns: contacts are known by their email address only.",
            )
        if mapping.get("defaultValue"):
            raise unsupported(
                f"fileMappings[{index}].defaultValue",
                "default values: a blank cell is imported as blank. Leave defaultValue empty.",
            )


def parse_delimiter(value: str) -> str:
    """One character, or its name (``tab``, ``\\t``, ``comma``, ``pipe``, ...)."""
    delimiter = DELIMITER_NAMES.get(value.strip().lower(), value) if value.strip() else value
    if len(delimiter) != 1 or not delimiter.isascii():
        raise invalid(
            "fileDelimiter",
            f"fileDelimiter is one ASCII character (or tab), not {value!r}.",
        )
    if delimiter in BAD_DELIMITERS:
        raise invalid("fileDelimiter", f"{delimiter!r} cannot separate columns.")
    return delimiter


def _check_mappings(mappings: list[dict[str, Any]], import_type: str) -> int:
    """The Email column; refuses mappings the import type would ignore."""
    emails = [i for i, m in enumerate(mappings) if m["fileColumnType"] == EMAIL]
    if len(emails) != 1:
        found = ", ".join(f"fileMappings[{i}]" for i in emails) or "none"
        raise invalid(
            "fileMappings",
            f"fileMappings needs exactly one Email mapping (the address column); found {found}.",
        )
    seen: dict[tuple[str, int], int] = {}
    for index, mapping in enumerate(mappings):
        kind, column = mapping["fileColumnType"], mapping["fileColumn"]
        name = f"fileMappings[{index}]"
        if kind == SEGMENTATION_FIELD and not uses_profile(import_type):
            raise invalid(
                name,
                f"importType {import_type} does not import profile data; use "
                "AddSubscribersAndSegmentationData or UpdateSubscribers for SegmentationField "
                "columns.",
            )
        if kind == EVENT and import_type == ImportType.REMOVE_SUBSCRIBERS:
            raise invalid(name, "importType RemoveSubscribers fires no events.")
        if kind != SEGMENTATION_FIELD and mapping.get("segmentationFieldId"):
            raise invalid(name, "segmentationFieldId belongs to SegmentationField mappings only.")
        if kind != EVENT and mapping.get("eventId"):
            raise invalid(name, "eventId belongs to Event mappings only.")
        if (kind, column) in seen:
            first = f"fileMappings[{seen[kind, column]}]"
            raise invalid(name, f"Column {column} is already mapped as {kind} by {first}.")
        seen[kind, column] = index
    return mappings[emails[0]]["fileColumn"]


def _field_map(email_list: List, mappings: list[dict[str, Any]]) -> dict[int, int]:
    fields = set(ProfileField.objects.filter(list=email_list).values_list("pk", flat=True))
    field_map: dict[int, int] = {}
    for index, mapping in enumerate(mappings):
        if mapping["fileColumnType"] != SEGMENTATION_FIELD:
            continue
        field_id = mapping.get("segmentationFieldId")
        name = f"fileMappings[{index}].segmentationFieldId"
        if not field_id:
            raise invalid(name, "A SegmentationField mapping names its profile field.")
        if field_id not in fields:
            raise invalid(name, f"{field_id} is not a profile field of list {email_list.name!r}.")
        field_map[mapping["fileColumn"]] = field_id
    return field_map


def _without_profile_columns(
    email_list: List, import_type: str, header: list[str], email_column: int
) -> str:
    """The import type to store when no SegmentationField column is mapped.

    The importer reads an empty field_map as "map columns by their names", but a
    Listrak client that maps no profile columns means none. An add without them
    is exactly AddSubscribers; an update has no such equivalent, so columns named
    after profile fields are refused rather than imported unasked."""
    if not uses_profile(import_type):
        return import_type
    fields = ProfileField.objects.filter(list=email_list).values_list("name", flat=True)
    names = {name.lower() for name in fields}
    named = [n for i, n in enumerate(header) if i != email_column and n.lower() in names]
    if not named:
        return import_type
    if import_type in ADDS:
        return ImportType.ADD_SUBSCRIBERS
    raise invalid(
        "fileMappings",
        f"Columns {', '.join(repr(n) for n in named)} are named after profile fields but no "
        "SegmentationField mapping names them; this server would import them by name. Map "
        "them, or rename them.",
    )


def decode_file(text: str) -> bytes:
    """The Base64 of fileStream as bytes (line breaks in it are allowed)."""
    try:
        return base64.b64decode(_BASE64_SPACE.sub(b"", text.encode("ascii")), validate=True)
    except (UnicodeEncodeError, binascii.Error) as error:
        raise invalid("fileStream", f"fileStream is not valid Base64 ({error}).") from None


def _header(content: bytes, delimiter: str) -> list[str]:
    """The file's first record, after checking that it is UTF-8 text."""
    # The importer's checks read a file; this one lives only for the request.
    with tempfile.NamedTemporaryFile(suffix=".csv") as stream:
        stream.write(content)
        stream.flush()
        path = Path(stream.name)
        try:
            check_text(path)
            return read_header(path, delimiter=delimiter)
        except ImportFileError as error:
            raise invalid("fileStream", str(error)) from None


def _check_widths(mappings: list[dict[str, Any]], header: list[str]) -> None:
    for index, mapping in enumerate(mappings):
        if mapping["fileColumn"] >= len(header):
            raise invalid(
                f"fileMappings[{index}].fileColumn",
                f"Column {mapping['fileColumn']} does not exist: the file's first line has "
                f"{len(header)} column{'s' if len(header) != 1 else ''} (0 to {len(header) - 1}).",
            )


def _event_map(
    email_list: List, mappings: list[dict[str, Any]], names: list[str] | None
) -> dict[int, int]:
    """``{column: event id}``: the mapping's eventId, else the event its header names."""
    events = {e.pk: e for e in Event.objects.filter(list=email_list)}
    by_name = {e.name.lower(): e for e in events.values()}
    event_map: dict[int, int] = {}
    for index, mapping in enumerate(mappings):
        if mapping["fileColumnType"] != EVENT:
            continue
        column, event_id = mapping["fileColumn"], mapping.get("eventId")
        name = f"fileMappings[{index}]"
        if event_id is not None:
            if event_id not in events:
                raise invalid(
                    f"{name}.eventId",
                    f"Column {column}: {event_id} is not an event of list {email_list.name!r}.",
                )
            event_map[column] = event_id
        elif names is None:
            raise invalid(
                name,
                f"Column {column}: without column names (hasColumnNames false) an Event "
                "mapping gives its eventId.",
            )
        elif (event := by_name.get(names[column].lower())) is None:
            raise invalid(
                name,
                f"Column {column} is named {names[column]!r}, which is not an event of list "
                f"{email_list.name!r}. Name the column after the event, or give the mapping "
                "an eventId.",
            )
        else:
            event_map[column] = event.pk
    return event_map


def _check_layout(
    list_import: ListImport,
    header: list[str],
    email_column: int,
    field_map: dict[int, int],
    event_map: dict[int, int],
) -> None:
    """Plan the layout as the importer will, and check it reads the columns the mappings say."""
    try:
        layout = layout_for(list_import, header)
    except ImportFileError as error:
        raise invalid("fileMappings", str(error)) from None
    # The importer finds a column by its header name before its number; a header
    # that is a number naming another column would shift the mapping.
    planned = (
        layout.email_index,
        {i: f.pk for i, f in layout.fields},
        {i: e.pk for i, e in layout.events},
    )
    if planned != (email_column, field_map, event_map):
        raise invalid(
            "hasColumnNames",
            "The file's column names include numbers that are other columns' positions "
            f"({', '.join(repr(n) for n in header if n.isdigit())}); rename those columns.",
        )


def storage_name(file_name: str) -> str:
    """A safe name to store the upload under: fileName may hold a client's path,
    or more bytes than a file system allows in one name."""
    base = PurePosixPath(file_name.replace("\\", "/")).name
    try:
        valid = PurePosixPath(default_storage.get_valid_name(base))
    except SuspiciousFileOperation:  # nothing usable is left of it, such as ".."
        return "import.csv"
    stem = valid.stem.encode()[:STORED_NAME_BYTES].decode(errors="ignore")
    suffix = valid.suffix[:10] if valid.suffix.isascii() else ""
    return f"{stem or 'import'}{suffix}"
