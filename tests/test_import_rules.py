"""One rule table (contacts/imports/rules.py) drives every import path.

Each import type meets an address in each situation (new, subscribed,
pending, unsubscribed, suppressed, banned, and a ban on a subscriber), on every
import path the database has; the row gets the table's result and reason, and
the contact ends in the state the table's action gives.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from contacts.imports.models import ImportStatus, ImportType, RowResult
from contacts.imports.rules import (
    RULES,
    Action,
    Rule,
    Situation,
    check_rules,
    reason_for,
    rules_for,
    situation_of,
)
from contacts.models import Ban, Contact, SubscriptionState, Suppression
from tests.factories import ContactFactory, ListFactory
from tests.imports_helpers import do_import, results

pytestmark = pytest.mark.django_db

ADDRESS = "someone@example.com"
#: ``(suppressed, banned, the contact's state or None when not on the list)``
PLACES = [
    (False, False, None),
    (False, False, SubscriptionState.SUBSCRIBED),
    (False, False, SubscriptionState.PENDING),
    (False, False, SubscriptionState.UNSUBSCRIBED),
    (True, False, None),
    (False, True, None),
    (False, True, SubscriptionState.SUBSCRIBED),
    (True, True, SubscriptionState.PENDING),
]
#: The state each action leaves the contact in.
AFTER = {
    Action.CREATE: SubscriptionState.SUBSCRIBED,
    Action.CONFIRM: SubscriptionState.SUBSCRIBED,
    Action.UNSUBSCRIBE: SubscriptionState.UNSUBSCRIBED,
}


def place(email_list, *, suppressed: bool, banned: bool, state: str | None) -> None:
    if suppressed:
        Suppression.objects.create(email=ADDRESS)
    if banned:
        Ban.objects.create(list=email_list, email=ADDRESS)
    if state == SubscriptionState.PENDING:
        ContactFactory(list=email_list, email=ADDRESS, state=state, subscribed_at=None)
    elif state == SubscriptionState.UNSUBSCRIBED:
        ContactFactory(list=email_list, email=ADDRESS, state=state, unsubscribed_at=timezone.now())
    elif state is not None:
        ContactFactory(list=email_list, email=ADDRESS, state=state)


@pytest.mark.parametrize("import_type", ImportType.values)
@pytest.mark.parametrize(("suppressed", "banned", "state"), PLACES)
def test_each_import_type_does_what_the_table_says_in_each_situation(
    engine, import_type, suppressed, banned, state
):
    email_list = ListFactory(name="O'Brien's 100% list")
    place(email_list, suppressed=suppressed, banned=banned, state=state)
    rules = rules_for(import_type)
    rule = rules[situation_of(rules, suppressed=suppressed, banned=banned, state=state)]

    content = f"email\n{ADDRESS.upper()}\n"
    done = do_import(email_list, content, engine=engine, import_type=import_type)

    assert done.status == ImportStatus.PROCESSING_COMPLETED, done.error
    reason = reason_for(rule, email=ADDRESS, list_name=email_list.name) or ""
    assert results(done) == [(1, ADDRESS.upper(), rule.result, reason)]
    after = Contact.objects.filter(list=email_list, email=ADDRESS).first()
    assert (after.state if after else None) == AFTER.get(rule.action, state)


def test_the_rules_are_tested_in_the_order_of_the_situations():
    rules = rules_for(ImportType.ADD_SUBSCRIBERS)
    assert list(rules) == list(Situation)
    # A suppression comes before a ban, and both before the contact's state.
    picked = situation_of(rules, suppressed=True, banned=True, state=SubscriptionState.SUBSCRIBED)
    assert picked == Situation.SUPPRESSED
    # An import type with no rule for a ban ignores it.
    rules = rules_for(ImportType.REMOVE_SUBSCRIBERS)
    picked = situation_of(rules, suppressed=True, banned=True, state=SubscriptionState.PENDING)
    assert picked == Situation.PENDING


def test_a_reason_names_the_address_and_the_list_as_given():
    rule = RULES[ImportType.ADD_SUBSCRIBERS][Situation.BANNED]
    reason = reason_for(rule, email="a@example.com", list_name="{email} 100%")
    assert reason == "a@example.com is banned from list '{email} 100%'."


@pytest.mark.parametrize(
    ("situation", "rule"),
    [
        # Only a new address can be created, only a contact can change state.
        (Situation.NEW, Rule(Action.UNSUBSCRIBE, RowResult.UNSUBSCRIBED)),
        (Situation.PENDING, Rule(Action.CREATE, RowResult.SUBSCRIBED)),
        # A refused address is left alone.
        (Situation.BANNED, Rule(Action.CREATE, RowResult.SUBSCRIBED)),
        # An action's rows must be told from skipped ones by their result.
        (Situation.NEW, Rule(Action.CREATE, RowResult.SKIPPED)),
    ],
)
def test_a_table_the_sql_path_could_not_follow_is_refused(situation, rule):
    table = {import_type: dict(rules) for import_type, rules in RULES.items()}
    table[ImportType.ADD_SUBSCRIBERS][situation] = rule
    with pytest.raises(ValueError, match="cannot be written"):
        check_rules(table)


def test_a_table_missing_a_state_is_refused():
    table = {import_type: dict(rules) for import_type, rules in RULES.items()}
    del table[ImportType.UPDATE_SUBSCRIBERS][Situation.PENDING]
    with pytest.raises(ValueError, match="no rule for"):
        check_rules(table)
