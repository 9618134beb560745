"""Writing for the PostgreSQL import path: set-based statements over the plan.

Each statement reads the plan table (``pg_planning.PLAN``) and writes every
row it concerns at once, with the activity of what it changed: new contacts,
the state changes the rule table (``rules``) gives each import type, profile
values, events, and the per-row results. Another writer's change since the
plan was made is re-checked by each write and left as it is.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass

from django.db.backends.utils import CursorWrapper

from contacts.hooks import activities_recorded, announce_activities
from contacts.imports.models import ImportRowResult, ListImport, RowResult
from contacts.imports.pg_planning import PLAN, applies, in_situations
from contacts.imports.rules import Action, Situation, actions_of, rules_for
from contacts.imports.source import Layout
from contacts.imports.sql import Bind, table
from contacts.models import (
    Activity,
    ActivityKind,
    Contact,
    SubscribeMethod,
    SubscriptionState,
    UnsubscribeMethod,
)

#: The new contacts' ids by address, kept only when event columns need them.
NEW = "import_new"
#: The ids of the activity written, kept only for the hook's receivers.
ACTIVITY = "import_activity"


@dataclass(frozen=True)
class _StateChange:
    """How an action changes an existing contact's state, and its activity."""

    state: SubscriptionState
    dates: str
    method_column: str
    method: str
    kind: ActivityKind


_STATE_CHANGES = {
    Action.CONFIRM: _StateChange(
        SubscriptionState.SUBSCRIBED,
        # A contact that was only ever sent transactional email starts with the
        # row's values, as a new one does (``_update_profiles`` leaves it out).
        "subscribed_at = coalesce(c.subscribed_at, now()), profile = CASE"
        f" WHEN c.state = '{SubscriptionState.NEVER_SUBSCRIBED}'"
        " THEN c.profile || coalesce(p.new_values, '{}') ELSE c.profile END",
        "subscribe_method",
        SubscribeMethod.IMPORT,
        ActivityKind.SUBSCRIBED,
    ),
    Action.UNSUBSCRIBE: _StateChange(
        SubscriptionState.UNSUBSCRIBED,
        "unsubscribed_at = now()",
        "unsubscribe_method",
        UnsubscribeMethod.IMPORT,
        ActivityKind.UNSUBSCRIBED,
    ),
}


def write_plan(cursor: CursorWrapper, *, list_import: ListImport, layout: Layout) -> None:
    """Apply the plan: contacts, their values, events, activity and the
    per-row results; then announce the activity to the hook's receivers."""
    _Writer(cursor, list_import, layout).run()


class _Writer:
    def __init__(self, cursor: CursorWrapper, list_import: ListImport, layout: Layout) -> None:
        self.cursor = cursor
        self.list_import = list_import
        self.layout = layout
        self.rules = rules_for(list_import.import_type)
        self.log = (
            f"INSERT INTO {table(Activity)}"
            " (contact_id, list_id, email, kind, occurred_at, details)"
        )
        self.note_activity = (
            f"INSERT INTO {ACTIVITY} SELECT id FROM logged"
            if activities_recorded.has_listeners()
            else "SELECT count(*) FROM logged"
        )
        self.kinds: set[str] = set()  # of the activity written, for the hook's receivers

    def run(self) -> None:
        self.cursor.execute(f"CREATE TEMPORARY TABLE {ACTIVITY} (id bigint) ON COMMIT DROP")
        self.cursor.execute(f"CREATE TEMPORARY TABLE {NEW} (id bigint, email text) ON COMMIT DROP")
        for action in actions_of(self.rules):
            if action == Action.CREATE:
                self._insert_new()
            else:
                self._change_state(action, _STATE_CHANGES[action])
        if self.layout.fields:
            self._update_profiles()
        self._fire_events()
        self._record_results()
        self._announce()

    def _bind(self) -> Bind:
        return Bind(list=self.list_import.list_id, import_id=self.list_import.pk)

    def _execute(self, sql: str, bind: Bind) -> None:
        self.cursor.execute(sql, bind.params)

    def _rows_of(self, action: Action, bind: Bind) -> str:
        """SQL true for the plan rows ``p`` whose rule takes ``action``: known
        by their result and their contact's state (``rules.check_rules``)."""
        by_result: dict[RowResult, list[Situation]] = {}
        for situation, rule in self.rules.items():
            if rule.action == action:
                by_result.setdefault(rule.result, []).append(situation)
        return " OR ".join(
            f"(p.result = {bind(result)} AND ({in_situations(situations, bind, 'p.')}))"
            for result, situations in by_result.items()
        )

    def _insert_new(self) -> None:
        # Inserted in address order with keys rising in that order, so both
        # unique indexes are appended to rather than written all over. A key is
        # ``new_email_key``'s layout: 48 bits of time (here the import's start
        # plus the row's rank), then 80 unguessable bits, here SHA-256 of a
        # secret drawn for this statement and the rank (a random UUID and MD5 per
        # row cost twice as much). The new ids are kept only when event columns
        # need them.
        keep_new = f"INSERT INTO {NEW} SELECT id, email FROM inserted" if self.layout.events else ""
        if not keep_new:
            keep_new = "SELECT count(*) FROM inserted"
        self.kinds.add(ActivityKind.SUBSCRIBED)
        bind = self._bind()
        self._execute(
            f"""
            WITH inserted AS (
              INSERT INTO {table(Contact)} (list_id, email, email_key, external_contact_id,
                  state, subscribed_at, subscribe_method, unsubscribe_method, profile,
                  created_at, updated_at)
              SELECT %(list)s, addr,
                     lpad(to_hex(({bind(time.time_ns() // 1000)}::bigint + rank)
                                 & 281474976710655), 12, '0')
                       || encode(substring(sha256(({bind(secrets.token_hex(32))} || rank)::bytea)
                                           FROM 1 FOR 10), 'hex'),
                     '', {bind(SubscriptionState.SUBSCRIBED)}, now(),
                     {bind(SubscribeMethod.IMPORT)}, '', coalesce(new_values, '{{}}'), now(), now()
              FROM (SELECT addr, new_values, row_number() OVER (ORDER BY addr) AS rank
                    FROM {PLAN} p WHERE {self._rows_of(Action.CREATE, bind)}) AS fresh
              ORDER BY addr
              -- A contact another writer added since the plan was made is left as it is.
              ON CONFLICT (list_id, email) DO NOTHING
              RETURNING id, email
            ), logged AS (
              {self.log}
              SELECT id, %(list)s, email, {bind(ActivityKind.SUBSCRIBED)}, now(),
                     {bind(json.dumps({"method": SubscribeMethod.IMPORT}))}::jsonb
              FROM inserted
              RETURNING id
            ), noted AS ({self.note_activity})
            {keep_new}
            """,
            bind,
        )

    def _change_state(self, action: Action, change: _StateChange) -> None:
        bind = self._bind()
        method = bind(change.method)
        # "c.state = p.state": if another writer changed the contact since the
        # plan was made, the update re-checks the fresh row and leaves it be.
        changed = f"""
              UPDATE {table(Contact)} c SET state = {bind(change.state)}, {change.dates},
                     {change.method_column} = {method}, updated_at = now()
              FROM {PLAN} p
              WHERE p.contact_id = c.id AND c.state = p.state AND ({self._rows_of(action, bind)})
              RETURNING c.id, c.list_id, c.email"""
        details = f"jsonb_build_object('method', {method}::text)"
        self._update_and_log(changed, kind=change.kind, details=details, bind=bind)

    def _update_profiles(self) -> None:
        """Existing contacts' values, merged by the segmentation import type,
        with an activity naming every value that changed.

        The merge reads the row being updated, so a concurrent writer's values
        are kept; the "old" values of the activity are those the plan read,
        which such a race can make stale (the data never is).
        """
        update_type = self.list_import.segmentation_type
        if update_type == "Append":
            merged = "coalesce(s.new_values, '{}') || c.profile"
        elif update_type == "Overwrite":
            merged = "(c.profile - coalesce(s.blanks, '{}')) || coalesce(s.new_values, '{}')"
        else:
            merged = "c.profile || coalesce(s.new_values, '{}')"
        bind = self._bind()
        changed = f"""
              UPDATE {table(Contact)} c SET profile = {merged}, updated_at = now()
              FROM {PLAN} s
              WHERE {applies("s.", bind)} AND c.id = s.contact_id AND {merged} <> c.profile
                AND s.state IS DISTINCT FROM {bind(SubscriptionState.NEVER_SUBSCRIBED)}
              RETURNING c.id, c.list_id, c.email, s.old_values AS old, c.profile AS new"""
        details = self._details(bind)
        self._update_and_log(changed, kind=ActivityKind.PROFILE_UPDATED, details=details, bind=bind)

    def _update_and_log(
        self, changed: str, *, kind: ActivityKind, details: str, bind: Bind
    ) -> None:
        """Run the UPDATE ``changed`` (returning the contacts' ``id, list_id,
        email`` and what ``details`` reads) with an activity of ``kind`` for
        each contact it changed, in one statement."""
        self.kinds.add(kind)
        self._execute(
            f"""
            WITH changed AS ({changed}
            ), logged AS (
              {self.log}
              SELECT id, list_id, email, {bind(kind)}, now(), {details}
              FROM changed RETURNING id
            )
            {self.note_activity}
            """,
            bind,
        )

    def _details(self, bind: Bind) -> str:
        """``{"update_type", "changes": {key: {"old", "new"}}}`` with the mapped
        fields that changed (only they can: no walk over every key of every
        profile). Written as JSON text and parsed once: composing it with jsonb
        functions, each of which builds a whole value, costs twice as much."""
        parts = []
        for _, field in self.layout.fields:
            key = bind(field.key)
            old, new = (f"coalesce(({side} -> {key})::text, 'null')" for side in ("old", "new"))
            opening = bind(json.dumps(field.key) + ': {"old": ')
            parts.append(
                f"CASE WHEN old -> {key} IS DISTINCT FROM new -> {key}"
                f" THEN {opening} || {old} || ', \"new\": ' || {new} || '}}' END"
            )
        head = bind(
            '{"update_type": ' + json.dumps(self.list_import.segmentation_type) + ', "changes": {'
        )
        return f"({head} || concat_ws(', ', {', '.join(parts)}) || '}}}}')::jsonb"

    def _fire_events(self) -> None:
        for n, (_, event) in enumerate(self.layout.events):
            if not event.is_active:
                continue  # a blocked event does nothing
            self.kinds.add(ActivityKind.EVENT_FIRED)
            bind = self._bind()
            self._execute(
                f"""
                WITH logged AS (
                  {self.log}
                  SELECT coalesce(p.contact_id, n.id), %(list)s, p.addr,
                         {bind(ActivityKind.EVENT_FIRED)}, now(), jsonb_build_object(
                           'event_id', {bind(event.pk)}::bigint,
                           'event_name', {bind(event.name)}::text,
                           'data', jsonb_build_object('import_id', %(import_id)s::bigint,
                                                      'value', p.e{n}))
                  FROM {PLAN} p LEFT JOIN {NEW} n ON n.email = p.addr AND p.contact_id IS NULL
                  WHERE {applies("p.", bind)} AND p.e{n} <> ''
                    AND coalesce(p.contact_id, n.id) IS NOT NULL
                  ORDER BY p.row_number
                  RETURNING id
                )
                {self.note_activity}
                """,
                bind,
            )

    def _record_results(self) -> None:
        self._execute(
            f"""
            INSERT INTO {table(ImportRowResult)} (list_import_id, row_number, email, result, reason)
            SELECT %(import_id)s, row_number, given, result,
                   concat_ws('; ', reason, array_to_string(problems, '; '))
            FROM {PLAN}
            """,
            self._bind(),
        )

    def _announce(self) -> None:
        if not activities_recorded.has_listeners():
            return
        self.cursor.execute(f"SELECT id FROM {ACTIVITY} ORDER BY id")
        ids = itertools.chain.from_iterable(iter(lambda: self.cursor.fetchmany(10_000), []))
        announce_activities(
            (row[0] for row in ids),
            list_ids=frozenset({self.list_import.list_id}),
            kinds=frozenset(self.kinds),
        )
