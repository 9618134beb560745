"""Sections that an app adds to another app's admin page (a contact's
emails, a message's published versions): the page's app may not import the
apps above it, so they register here from their own admin modules, each
section behind the permission a staff user needs to see it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.http import HttpRequest
from django.utils.safestring import SafeString

T = TypeVar("T")


@dataclass(frozen=True)
class Panel(Generic[T]):
    """A titled section of a page about one ``T``, shown to staff holding ``permission``."""

    title: str
    permission: str
    #: The section's HTML for one row (escaped by the panel itself).
    render: Callable[[T], SafeString]


class Panels(Generic[T]):
    """The sections of one kind of page, in the order they were added."""

    def __init__(self) -> None:
        self._panels: dict[str, Panel[T]] = {}

    def add(self, panel: Panel[T]) -> None:
        """Show ``panel`` on every such page (again with the same title: replaced)."""
        self._panels[panel.title] = panel

    def for_user(self, request: HttpRequest, row: T) -> list[tuple[str, SafeString]]:
        """The sections this staff user may see of ``row``, as (title, HTML)."""
        return [
            (panel.title, panel.render(row))
            for panel in self._panels.values()
            if request.user.has_perm(panel.permission)
        ]
