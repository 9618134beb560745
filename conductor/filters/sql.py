"""Criteria compiled to one SQL condition over ``Contact.profile``.

Profile values are read with ``lists.profile_sql.ProfileText`` (by object
key, the key a parameter); the typed readers here build on it.

Semantics (the Listrak table, made exact):

- No value (a missing key, JSON null or "") never satisfies a positive
  comparison, so it satisfies every negative one: NotEquals, NotContains,
  NotInCommaList, NotBetween, NotChecked and RadioOff match contacts with no
  value, as Listrak treats an empty field as "not equal". Each leaf is
  two-valued (never SQL NULL), so every Not*, AndNot and OrNot is the exact
  complement.
- Text comparisons (Equals, Contains, InCommaList) ignore case: on
  PostgreSQL fully, on SQLite for ASCII letters only (SQLite's LIKE/LOWER).
  Contains takes ``%``, ``_`` and ``\\`` literally.
- Numeric comparisons cast to numbers ("9" < "10"); Date ones compare dates
  (ISO text on SQLite, which orders the same). A stored value not in its
  type's form counts as no value, so one bad row cannot fail the query for
  everyone (PostgreSQL checks the whole form; SQLite, whose CAST never fails,
  only the characters). SQLite compares numbers as doubles, so values beyond
  15 significant digits may compare approximately.

Engagement conditions (``Engagement``) are an EXISTS, or NOT EXISTS, over the
contact's activity: "opened message M" is an email-opened activity of the
contact naming message M and the criteria's conversation in its details;
"clicked" any email-clicked one (a link of the message, its browser or its
pass-along link: what the conversation's report counts as clicked);
"clicked link L" one naming link L. ``withinDays`` keeps the activity of the
last N days before ``now``. The "Not" kinds are the exact complements, so
they match a contact who never got the email at all. Only emails this
conversation sent count, from any of its versions and any earlier stay of
the contact in it: the same message sent by another conversation is that
conversation's engagement, and its report's. On PostgreSQL the subquery is
one probe of the ``activity_conversation`` index (conversation, kind,
message, contact, time: migration ``conductor.0012``) per contact.
"""

from __future__ import annotations

import datetime
from typing import Any, cast

from django.db.models import (
    BooleanField,
    DateField,
    DecimalField,
    Exists,
    Func,
    OuterRef,
    Q,
    TextField,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, IContains, IExact
from django.utils import timezone

from conductor.filters.criteria import (
    TEXT_TYPES,
    C,
    CompareType,
    Condition,
    Criteria,
    Engagement,
    JoinType,
    Node,
)
from contacts.models import Activity
from lists.field_types import NUMERIC_PATTERN
from lists.models import DataType
from lists.profile_sql import ProfileText

ISO_DATE_SQL_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
ISO_DATE_GLOB = "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]"
NOT_A_NUMBER_GLOB = "*[^0-9.eE+-]*"

Sql = tuple[str, list[Any]]


class ProfileNumber(ProfileText):
    """A Numeric field's value as a number, NULL when absent or not a number."""

    output_field = DecimalField(max_digits=18, decimal_places=2)

    def guard(self, compiler: Any, connection: Any) -> Sql:
        """A condition true only when the stored text is a number."""
        value, params = self.extract(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{value} ~ %s", [*params, NUMERIC_PATTERN]
        # SQLite's CAST never fails (it reads "abc" as 0), so refuse what cannot be a number.
        return f"{value} <> '' AND {value} NOT GLOB %s", [*params, *params, NOT_A_NUMBER_GLOB]

    def as_type(self, compiler: Any, connection: Any) -> Sql:
        """The stored text as a number, for use where ``guard`` holds."""
        value, params = self.extract(compiler, connection)
        if connection.vendor == "postgresql":
            return f"({value})::numeric", params
        # NUMERIC affinity: SQLite then compares a (text) parameter as a number too.
        return f"CAST({value} AS NUMERIC)", params

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Sql:  # type: ignore[override]  # as ProfileText.as_sql: a list of params
        guard, guard_params = self.guard(compiler, connection)
        value, params = self.extract(compiler, connection)
        if connection.vendor == "postgresql":
            # CASE, not AND: PostgreSQL may evaluate a cast before a guard beside it.
            return f"(CASE WHEN {guard} THEN ({value})::numeric END)", [*guard_params, *params]
        # The CAST is outermost, so the whole expression has NUMERIC affinity.
        sql = f"CAST((CASE WHEN {guard} THEN {value} END) AS NUMERIC)"
        return sql, [*guard_params, *params]

    as_sqlite = as_sql


class ProfileDate(ProfileText):
    """A Date field's value as a date (ISO text on SQLite, which orders alike)."""

    output_field = DateField()

    def guard(self, compiler: Any, connection: Any) -> Sql:
        """A condition true only when the stored text is an ISO date."""
        value, params = self.extract(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{value} ~ %s", [*params, ISO_DATE_SQL_PATTERN]
        return f"{value} GLOB %s", [*params, ISO_DATE_GLOB]

    def as_type(self, compiler: Any, connection: Any) -> Sql:
        """The stored text as a date, for use where ``guard`` holds."""
        value, params = self.extract(compiler, connection)
        if connection.vendor == "postgresql":
            return f"({value})::date", params
        return value, params

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Sql:  # type: ignore[override]  # as ProfileText.as_sql: a list of params
        guard, guard_params = self.guard(compiler, connection)
        value, params = self.as_type(compiler, connection)
        return f"(CASE WHEN {guard} THEN {value} END)", [*guard_params, *params]

    as_sqlite = as_sql


class TypedComparison(Func):
    """``typed`` (a ``ProfileNumber`` or ``ProfileDate``) compared with
    ``bounds`` (canonical stored values): ``>``, ``>=``, ``<``, ``<=``,
    ``BETWEEN`` the two bounds, or ``=`` any of them. FALSE, never NULL, for
    a contact with no value or a value not in the field's form, so its NOT
    is the exact complement.

    The stored value is read, checked and cast once per row (one CASE),
    as hand-written SQL would; reading it as ``typed IS NOT NULL AND typed
    > x`` does all that twice (bench/criteria.py)."""

    output_field = BooleanField()

    def __init__(self, typed: ProfileNumber | ProfileDate, test: str, bounds: list[str]) -> None:
        if test not in ("=", ">", ">=", "<", "<=", "BETWEEN"):
            raise ValueError(f"no comparison {test!r}")
        self.test = test
        self.bounds = bounds
        super().__init__(typed)

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Sql:  # type: ignore[override]  # as ProfileText.as_sql: a list of params
        typed = cast(ProfileNumber | ProfileDate, self.source_expressions[0])  # as given
        guard, guard_params = typed.guard(compiler, connection)
        value, params = typed.as_type(compiler, connection)
        bound = "%s"
        if connection.vendor == "postgresql":  # the bounds are text: cast them alike
            bound = "%s::numeric" if isinstance(typed, ProfileNumber) else "%s::date"
        if self.test == "BETWEEN":
            test, test_params = f"{value} BETWEEN {bound} AND {bound}", [*params, *self.bounds]
        else:
            tests = [f"{value} {self.test} {bound}" for _ in self.bounds]
            test = " OR ".join(tests)
            test_params = [p for b in self.bounds for p in (*params, b)]
        return f"(CASE WHEN {guard} THEN ({test}) ELSE FALSE END)", [*guard_params, *test_params]

    as_sqlite = as_sql  # type: ignore[assignment]  # not Func's numeric CAST wrapper: a boolean


def criteria_q(criteria: Criteria, *, now: datetime.datetime | None = None) -> Q:
    """The condition selecting the contacts that match ``criteria``, for
    ``Contact.objects.filter(list=..., criteria_q(criteria))``: one query, no
    Python per row. It does not restrict the list itself. ``withinDays``
    counts back from ``now`` (the present moment when not given)."""
    return _Compiler(criteria.conversation_id, now or timezone.now()).node_q(criteria.root)


class _Compiler:
    def __init__(self, conversation_id: int | None, now: datetime.datetime) -> None:
        self.conversation_id = conversation_id
        self.now = now

    def node_q(self, node: Node) -> Q:
        if isinstance(node, Condition):
            return _condition_q(node)
        if isinstance(node, Engagement):
            return self.engagement_q(node)
        q = self.node_q(node.first)
        for join, member in node.rest:
            term = ~self.node_q(member) if join.negates else self.node_q(member)
            q = q & term if join in (JoinType.AND, JoinType.AND_NOT) else q | term
        return q

    def engagement_q(self, node: Engagement) -> Q:
        assert self.conversation_id is not None, "parse_criteria refuses engagement without one"
        if node.kind.takes_link and node.link_id is None:
            # No email carried the link yet (it has no id): nobody clicked it.
            engaged = Q(pk__in=[])
        else:
            activity = Activity.objects.filter(
                # Spelt as the activity_conversation index is keyed (conductor.0012).
                details__conversation_id=self.conversation_id,
                kind=node.kind.activity_kind,
                details__message_id=node.message.pk,
                contact_id=OuterRef("pk"),
            )
            if node.link_id is not None:
                activity = activity.filter(details__link_id=node.link_id)
            if node.within_days is not None:
                since = self.now - datetime.timedelta(days=node.within_days)
                activity = activity.filter(occurred_at__gte=since)
            engaged = Q(Exists(activity))
        return ~engaged if node.kind.negates else engaged


_NEGATIVE = {
    C.NOT_CONTAINS: C.CONTAINS,
    C.NOT_EQUALS: C.EQUALS,
    C.NOT_BETWEEN: C.BETWEEN,
    C.NOT_CHECKED: C.CHECKED,
    C.RADIO_OFF: C.RADIO_ON,
    C.NOT_IN_COMMA_LIST: C.IN_COMMA_LIST,
    C.IS_NOT_EMPTY: C.IS_EMPTY,
}
_TESTS = {
    C.GREATER_THAN: ">",
    C.GREATER_THAN_OR_EQUAL_TO: ">=",
    C.LESS_THAN: "<",
    C.LESS_THAN_OR_EQUAL_TO: "<=",
}


def _condition_q(condition: Condition) -> Q:
    positive = _NEGATIVE.get(condition.compare)
    if positive is not None:
        return ~_positive_q(condition, positive)
    return _positive_q(condition, condition.compare)


def _positive_q(condition: Condition, compare: CompareType) -> Q:
    key, values = condition.field.key, condition.values
    data_type = DataType(condition.field.data_type)
    # Coalesced, the text is never NULL, so its comparisons are two-valued.
    text = Coalesce(ProfileText(key), Value(""), output_field=TextField())
    if compare == C.IS_EMPTY:
        return Q(Exact(text, ""))
    if compare in (C.CHECKED, C.RADIO_ON):
        return Q(Exact(text, "on"))
    if compare == C.CONTAINS:
        return Q(IContains(text, values[0]))
    if data_type in TEXT_TYPES:  # Equals, InCommaList
        return _any(Q(IExact(text, value)) for value in values)
    typed: ProfileNumber | ProfileDate
    typed = ProfileNumber(key) if data_type == DataType.NUMERIC else ProfileDate(key)
    test = "BETWEEN" if compare == C.BETWEEN else _TESTS.get(compare, "=")  # =: Equals, InCommaList
    return Q(TypedComparison(typed, test, list(values)))


def _any(terms: Any) -> Q:
    q = Q()
    for term in terms:
        q |= term
    return q
