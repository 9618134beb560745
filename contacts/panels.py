"""Sections that other apps add to a contact's admin page: the emails sent
to the contact, the conversations it is in. ``contacts`` may not import
those apps, so they register here from their own admin modules, each with
the permission a staff user needs to see it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.safestring import SafeString

from contacts.models import Contact


@dataclass(frozen=True)
class ContactPanel:
    """A titled section of the contact page, shown to staff holding ``permission``."""

    title: str
    permission: str
    #: The section's HTML for one contact (escaped by the panel itself).
    render: Callable[[Contact], SafeString]


_panels: dict[str, ContactPanel] = {}


def add_contact_panel(panel: ContactPanel) -> None:
    """Show ``panel`` on every contact's page (again with the same title: replaced)."""
    _panels[panel.title] = panel


def panels_for(request: HttpRequest, contact: Contact) -> list[tuple[str, SafeString]]:
    """The sections this staff user may see of ``contact``, as (title, HTML)."""
    return [
        (panel.title, panel.render(contact))
        for panel in _panels.values()
        if request.user.has_perm(panel.permission)
    ]
