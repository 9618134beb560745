"""Engagement conditions of Go To criteria: what the contact did, or did not
do, with an email of the conversation. One can stand anywhere a profile
comparison can (alone, or in a set joined by ``joinType``)::

    {"engagement": "Opened", "message": 12}
    {"joinType": "AndNot", "engagement": "ClickedLink", "message": 12,
     "link": "https://shop.example/sale", "withinDays": 7}

- ``engagement``: ``Opened``, ``NotOpened``, ``Clicked``, ``NotClicked``,
  ``ClickedLink`` or ``NotClickedLink`` (any case).
- ``message``: the id of a message of the conversation's list. Only emails
  of it that this conversation sent count (``conductor.filters.sql``).
- ``link``: ``ClickedLink``/``NotClickedLink`` only, and required there: a
  link of that message, by its address as written in the message or by its
  link id; stored as the address (the same in every database, so a
  conversation file carries it as it is).
- ``withinDays``: optional, a whole number of days from 1 to 3650: only
  engagement in that many days before the Go To runs counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conductor.filters.criteria import Engagement, EngagementKind
from emails.models import Message, MessageLink
from emails.tracking.links import links_in
from lists.models import List

MAX_WITHIN_DAYS = 3650  # ten years; more is a typing mistake (and would overflow dates)
KEYS = ("engagement", "message", "link", "withinDays")

_KIND_NAMES = {kind.value.lower(): kind for kind in EngagementKind}
_KIND_WORDS = ", ".join(sorted(EngagementKind)[:-1]) + " or " + sorted(EngagementKind)[-1]


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _whole_number(raw: object) -> int | None:
    """``raw`` as an int when it is one or its digits; None otherwise."""
    if isinstance(raw, str) and raw.strip().isdecimal():
        return int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return None


class EngagementReader:
    """Reads the engagement conditions of one criteria tree, reporting each
    problem through ``error(path, message)``. Each message named is read
    once, and its links once when a condition needs them."""

    def __init__(
        self, email_list: List, conversation_id: int | None, error: Callable[[str, str], None]
    ) -> None:
        self.list = email_list
        self.conversation_id = conversation_id
        self.error = error
        self._messages: dict[int, Message | None] = {}
        self._links: dict[int, dict[str, int | None]] = {}

    def read(self, found: dict[str, Any], path: str) -> Engagement | None:
        """The condition ``found`` (canonical keys) describes, or None after
        reporting what is wrong with it."""
        if self.conversation_id is None:
            self.error(
                path or "filter",
                "an engagement condition counts the emails of a conversation; "
                "these criteria belong to none.",
            )
            return None
        kind = self.kind(found.get("engagement"), _at(path, "engagement"))
        message = self.message(found.get("message"), _at(path, "message"))
        within_days = self.within_days(found.get("withinDays"), _at(path, "withinDays"))
        link: str | None = None
        link_id: int | None = None
        link_path, raw_link = _at(path, "link"), found.get("link")
        if kind is not None and not kind.takes_link and raw_link is not None:
            self.error(link_path, f"only ClickedLink and NotClickedLink take a link, not {kind}.")
            return None
        if kind is None or message is None or (within_days is None and "withinDays" in found):
            return None
        if kind.takes_link:
            resolved = self.link(raw_link, kind, message, link_path)
            if resolved is None:
                return None
            link, link_id = resolved
        return Engagement(kind, message, link=link, link_id=link_id, within_days=within_days)

    def kind(self, raw: object, path: str) -> EngagementKind | None:
        if raw is None:
            self.error(path, f"required; use {_KIND_WORDS}.")
            return None
        kind = _KIND_NAMES.get(raw.lower()) if isinstance(raw, str) else None
        if kind is None:
            self.error(path, f"{raw!r} is not an engagement; use {_KIND_WORDS}.")
        return kind

    def message(self, raw: object, path: str) -> Message | None:
        if raw is None:
            self.error(path, "required: the id of the message whose emails count.")
            return None
        pk = _whole_number(raw)
        if pk is None:
            self.error(path, f"must be the id of a message, not {raw!r}.")
            return None
        if pk not in self._messages:  # a list may have thousands: read only those named
            self._messages[pk] = Message.objects.filter(list=self.list, pk=pk).first()
        message = self._messages[pk]
        if message is None:
            self.error(path, f"{pk} is not a message of list {self.list.name!r}.")
        return message

    def within_days(self, raw: object, path: str) -> int | None:
        if raw is None:
            return None
        days = _whole_number(raw)
        if days is None or not 1 <= days <= MAX_WITHIN_DAYS:
            self.error(
                path, f"must be a whole number of days from 1 to {MAX_WITHIN_DAYS}, not {raw!r}."
            )
            return None
        return days

    def links_of(self, message: Message) -> dict[str, int | None]:
        """``{address as written: link id}`` of the links of ``message``: those
        its emails carried (with ids) and those its templates hold now (an id
        once an email carries them)."""
        if message.pk not in self._links:
            rows = MessageLink.objects.filter(message=message).order_by("pk")
            links: dict[str, int | None] = dict(rows.values_list("url", "pk"))
            for url in links_in(message):
                links.setdefault(url, None)
            self._links[message.pk] = links
        return self._links[message.pk]

    def link(
        self, raw: object, kind: EngagementKind, message: Message, path: str
    ) -> tuple[str, int | None] | None:
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            self.error(
                path,
                f"{kind} needs the link: its address as written in message "
                f"“{message.name}”, or its id.",
            )
            return None
        links = self.links_of(message)
        pk = _whole_number(raw)
        if pk is not None:
            found = next((url for url, link_id in links.items() if link_id == pk), None)
        else:
            found = raw.strip() if isinstance(raw, str) and raw.strip() in links else None
        if found is None:
            known = ", ".join(links) if links else "none"
            self.error(
                path,
                f"{raw!r} is not a link of message “{message.name}” (its links: {known}).",
            )
            return None
        return found, links[found]
