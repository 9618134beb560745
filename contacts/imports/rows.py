"""What one import row says, checked the same way by both import paths."""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError

from contacts.addresses import WHITESPACE, normalise_email
from contacts.imports.models import ImportType, ListImport, RowResult
from contacts.imports.source import Layout
from lists.field_types import clean_value

#: Results after which the contact is subscribed: its values are written and its events fire.
APPLIES_VALUES = frozenset({RowResult.SUBSCRIBED, RowResult.ALREADY_SUBSCRIBED})

ADDS = frozenset({ImportType.ADD_SUBSCRIBERS, ImportType.ADD_SUBSCRIBERS_AND_SEGMENTATION_DATA})


def uses_profile(import_type: str) -> bool:
    return import_type in (
        ImportType.ADD_SUBSCRIBERS_AND_SEGMENTATION_DATA,
        ImportType.UPDATE_SUBSCRIBERS,
    )


def width_problem(layout: Layout, cells: list[str] | None) -> str | None:
    if cells is None:
        return "The row is not valid CSV (an unmatched quote or a NUL character)."
    if len(cells) != layout.width:
        return f"The row has {len(cells)} fields; the file's rows have {layout.width}."
    return None


@dataclass
class CheckedValues:
    """A row's profile values cleaned for their fields (``None`` = blank) and
    the reasons any were refused."""

    values: dict[str, str | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def check_values(layout: Layout, cells: list[str]) -> CheckedValues:
    checked = CheckedValues()
    for index, profile_field in layout.fields:
        try:
            checked.values[profile_field.key] = clean_value(profile_field, cells[index])
        except ValidationError as error:
            checked.problems.append(f"Column '{layout.column_name(index)}': {error.messages[0]}")
    return checked


def address(cells: list[str], layout: Layout) -> tuple[str | None, str | None]:
    """``(normalised address, None)`` or ``(None, why it is refused)``."""
    try:
        return normalise_email(cells[layout.email_index]), None
    except ValidationError as error:
        return None, error.messages[0]


def fired_events(layout: Layout, cells: list[str]) -> list[tuple[int, str]]:
    """``(event id, cell)`` for each event column with a value in this row."""
    return [
        (event.pk, cells[index].strip(WHITESPACE))
        for index, event in layout.events
        if cells[index].strip(WHITESPACE)
    ]


class ImportPath(abc.ABC):
    """What both import paths are given: the import, its column layout, the
    file, and a callback told how many more rows were read."""

    def __init__(
        self,
        list_import: ListImport,
        layout: Layout,
        path: Path,
        progress: Callable[[int], object] | None = None,
    ) -> None:
        self.list_import = list_import
        self.layout = layout
        self.path = path
        self.progress = progress or (lambda rows: None)

    @abc.abstractmethod
    def run(self) -> Counter[str]:
        """Apply the file; return the count of each result (and of refused
        values, as ``invalid_values``)."""
