"""Go To criteria as a typed tree: the comparisons and joins of Listrak's
``Filter`` shape, which compare types apply to which field types, the
engagement conditions on the conversation's emails (``Engagement``), and the
tree (``Criteria``) that ``conductor.filters.parsing`` builds and
``conductor.filters.sql`` compiles. ``Criteria.to_settings`` writes the tree
back as JSON."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from contacts.models import ActivityKind
from emails.models import Message
from lists.models import DataType, ProfileField


class JoinType(enum.StrEnum):
    AND = "And"
    AND_NOT = "AndNot"
    OR = "Or"
    OR_NOT = "OrNot"

    @property
    def negates(self) -> bool:
        return self in (JoinType.AND_NOT, JoinType.OR_NOT)


class CompareType(enum.StrEnum):
    CONTAINS = "Contains"
    NOT_CONTAINS = "NotContains"
    EQUALS = "Equals"
    NOT_EQUALS = "NotEquals"
    GREATER_THAN = "GreaterThan"
    GREATER_THAN_OR_EQUAL_TO = "GreaterThanOrEqualTo"
    LESS_THAN = "LessThan"
    LESS_THAN_OR_EQUAL_TO = "LessThanOrEqualTo"
    BETWEEN = "Between"
    NOT_BETWEEN = "NotBetween"
    CHECKED = "Checked"
    NOT_CHECKED = "NotChecked"
    RADIO_ON = "RadioOn"
    RADIO_OFF = "RadioOff"
    IN_COMMA_LIST = "InCommaList"
    NOT_IN_COMMA_LIST = "NotInCommaList"
    IS_EMPTY = "IsEmpty"
    IS_NOT_EMPTY = "IsNotEmpty"


C = CompareType
VALUES_NEEDED: dict[CompareType, int] = {
    **dict.fromkeys(CompareType, 1),
    **dict.fromkeys((C.BETWEEN, C.NOT_BETWEEN), 2),
    **dict.fromkeys((C.CHECKED, C.NOT_CHECKED, C.RADIO_ON, C.RADIO_OFF), 0),
    **dict.fromkeys((C.IS_EMPTY, C.IS_NOT_EMPTY), 0),
}
TEXT_TYPES = frozenset({DataType.TEXT, DataType.COMMENT_AREA, DataType.CONTENT_BLOCK})
ORDERED_TYPES = frozenset({DataType.NUMERIC, DataType.DATE})
_ORDERED = (
    C.GREATER_THAN,
    C.GREATER_THAN_OR_EQUAL_TO,
    C.LESS_THAN,
    C.LESS_THAN_OR_EQUAL_TO,
    C.BETWEEN,
    C.NOT_BETWEEN,
)
APPLIES_TO: dict[CompareType, frozenset[DataType]] = {
    **dict.fromkeys((C.CONTAINS, C.NOT_CONTAINS), TEXT_TYPES),
    **dict.fromkeys(
        (C.EQUALS, C.NOT_EQUALS, C.IN_COMMA_LIST, C.NOT_IN_COMMA_LIST), TEXT_TYPES | ORDERED_TYPES
    ),
    **dict.fromkeys(_ORDERED, ORDERED_TYPES),
    **dict.fromkeys((C.CHECKED, C.NOT_CHECKED), frozenset({DataType.CHECK_BOX})),
    **dict.fromkeys((C.RADIO_ON, C.RADIO_OFF), frozenset({DataType.RADIO_BUTTON})),
    **dict.fromkeys((C.IS_EMPTY, C.IS_NOT_EMPTY), frozenset(DataType)),
}
COMMA_LISTS = frozenset({C.IN_COMMA_LIST, C.NOT_IN_COMMA_LIST})


@dataclass(frozen=True)
class Condition:
    """One comparison. ``values`` are canonical stored forms; for the comma
    lists, one per item of the list."""

    field: ProfileField
    compare: CompareType
    values: tuple[str, ...] = ()


class EngagementKind(enum.StrEnum):
    """What a contact did, or did not do, with an email of the conversation."""

    OPENED = "Opened"
    NOT_OPENED = "NotOpened"
    CLICKED = "Clicked"
    NOT_CLICKED = "NotClicked"
    CLICKED_LINK = "ClickedLink"
    NOT_CLICKED_LINK = "NotClickedLink"

    @property
    def negates(self) -> bool:
        return self.value.startswith("Not")

    @property
    def activity_kind(self) -> str:
        """The contact activity that counts: an open, or a click."""
        opened = self in (EngagementKind.OPENED, EngagementKind.NOT_OPENED)
        return ActivityKind.EMAIL_OPENED if opened else ActivityKind.EMAIL_CLICKED

    @property
    def takes_link(self) -> bool:
        return self in (EngagementKind.CLICKED_LINK, EngagementKind.NOT_CLICKED_LINK)


@dataclass(frozen=True)
class Engagement:
    """Opened, clicked (any link), or clicked ``link`` of an email of
    ``message`` sent by the conversation; with ``within_days``, only in the
    last that many days. ``link`` is the link as written in the message;
    ``link_id`` its ``MessageLink`` id, None while no email carried it yet
    (so nobody can have clicked it)."""

    kind: EngagementKind
    message: Message
    link: str | None = None
    link_id: int | None = None
    within_days: int | None = None


@dataclass(frozen=True)
class FilterSet:
    """Nested filters: ``first``, then each of ``rest`` joined to all before it."""

    first: Node
    rest: tuple[tuple[JoinType, Node], ...] = ()


Node = Condition | Engagement | FilterSet


@dataclass(frozen=True)
class Criteria:
    """Validated criteria over the profile fields of one list and the emails
    of one conversation (``conversation_id``; None: profile fields only)."""

    list_id: int
    root: Node
    conversation_id: int | None = None

    def to_settings(self) -> dict[str, Any]:
        """The JSON form, in Listrak's shape with field and message ids and
        canonical values; ``parse_criteria`` reads it back to an equal ``Criteria``."""
        return _node_settings(self.root)

    def engagements(self) -> Iterator[Engagement]:
        """The engagement conditions of the tree, in order."""
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, Engagement):
                yield node
            elif isinstance(node, FilterSet):
                stack.extend(reversed([node.first, *(member for _, member in node.rest)]))


def _node_settings(node: Node) -> dict[str, Any]:
    if isinstance(node, FilterSet):
        members = [_node_settings(node.first)]
        members += [{"joinType": str(join), **_node_settings(n)} for join, n in node.rest]
        return {"filters": members}
    if isinstance(node, Engagement):
        settings: dict[str, Any] = {"engagement": str(node.kind), "message": node.message.pk}
        if node.link is not None:
            settings["link"] = node.link
        if node.within_days is not None:
            settings["withinDays"] = node.within_days
        return settings
    values = [",".join(node.values)] if node.compare in COMMA_LISTS else list(node.values)
    return {
        "segmentationFieldId": node.field.pk,
        "compareType": str(node.compare),
        "values": [{"value": value} for value in values],
    }
