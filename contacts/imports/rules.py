"""What an import does to each address: the subscription rules, written once.

For each import type, the table below says, for every situation an address can
be in, what the import does to its contact (``Action``) and which result its
row gets, with a reason where the row is refused or skipped. The portable path
looks each address up here (``situation_of``, then ``rules_for``); the
PostgreSQL path turns the same table into the CASE of its planning statement
and the filters of its writes (``pg_planning``, ``pg_writing``).

Rows that are invalid or repeat a later row's address are decided before any
of this (``Invalid``, ``Skipped``): the table is about the last row of each
valid address.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from contacts.imports.models import ImportType, RowResult
from contacts.models import SubscriptionState


class Situation(enum.StrEnum):
    """Where an address stands when its row is applied, in the order they are
    tested: a suppression or ban comes before the contact's state. An import
    type with no rule for a suppression or ban ignores it."""

    SUPPRESSED = "Suppressed"
    BANNED = "Banned"
    NEW = "New"  # not on the list
    SUBSCRIBED = SubscriptionState.SUBSCRIBED
    PENDING = SubscriptionState.PENDING
    UNSUBSCRIBED = SubscriptionState.UNSUBSCRIBED
    #: Only ever sent transactional email: to an import, a new address.
    NEVER_SUBSCRIBED = SubscriptionState.NEVER_SUBSCRIBED


BLOCKED = (Situation.SUPPRESSED, Situation.BANNED)
STATES = tuple(Situation(state) for state in SubscriptionState.values)


class Action(enum.StrEnum):
    """What the import does to the contact, in the order the writes run."""

    NONE = "none"
    CREATE = "create"  # a new contact, subscribed, starting with the row's values
    CONFIRM = "confirm"  # a pending contact becomes subscribed
    UNSUBSCRIBE = "unsubscribe"


@dataclass(frozen=True)
class Rule:
    """What an import of one type does to an address in one situation."""

    action: Action
    result: RowResult
    #: Why, with ``{email}`` (the normalised address) and ``{list}`` (the list's name).
    reason: str = ""


NOT_ON_LIST = "The address is not on the list."

_ADD = {
    Situation.SUPPRESSED: Rule(
        Action.NONE, RowResult.SUPPRESSED, "{email} is suppressed and cannot be subscribed."
    ),
    Situation.BANNED: Rule(Action.NONE, RowResult.BANNED, "{email} is banned from list '{list}'."),
    Situation.NEW: Rule(Action.CREATE, RowResult.SUBSCRIBED),
    Situation.SUBSCRIBED: Rule(Action.NONE, RowResult.ALREADY_SUBSCRIBED),
    Situation.PENDING: Rule(Action.CONFIRM, RowResult.SUBSCRIBED),
    Situation.UNSUBSCRIBED: Rule(Action.NONE, RowResult.PREVIOUSLY_UNSUBSCRIBED),
    # Subscribed as a new address is: its first subscription, the row's values its profile.
    Situation.NEVER_SUBSCRIBED: Rule(Action.CONFIRM, RowResult.SUBSCRIBED),
}

RULES: dict[ImportType, dict[Situation, Rule]] = {
    ImportType.ADD_SUBSCRIBERS: _ADD,
    ImportType.ADD_SUBSCRIBERS_AND_SEGMENTATION_DATA: _ADD,
    ImportType.UPDATE_SUBSCRIBERS: {
        Situation.NEW: Rule(Action.NONE, RowResult.SKIPPED, NOT_ON_LIST),
        Situation.SUBSCRIBED: Rule(Action.NONE, RowResult.ALREADY_SUBSCRIBED),
        Situation.PENDING: Rule(Action.NONE, RowResult.ALREADY_SUBSCRIBED),
        Situation.UNSUBSCRIBED: Rule(Action.NONE, RowResult.PREVIOUSLY_UNSUBSCRIBED),
        Situation.NEVER_SUBSCRIBED: Rule(Action.NONE, RowResult.SKIPPED, NOT_ON_LIST),
    },
    ImportType.REMOVE_SUBSCRIBERS: {
        Situation.NEW: Rule(Action.NONE, RowResult.SKIPPED, NOT_ON_LIST),
        Situation.SUBSCRIBED: Rule(Action.UNSUBSCRIBE, RowResult.UNSUBSCRIBED),
        Situation.PENDING: Rule(Action.UNSUBSCRIBE, RowResult.UNSUBSCRIBED),
        Situation.UNSUBSCRIBED: Rule(Action.NONE, RowResult.ALREADY_UNSUBSCRIBED),
        Situation.NEVER_SUBSCRIBED: Rule(Action.NONE, RowResult.SKIPPED, NOT_ON_LIST),
    },
}


def rules_for(import_type: str) -> dict[Situation, Rule]:
    """The rules of ``import_type``, in the order their situations are tested."""
    rules = RULES[ImportType(import_type)]
    return {situation: rules[situation] for situation in Situation if situation in rules}


def situation_of(
    rules: Mapping[Situation, Rule], *, suppressed: bool, banned: bool, state: str | None
) -> Situation:
    """The first situation of ``rules`` that holds for an address; ``state``
    is its contact's, ``None`` when it is not on the list."""
    holds = {Situation.SUPPRESSED: suppressed, Situation.BANNED: banned}
    return next(s for s in rules if holds.get(s, s == (state or Situation.NEW)))


def actions_of(rules: Mapping[Situation, Rule]) -> list[Action]:
    """The actions these rules take, in the order their writes run."""
    taken = {rule.action for rule in rules.values()}
    return [action for action in Action if action != Action.NONE and action in taken]


def reason_around(rule: Rule, list_name: str) -> list[str]:
    """The rule's reason as the texts around each place the address goes (one
    text when it names no address); ``[]`` when it gives none."""
    if not rule.reason:
        return []
    return [text.replace("{list}", list_name) for text in rule.reason.split("{email}")]


def reason_for(rule: Rule, *, email: str, list_name: str) -> str | None:
    """The rule's reason for this address, or ``None``."""
    return email.join(reason_around(rule, list_name)) or None


#: The actions a situation may take: only a new address is created, only a
#: contact changes state, and a suppressed or banned address is left alone.
_POSSIBLE = {
    Situation.SUPPRESSED: {Action.NONE},
    Situation.BANNED: {Action.NONE},
    Situation.NEW: {Action.NONE, Action.CREATE},
    **{state: {Action.NONE, Action.CONFIRM, Action.UNSUBSCRIBE} for state in STATES},
}


def check_rules(table: Mapping[ImportType, Mapping[Situation, Rule]]) -> None:
    """Raise ValueError for a table that misses a state or that the
    PostgreSQL path could not follow (``RULES`` is checked at import). That
    path finds the rows of an action by their result and the contact's state,
    so a rule that acts must give a result no row decided before it gets."""
    for import_type in ImportType:
        rules = table[import_type]
        missing = {Situation.NEW, *STATES} - rules.keys()
        if missing:
            raise ValueError(f"{import_type}: no rule for {sorted(missing)}")
        earlier = {RowResult.INVALID, RowResult.SKIPPED}
        earlier |= {rules[s].result for s in BLOCKED if s in rules}
        for situation, rule in rules.items():
            acts = rule.action != Action.NONE
            if rule.action not in _POSSIBLE[situation] or (acts and rule.result in earlier):
                raise ValueError(f"{import_type}, {situation}: {rule} cannot be written")


check_rules(RULES)
