"""A contact's activity in words: each row a sentence a marketer reads, such
as ``Opened “Welcome”`` or ``Profile updated: First Name from (empty) to
“Grace”``, never ids or raw details.

Each app words the kinds it records from its ``AppConfig.ready``: ``contacts``
its own (``contacts.own_activity_words``), and the apps above it, which
``contacts`` may not import, theirs (``emails.activity_words``,
``conductor.activity_words``):

- :func:`word_kind` gives a kind of activity its sentence;
- :func:`add_names` names what details refer to by id (a message, a
  conversation), looked up for a whole page of activity at once: one query
  per kind of name, never one per row;
- :func:`add_aside` adds a clause to the sentence of any kind (the
  conversation an email was sent in);
- :func:`add_story_lines` adds to a contact's story what is not an activity
  row (the conversations it entered), behind a permission.

A kind nobody words, a name that is gone, or details that do not look as
expected give plain words (the kind's label), never an error.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from contacts.models import Activity, ActivityKind, Contact

logger = logging.getLogger(__name__)

#: The longest a value from details is shown (an event's data can be anything).
MAX_VALUE = 80
EMPTY = "(empty)"


@dataclass(frozen=True)
class NameSource:
    """Something activity details refer to by id (a message, a profile field)."""

    #: The ids one activity refers to (ints, or strings of digits).
    refs: Callable[[Activity], Iterable[object]]
    #: ``{id: the thing or its name}`` for many ids, in one query.
    lookup: Callable[[set[int]], Mapping[int, object]]


class Names:
    """What the ids of one page of activity name, looked up once per source."""

    def __init__(self, found: Mapping[str, Mapping[int, object]]) -> None:
        self._found = found

    @classmethod
    def for_activities(cls, activities: Iterable[Activity]) -> Names:
        wanted: dict[str, set[int]] = defaultdict(set)
        for activity in activities:
            for source_name, source in _sources.items():
                wanted[source_name].update(_ids(source, activity))
        return cls({name: _sources[name].lookup(ids) for name, ids in wanted.items() if ids})

    def get(self, source: str, ref: object) -> object | None:
        """The thing ``ref`` names in ``source`` (say ``"message"``), or None."""
        found = as_id(ref)
        return None if found is None else self._found.get(source, {}).get(found)

    def quoted(self, source: str, ref: object) -> str | None:
        """Its name in quotes (``“Welcome”``), or None when unknown."""
        thing = self.get(source, ref)
        return None if thing is None else quote(str(thing))


Wording = Callable[[Activity, Names], str]
Aside = Callable[[Activity, Names], "str | None"]


@dataclass(frozen=True)
class StoryLine:
    """One line of a contact's story: when, and what happened, in words."""

    at: datetime.datetime
    text: str


#: The lines a source adds to a contact's story between two moments
#: (after the first, exclusive, up to the second, inclusive; None: no bound).
StoryLines = Callable[
    [Contact, "datetime.datetime | None", "datetime.datetime | None"], Iterable[StoryLine]
]


@dataclass(frozen=True)
class StorySource:
    """Lines of a contact's story that are not activity rows, shown to staff
    holding ``permission``."""

    permission: str
    lines: StoryLines


_wordings: dict[str, Wording] = {}
_sources: dict[str, NameSource] = {}
_asides: dict[str, Aside] = {}
_story_sources: dict[str, StorySource] = {}


def word_kind(kind: str, wording: Wording) -> None:
    """Word activities of ``kind`` with ``wording`` (again: replaced)."""
    _wordings[kind] = wording


def add_names(
    source: str,
    *,
    refs: Callable[[Activity], Iterable[object]],
    lookup: Callable[[set[int]], Mapping[int, object]],
) -> None:
    """Let wordings name what ``refs`` finds in details by ``source``
    (``names.quoted("message", details["message_id"])``)."""
    _sources[source] = NameSource(refs=refs, lookup=lookup)


def add_aside(name: str, aside: Aside) -> None:
    """Add ``aside``'s clause, when it has one, to every activity's sentence."""
    _asides[name] = aside


def add_story_lines(name: str, *, permission: str, lines: StoryLines) -> None:
    """Add ``lines`` to contacts' stories, for staff holding ``permission``."""
    _story_sources[name] = StorySource(permission=permission, lines=lines)


def story_sources() -> list[StorySource]:
    return list(_story_sources.values())


def sentences(activities: Sequence[Activity]) -> list[str]:
    """Each activity in words, the names they refer to looked up together."""
    names = Names.for_activities(activities)
    return [sentence(activity, names) for activity in activities]


def sentence(activity: Activity, names: Names) -> str:
    """``activity`` in words, with the asides that apply to it."""
    wording = _wordings.get(activity.kind, plain)
    try:
        text = wording(activity, names)
        asides = [clause for aside in _asides.values() if (clause := aside(activity, names))]
    except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError):
        # Details written by an older version, or by hand: the plain words
        # still tell what happened, and the page still opens.
        logger.warning("Activity %s: details not as expected; shown in plain words", activity.pk)
        return plain(activity, names)
    return " — ".join([text, *asides])


def plain(activity: Activity, names: Names | None = None) -> str:
    """The kind's label, with the details that are plain values (no ids)."""
    if activity.kind in ActivityKind.values:
        label = ActivityKind(activity.kind).label
    else:
        label = str(activity.kind).replace("_", " ").capitalize() or "Something happened"
    shown = {
        key: value
        for key, value in details(activity).items()
        if not key.endswith("_id") and isinstance(value, str | int | float) and value != ""
    }
    return f"{label} ({pairs(shown)})" if shown else label


# --- Helpers for wordings ------------------------------------------------------


def details(activity: Activity) -> Mapping[str, object]:
    """The activity's details, or nothing when they are not a mapping."""
    return activity.details if isinstance(activity.details, dict) else {}


def detail(activity: Activity, key: str) -> str | None:
    """A detail as text, or None when absent or empty."""
    value = details(activity).get(key)
    if value is None or value == "" or isinstance(value, dict | list):
        return None
    return str(value)


def as_id(ref: object) -> int | None:
    """``ref`` as an id: an int, or a string of digits; else None."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref
    if isinstance(ref, str) and ref.isdigit():
        return int(ref)
    return None


def quote(text: str) -> str:
    return f"“{shorten(text)}”"


def shorten(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def value_words(value: object) -> str:
    """A value from details as a reader sees it: text quoted, numbers plain,
    lists and mappings spelt out, nothing as (empty)."""
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return f"({pairs(value)})" if value else EMPTY
    if isinstance(value, list):
        return ", ".join(value_words(item) for item in value) if value else EMPTY
    return quote(str(value))


def pairs(mapping: Mapping[str, object]) -> str:
    """``key: value, key: value`` (keys as written, values as :func:`value_words`)."""
    return ", ".join(f"{key}: {value_words(value)}" for key, value in mapping.items())


def with_method(text: str, activity: Activity) -> str:
    """``text`` followed by the activity's method, when it has one."""
    method = detail(activity, "method")
    return f"{text} (method {method})" if method else text


def detail_refs(*keys: str) -> Callable[[Activity], Iterable[object]]:
    """A ``refs`` for :func:`add_names`: the values of ``keys`` in details."""

    def refs(activity: Activity) -> Iterable[object]:
        found = details(activity)
        return [found.get(key) for key in keys]

    return refs


def kinds_refs(
    kinds: Collection[str], refs: Callable[[Activity], Iterable[object]]
) -> Callable[[Activity], Iterable[object]]:
    """``refs``, only for activities of ``kinds``."""
    return lambda activity: refs(activity) if activity.kind in kinds else []


def _ids(source: NameSource, activity: Activity) -> set[int]:
    try:
        refs = list(source.refs(activity))
    except (AttributeError, KeyError, TypeError, ValueError):
        return set()  # odd details name nothing; the sentence says so in plain words
    return {found for ref in refs if (found := as_id(ref)) is not None}
