"""core.bulk: update_rows and insert_rows write exactly what save() would."""

import datetime

import pytest

from conductor.models import Coupon, CouponPool
from contacts.models import Contact
from core.bulk import insert_rows, update_rows
from lists.models import List
from tests.factories import ContactFactory, ListFactory

pytestmark = pytest.mark.django_db

AWKWARD = ['it\'s "quoted"', "back\\slash", "ünïcødé ✓ 😀", "comma, {brace}", "", "NULL"]


def test_update_rows_writes_every_value_as_save_would():
    contacts = ContactFactory.create_batch(len(AWKWARD))
    when = datetime.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=datetime.UTC)
    for n, (contact, text) in enumerate(zip(contacts, AWKWARD, strict=True)):
        contact.external_contact_id = text
        contact.profile = {"1": text, "nested": {"list": [n, None, True, 1.5]}}
        contact.subscribed_at = when + datetime.timedelta(days=n)
    contacts[0].profile = {}

    update_rows(contacts, ["external_contact_id", "profile", "subscribed_at"])

    for n, contact in enumerate(contacts):
        stored = Contact.objects.get(pk=contact.pk)
        assert stored.external_contact_id == AWKWARD[n]
        assert stored.profile == contact.profile
        assert stored.subscribed_at == when + datetime.timedelta(days=n)


def test_update_rows_dates_nulls_booleans_and_foreign_keys():
    first, second = ListFactory(), ListFactory()
    pool = CouponPool.objects.create(list=first, name="Pool")
    coupons = [
        Coupon.objects.create(pool=pool, code=f"C{n}", expires_on=datetime.date(2026, 1, 1))
        for n in range(3)
    ]
    coupons[0].expires_on = datetime.date(2028, 2, 29)
    coupons[1].expires_on = None
    coupons[2].assigned_at = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    update_rows(coupons, ["expires_on", "assigned_at"])
    assert [
        (c.expires_on, c.assigned_at) for c in Coupon.objects.filter(pool=pool).order_by("pk")
    ] == [
        (datetime.date(2028, 2, 29), None),
        (None, None),
        (datetime.date(2026, 1, 1), datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)),
    ]

    first.double_opt_in, second.double_opt_in = True, False
    update_rows([first, second], ["double_opt_in"])
    assert List.objects.get(pk=first.pk).double_opt_in is True
    assert List.objects.get(pk=second.pk).double_opt_in is False

    coupons[0].pool = CouponPool.objects.create(list=second, name="Other")
    update_rows(coupons[:1], ["pool"])
    assert Coupon.objects.get(pk=coupons[0].pk).pool_id == coupons[0].pool.pk


def test_update_rows_many_rows_and_none_at_all():
    contacts = ContactFactory.create_batch(2500, list=ListFactory())
    for contact in contacts:
        contact.external_contact_id = f"x-{contact.pk}"
    update_rows(contacts, ["external_contact_id"])
    update_rows([], ["external_contact_id"])
    assert set(Contact.objects.values_list("external_contact_id", flat=True)) == {
        f"x-{c.pk}" for c in contacts
    }


def test_insert_rows_writes_the_given_fields():
    pool = CouponPool.objects.create(list=ListFactory(), name="Pool")
    insert_rows(
        [Coupon(pool=pool, code=text, expires_on=datetime.date(2027, 1, 2)) for text in AWKWARD],
        ["pool", "code", "expires_on"],
    )
    assert sorted(Coupon.objects.filter(pool=pool).values_list("code", "expires_on")) == sorted(
        (text, datetime.date(2027, 1, 2)) for text in AWKWARD
    )


def test_create_rows_gives_each_object_the_id_of_its_row():
    from contacts.models import Activity, ActivityKind
    from core.bulk import create_rows

    email_list = ListFactory()
    contact = Contact(list=email_list, email="late@example.com", state="Subscribed")
    activities = [
        Activity(
            contact=contact,  # saved only after it was assigned, as bulk_create allows
            list_id=email_list.pk,
            email=contact.email,
            kind=ActivityKind.PROFILE_UPDATED,
            details={"n": n, "text": AWKWARD[n % len(AWKWARD)]},
        )
        for n in range(1200)
    ]
    contact.subscribed_at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    contact.save()
    assert all(a is b for a, b in zip(create_rows(activities), activities, strict=True))
    assert len({a.pk for a in activities}) == 1200
    for activity in activities:
        assert not activity._state.adding
    stored = {a.pk: a for a in Activity.objects.filter(contact=contact)}
    assert sorted(stored) == sorted(a.pk for a in activities)
    for activity in activities:
        assert stored[activity.pk].details == activity.details
        assert stored[activity.pk].occurred_at == activity.occurred_at
    assert create_rows([]) == []


def test_json_strings_match_exactly_the_values_given():
    from core.bulk import json_strings

    contacts = ContactFactory.create_batch(4, list=ListFactory())
    wanted = [contacts[0].email, contacts[2].email, "nobody@example.com", 'it\'s "odd"']
    found = Contact.objects.filter(email__in=json_strings(wanted))
    assert sorted(found.values_list("email", flat=True)) == sorted(wanted[:2])
    assert not Contact.objects.filter(email__in=json_strings([])).exists()


def test_json_ids_match_exactly_the_ids_given():
    from core.bulk import json_ids

    contacts = ContactFactory.create_batch(3, list=ListFactory())
    wanted = [contacts[0].pk, contacts[2].pk, 10**12]
    found = Contact.objects.filter(pk__in=json_ids(wanted)).values_list("pk", flat=True)
    assert sorted(found) == sorted(wanted[:2])
