"""Reading an import file: whole-file checks, the column layout, the rows."""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError

from lists.models import Event, List, ProfileField
from lists.profile_schema import ProfileSchema

CHUNK = 1 << 20
BOM = codecs.BOM_UTF8
csv.field_size_limit(1 << 24)  # a long cell is a row problem (too long for its field), not a crash


class ImportFileError(ValueError):
    """A problem with the whole file; nothing is written."""


@dataclass
class Layout:
    """Which column holds what. Indexes are 0-based positions in a row."""

    width: int
    names: list[str]
    email_index: int
    fields: list[tuple[int, ProfileField]] = field(default_factory=list)
    events: list[tuple[int, Event]] = field(default_factory=list)

    def column_name(self, index: int) -> str:
        return self.names[index] if index < len(self.names) else f"column {index + 1}"


def check_text(path: Path) -> None:
    """Refuse an empty file or one that is not UTF-8, before anything is written."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    content = False
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            if offset == 0 and chunk.startswith(BOM):
                chunk = chunk[len(BOM) :]
                offset = len(BOM)
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as error:
                raise ImportFileError(
                    f"The file is not UTF-8 text: byte 0x{chunk[error.start]:02x} at offset "
                    f"{offset + error.start} cannot be decoded. Save it as UTF-8 and import again."
                ) from None
            content = content or bool(text.strip())
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ImportFileError(
                "The file is not UTF-8 text: it ends in the middle of a character."
            ) from None
    if not content:
        raise ImportFileError("The file is empty.")


def open_text(path: Path) -> io.TextIOWrapper:
    return open(path, encoding="utf-8-sig", newline="")  # the caller closes it


def read_header(path: Path, *, delimiter: str) -> list[str]:
    """The first record of the file (its column names, or the first data row)."""
    with open_text(path) as stream:
        for record in csv.reader(stream, delimiter=delimiter):
            if any(cell.strip() for cell in record):
                return [cell.strip() for cell in record]
    raise ImportFileError("The file is empty.")


def iter_rows(
    path: Path, *, delimiter: str, has_header: bool
) -> Iterator[tuple[int, list[str] | None]]:
    """Yield ``(row number, cells)`` for every data record, numbered from 1.
    Blank lines are skipped. A record the CSV reader cannot read yields
    ``cells=None`` and reading goes on."""
    with open_text(path) as stream:
        reader = csv.reader(stream, delimiter=delimiter)
        number = 0
        skip_header = has_header
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error:
                number += 1
                yield number, None
                continue
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if skip_header:
                skip_header = False
                continue
            number += 1
            yield number, record


_EMAIL_HEADER = re.compile(r"[^a-z0-9]")


def _looks_like_email(name: str) -> bool:
    return "email" in _EMAIL_HEADER.sub("", name.lower())


def _column_index(ref: str | int, names: list[str], width: int, what: str) -> int:
    if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit() and not names):
        index = int(ref)
        if 0 <= index < width:
            return index
        raise ImportFileError(
            f"The {what} column {index} does not exist: the file has {width} columns."
        )
    wanted = str(ref).strip().lower()
    for index, name in enumerate(names):
        if name.lower() == wanted:
            return index
    if wanted.isdigit() and int(wanted) < width:
        return int(wanted)
    if not names:
        raise ImportFileError(
            f"The {what} column {ref!r} cannot be found by name: the file has no header row."
            " Give its number (0 is the first column)."
        )
    raise ImportFileError(
        f"The {what} column {ref!r} is not in the file; its columns are: "
        + ", ".join(repr(n) for n in names)
        + "."
    )


def plan_layout(
    *,
    email_list: List,
    header: list[str],
    has_header: bool,
    email_column: str,
    field_map: dict[str, str | int],
    event_map: dict[str, str | int],
    use_profile: bool,
) -> Layout:
    """Resolve which column is the address, which feed profile fields, which
    fire events. Raises ImportFileError naming any column or field it cannot
    resolve."""
    names = header if has_header else []
    width = len(header)
    if email_column:
        email_index = _column_index(email_column, names, width, "email")
    elif has_header:
        candidates = [i for i, name in enumerate(names) if _looks_like_email(name)]
        if not candidates:
            raise ImportFileError(
                "No email column: no column name contains 'email' (columns: "
                + ", ".join(repr(n) for n in names)
                + "). Name the column, or say which one it is."
            )
        email_index = candidates[0]
    else:
        email_index = 0
    layout = Layout(width=width, names=names, email_index=email_index)

    schema = ProfileSchema(email_list)
    if field_map:
        for column, ref in field_map.items():
            index = _column_index(column, names, width, "mapped")
            try:
                profile_field = schema.resolve(int(ref) if str(ref).isdigit() else ref)
            except ValidationError as error:
                raise ImportFileError(f"Column {column!r}: {error.messages[0]}") from None
            layout.fields.append((index, profile_field))
    elif has_header:
        for index, name in enumerate(names):
            if index != email_index and name.lower() in schema.by_name:
                layout.fields.append((index, schema.by_name[name.lower()]))
    if not use_profile:
        layout.fields = []
    seen: dict[int, int] = {}
    for index, profile_field in layout.fields:
        if profile_field.pk in seen:
            raise ImportFileError(
                f"Profile field {profile_field.name!r} is mapped from two columns: "
                f"{layout.column_name(seen[profile_field.pk])!r} and {layout.column_name(index)!r}."
            )
        seen[profile_field.pk] = index

    events = {e.pk: e for e in Event.objects.filter(list=email_list)}
    by_name = {e.name.lower(): e for e in events.values()}
    for column, ref in event_map.items():
        index = _column_index(column, names, width, "event")
        event = (
            events.get(int(ref)) if str(ref).isdigit() else by_name.get(str(ref).strip().lower())
        )
        if event is None:
            raise ImportFileError(
                f"Column {column!r} fires the unknown event {ref!r} of list {email_list.name!r}."
            )
        layout.events.append((index, event))
    return layout


def parse_mapping(text: str, *, target: str) -> dict[str, str]:
    """``COLUMN=TARGET`` lines (blank lines ignored) as ``{column: target}``;
    raises ValidationError naming every line that is not of that form."""
    pairs: dict[str, str] = {}
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        column, sep, value = line.partition("=")
        column, value = column.strip(), value.strip()
        if not sep or not column or not value:
            errors.append(f"Line {number}: {line.strip()!r} is not COLUMN={target}.")
        elif column.lower() in (c.lower() for c in pairs):
            errors.append(f"Line {number}: column {column!r} is mapped twice.")
        else:
            pairs[column] = value
    if errors:
        raise ValidationError(errors)
    return pairs
