"""The import path for any database: stage the rows, then apply the batch
services to the deduplicated rows, a chunk at a time, as the rule table
(``rules.py``) says for each address.

Memory stays flat: rows wait in a temporary table, and only one chunk of them
is in Python at once. PostgreSQL has a faster path (``postgres.py``) that
gives the same results.
"""

from __future__ import annotations

import json
from collections import Counter

from django.db import connection

from contacts.imports.models import ImportRowResult, RowResult
from contacts.imports.rows import (
    APPLIES_VALUES,
    CheckedValues,
    ImportPath,
    address,
    check_values,
    fired_events,
    width_problem,
)
from contacts.imports.rules import Action, Rule, Situation, reason_for, rules_for, situation_of
from contacts.imports.source import iter_rows
from contacts.models import Ban, Contact, SubscribeMethod, Suppression, UnsubscribeMethod
from contacts.services import (
    ContactResult,
    UpdateType,
    fire_events,
    subscribe_contacts,
    unsubscribe_contacts,
    update_profiles,
)
from lists.models import Event

STAGE_BATCH = 5000
APPLY_BATCH = 2000
TABLE = "import_staging"

#: A row's result, its contact, why (if refused) and whether the contact is new.
State = tuple[str, Contact | None, str | None, bool]


class PortableImport(ImportPath):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.email_list = self.list_import.list
        self.tally: Counter[str] = Counter()
        self.events = {event.pk: event for _, event in self.layout.events}

    def run(self) -> Counter[str]:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {TABLE} (row_number INTEGER PRIMARY KEY,"
                " email VARCHAR(254), given TEXT, cells TEXT, problem TEXT)"
            )
            cursor.execute(f"CREATE INDEX {TABLE}_email ON {TABLE} (email)")
            try:
                self._stage(cursor)
                self._apply_all(cursor)
            finally:
                cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        return self.tally

    def _stage(self, cursor) -> None:
        batch: list[tuple] = []
        for number, cells in iter_rows(
            self.path, delimiter=self.list_import.delimiter, has_header=self.list_import.has_header
        ):
            problem = width_problem(self.layout, cells)
            email = given = None
            if problem is None:
                assert cells is not None  # width_problem names a problem otherwise
                given = cells[self.layout.email_index].strip()[:254]
                email, problem = address(cells, self.layout)
            batch.append((number, email, given, None if problem else json.dumps(cells), problem))
            if len(batch) == STAGE_BATCH:
                self._insert(cursor, batch)
                batch = []
        if batch:
            self._insert(cursor, batch)

    def _insert(self, cursor, batch: list[tuple]) -> None:
        cursor.executemany(f"INSERT INTO {TABLE} VALUES (%s, %s, %s, %s, %s)", batch)
        self.progress(len(batch))

    def _apply_all(self, cursor) -> None:
        after = 0
        while True:
            cursor.execute(
                f"SELECT s.row_number, s.email, s.given, s.cells, s.problem,"
                f" (SELECT MAX(t.row_number) FROM {TABLE} t WHERE t.email = s.email)"
                f" FROM {TABLE} s WHERE s.row_number > %s ORDER BY s.row_number LIMIT %s",
                [after, APPLY_BATCH],
            )
            chunk = cursor.fetchall()
            if not chunk:
                return
            self._apply(chunk)
            after = chunk[-1][0]

    def _apply(self, chunk: list[tuple]) -> None:
        results: dict[int, tuple[str, str, list[str]]] = {}
        latest: dict[str, tuple[int, list[str]]] = {}
        for number, email, given, cells, problem, last_row in chunk:
            if problem:
                results[number] = (given or "", RowResult.INVALID, [problem])
            elif number != last_row:
                reason = f"The address appears again in row {last_row}."
                results[number] = (given, RowResult.SKIPPED, [reason])
            else:
                latest[email] = (number, json.loads(cells))
                results[number] = (given, "", [])

        checked = {email: check_values(self.layout, cells) for email, (_, cells) in latest.items()}
        states = self._change_states(list(latest), checked)
        contacts: dict[str, Contact] = {}
        existing: list[tuple[Contact, dict[int, str | None]]] = []
        for email, (number, _) in latest.items():
            result, contact, refusal, created = states[email]
            given, _, reasons = results[number]
            reasons = reasons + ([refusal] if refusal else [])
            if contact is not None and result in APPLIES_VALUES:
                contacts[email] = contact
                reasons += checked[email].problems
                self.tally["invalid_values"] += len(checked[email].problems)
                if not created and checked[email].values:
                    values = {int(key): value for key, value in checked[email].values.items()}
                    existing.append((contact, values))
            results[number] = (given, result, reasons)
        if existing:
            update_profiles(
                email_list=self.email_list,
                updates=existing,
                update_type=UpdateType(self.list_import.segmentation_type),
            )
        self._fire_events(latest, contacts)

        ImportRowResult.objects.bulk_create(
            ImportRowResult(
                list_import=self.list_import,
                row_number=number,
                email=given,
                result=result,
                reason="; ".join(reasons),
            )
            for number, (given, result, reasons) in results.items()
        )
        self.tally.update(result for _, result, _ in results.values())

    def _change_states(
        self, emails: list[str], checked: dict[str, CheckedValues]
    ) -> dict[str, State]:
        """Each address's rule, from the rule table, applied by the services."""
        rules = rules_for(self.list_import.import_type)
        # Locked in address order, as the services lock them: the state read
        # here is the one the rule is chosen for.
        found = {
            c.email: c
            for c in Contact.objects.select_for_update()
            .filter(list=self.email_list, email__in=emails)
            .order_by("email")
        }
        banned, suppressed = self._blocked(emails, rules)
        decided = {
            email: rules[
                situation_of(
                    rules,
                    suppressed=email in suppressed,
                    banned=email in banned,
                    state=found[email].state if email in found else None,
                )
            ]
            for email in emails
        }
        done = self._act(decided, checked)
        states: dict[str, State] = {}
        for email, rule in decided.items():
            result = done.get(email)
            contact = result.contact if result else found.get(email)
            reason = reason_for(rule, email=email, list_name=self.email_list.name)
            states[email] = (rule.result, contact, reason, bool(result and result.created))
        return states

    def _blocked(
        self, emails: list[str], rules: dict[Situation, Rule]
    ) -> tuple[set[str], set[str]]:
        """The banned and the suppressed among ``emails``, when the rules heed them."""
        banned: set[str] = set()
        suppressed: set[str] = set()
        if Situation.BANNED in rules:
            bans = Ban.objects.filter(list=self.email_list, email__in=emails)
            banned = set(bans.values_list("email", flat=True))
        if Situation.SUPPRESSED in rules:
            suppressions = Suppression.objects.filter(email__in=emails)
            suppressed = set(suppressions.values_list("email", flat=True))
        return banned, suppressed

    def _act(
        self, decided: dict[str, Rule], checked: dict[str, CheckedValues]
    ) -> dict[str, ContactResult]:
        """Have the services do each address's action; their results by address."""
        subscribing = [e for e, r in decided.items() if r.action in (Action.CREATE, Action.CONFIRM)]
        leaving = [e for e, r in decided.items() if r.action == Action.UNSUBSCRIBE]
        done: list[ContactResult] = []
        if subscribing:
            done += subscribe_contacts(
                email_list=self.email_list,
                emails=subscribing,
                method=SubscribeMethod.IMPORT,
                initial_profiles={email: checked[email].values for email in subscribing},
            )
        if leaving:
            done += unsubscribe_contacts(
                email_list=self.email_list, emails=leaving, method=UnsubscribeMethod.IMPORT
            )
        return {result.email: result for result in done}

    def _fire_events(
        self, latest: dict[str, tuple[int, list[str]]], contacts: dict[str, Contact]
    ) -> None:
        by_event: dict[tuple[int, str], list[Contact]] = {}
        for email, contact in contacts.items():
            _, cells = latest[email]
            for event_id, value in fired_events(self.layout, cells):
                by_event.setdefault((event_id, value), []).append(contact)
        for (event_id, value), fired in by_event.items():
            event: Event = self.events[event_id]
            data = {"import_id": self.list_import.pk, "value": value}
            fire_events(event=event, contacts=fired, data=data)
