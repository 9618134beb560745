"""Sections that other apps add to a contact's admin page: the emails sent
to the contact, the conversations it is in (``core.panels``)."""

from __future__ import annotations

from contacts.models import Contact
from core.panels import Panel, Panels

ContactPanel = Panel[Contact]

#: The contact page's sections, filled by the apps above ``contacts``.
contact_panels: Panels[Contact] = Panels()
add_contact_panel = contact_panels.add
