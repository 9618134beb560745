"""Profile values: the three update types, coercion, and bad input."""

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Activity, ActivityKind
from contacts.services import UpdateType, merge_profile, update_profile, update_profiles
from lists.models import DataType
from tests.factories import ContactFactory, ListFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fields():
    email_list = ListFactory(name="Shop")
    group = ProfileFieldFactory(list=email_list, group__list=email_list).group
    return {
        "first": ProfileFieldFactory(group=group, name="First Name"),
        "birthday": ProfileFieldFactory(group=group, name="Birthday", data_type=DataType.DATE),
        "points": ProfileFieldFactory(group=group, name="Points", data_type=DataType.NUMERIC),
        "vip": ProfileFieldFactory(group=group, name="VIP", data_type=DataType.CHECK_BOX),
    }


@pytest.mark.parametrize(
    ("update_type", "expected"),
    [
        (UpdateType.UPDATE, {"a": "new", "b": "kept", "c": "added"}),
        (UpdateType.APPEND, {"a": "old", "b": "kept", "c": "added"}),
        (UpdateType.OVERWRITE, {"a": "new", "c": "added"}),
    ],
)
def test_each_update_type_merges_as_listrak_does(update_type, expected):
    current = {"a": "old", "b": "kept"}
    given = {"a": "new", "b": None, "c": "added"}
    assert merge_profile(current, given, update_type) == expected


def test_values_are_coerced_by_type_and_recorded_with_old_and_new(fields):
    contact = ContactFactory(list=fields["first"].list)
    changed = update_profile(
        contact=contact,
        values={
            fields["first"]: " Ada ",
            "birthday": "12/10/1815",
            fields["points"].pk: "10.50",
            "VIP": "true",
        },
    )
    assert changed is True
    contact.refresh_from_db()
    assert contact.profile == {
        fields["first"].key: "Ada",
        fields["birthday"].key: "1815-12-10",
        fields["points"].key: "10.5",
        fields["vip"].key: "on",
    }
    activity = contact.activities.get()
    assert activity.kind == ActivityKind.PROFILE_UPDATED
    assert activity.details["update_type"] == "Update"
    assert activity.details["changes"][fields["points"].key] == {"old": None, "new": "10.5"}


def test_writing_the_same_values_again_records_nothing(fields):
    contact = ContactFactory(list=fields["first"].list)
    update_profile(contact=contact, values={"First Name": "Ada"})
    assert update_profile(contact=contact, values={"first name": "Ada"}) is False
    assert contact.activities.count() == 1


def test_append_only_fills_empty_fields(fields):
    contact = ContactFactory(list=fields["first"].list, profile={fields["first"].key: "Ada"})
    update_profile(
        contact=contact,
        values={"First Name": "Grace", "Points": "3"},
        update_type=UpdateType.APPEND,
    )
    contact.refresh_from_db()
    assert contact.profile == {fields["first"].key: "Ada", fields["points"].key: "3"}


def test_overwrite_blanks_fields_given_empty(fields):
    contact = ContactFactory(
        list=fields["first"].list, profile={fields["first"].key: "Ada", fields["points"].key: "3"}
    )
    update_profile(
        contact=contact, values={"First Name": "", "Points": "4"}, update_type="Overwrite"
    )
    contact.refresh_from_db()
    assert contact.profile == {fields["points"].key: "4"}


def test_update_ignores_blank_values(fields):
    contact = ContactFactory(list=fields["first"].list, profile={fields["first"].key: "Ada"})
    assert update_profile(contact=contact, values={"First Name": ""}) is False
    contact.refresh_from_db()
    assert contact.profile == {fields["first"].key: "Ada"}


def test_a_bad_value_is_refused_naming_contact_and_field_and_nothing_changes(fields):
    contact = ContactFactory(list=fields["first"].list, email="ada@example.com")
    with pytest.raises(ValidationError) as raised:
        update_profile(contact=contact, values={"First Name": "Ada", "Birthday": "someday"})
    assert raised.value.messages == [
        "ada@example.com: Profile field 'Birthday': 'someday' is not a date; "
        "use MM/DD/YYYY or YYYY-MM-DD."
    ]
    contact.refresh_from_db()
    assert contact.profile == {}
    assert not Activity.objects.exists()


def test_an_unknown_field_is_refused_naming_it(fields):
    contact = ContactFactory(list=fields["first"].list, email="ada@example.com")
    other_lists_field = ProfileFieldFactory(name="Elsewhere")
    for ref in ("Shoe size", 999999, other_lists_field):
        with pytest.raises(ValidationError) as raised:
            update_profile(contact=contact, values={ref: "x"})
        assert "Unknown profile field" in raised.value.messages[0]
        assert "on list 'Shop'" in raised.value.messages[0]
    assert not Activity.objects.exists()


def test_a_field_given_twice_is_refused(fields):
    contact = ContactFactory(list=fields["first"].list)
    with pytest.raises(ValidationError, match="'First Name' is given twice"):
        update_profile(contact=contact, values={"First Name": "a", fields["first"].pk: "b"})


def test_the_batch_form_validates_every_contact_before_writing_any(fields):
    email_list = fields["first"].list
    good = ContactFactory(list=email_list)
    bad = ContactFactory(list=email_list, email="bad@example.com")
    with pytest.raises(ValidationError) as raised:
        update_profiles(
            email_list=email_list,
            updates=[(good, {"Points": "1"}), (bad, {"Points": "lots"})],
        )
    assert raised.value.messages == [
        "bad@example.com: Profile field 'Points': 'lots' is not a number."
    ]
    good.refresh_from_db()
    assert good.profile == {}


def test_the_batch_form_writes_many_contacts_in_a_few_queries(
    fields, django_assert_max_num_queries
):
    email_list = fields["first"].list
    contacts = ContactFactory.create_batch(300, list=email_list)
    updates = [(c, {"First Name": f"n{i}", "VIP": i % 2}) for i, c in enumerate(contacts)]
    with django_assert_max_num_queries(12):
        changed = update_profiles(email_list=email_list, updates=updates)
    assert len(changed) == 300
    assert Activity.objects.filter(kind=ActivityKind.PROFILE_UPDATED).count() == 300


def test_a_contact_of_another_list_is_refused(fields):
    stranger = ContactFactory(email="s@example.com")
    with pytest.raises(ValidationError, match="s@example.com is not on list 'Shop'"):
        update_profiles(email_list=fields["first"].list, updates=[(stranger, {"First Name": "x"})])
