"""The writes of lists, profile fields and events, called directly: the rules
the API and the admin share (lists.services, contacts.services.fields)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from contacts.services import (
    ValuesOfAnotherType,
    ValuesTooLong,
    change_field,
    change_field_type,
)
from lists.models import DataType, Event, EventGroup, EventStatus, List, ProfileField
from lists.services import (
    ChangedMeanwhile,
    EventGroupNotEmpty,
    FieldGroupNotEmpty,
    NameTaken,
    UnknownEventGroup,
    create_event,
    create_event_group,
    create_field,
    create_field_group,
    create_list,
    delete_event_group,
    delete_field_group,
    update_event,
    update_event_group,
    update_field,
    update_field_group,
    update_list,
)
from tests.factories import (
    ContactFactory,
    EventFactory,
    ListFactory,
    ProfileFieldFactory,
    ProfileFieldGroupFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def group():
    return ProfileFieldGroupFactory(name="Preferences", position=1)


@pytest.fixture
def colour(group):
    return ProfileFieldFactory(group=group, name="Colour", max_length=20)


# --- Lists ---------------------------------------------------------------------------


def test_a_new_list_takes_the_defaults_of_the_settings_left_out():
    email_list = create_list(name="Spring", from_email="news@shop.example")
    email_list.refresh_from_db()
    assert (email_list.name, email_list.from_email, email_list.bounce_unsubscribe_count) == (
        "Spring",
        "news@shop.example",
        3,
    )


def test_an_update_changes_only_the_settings_given():
    email_list = ListFactory(name="Spring", from_name="Shop", double_opt_in=False)
    update_list(email_list=email_list, name="Summer", double_opt_in=True)
    email_list.refresh_from_db()
    assert (email_list.name, email_list.from_name, email_list.double_opt_in) == (
        "Summer",
        "Shop",
        True,
    )


def test_updating_a_list_deleted_meanwhile_does_not_bring_it_back():
    email_list = ListFactory()
    List.objects.filter(pk=email_list.pk).delete()
    with pytest.raises(List.DoesNotExist):
        update_list(email_list=email_list, name="Back")
    assert not List.objects.exists()


# --- Profile field groups ------------------------------------------------------------


def test_a_group_name_the_list_has_is_refused_whatever_its_case(group):
    with pytest.raises(NameTaken) as refused:
        create_field_group(email_list=group.list, name="PREFERENCES")
    assert refused.value.messages == [
        "The list already has a profile field group named 'PREFERENCES' (names ignore case)."
    ]
    assert refused.value.error_dict.keys() == {"name"}  # a form shows it on the name
    assert create_field_group(email_list=ListFactory(), name="Preferences").pk


def test_a_group_may_take_its_own_name_in_another_case_but_not_anothers(group):
    update_field_group(group=group, name="PREFERENCES", position=4)
    group.refresh_from_db()
    assert (group.name, group.position) == ("PREFERENCES", 4)
    other = ProfileFieldGroupFactory(list=group.list, name="Other")
    with pytest.raises(NameTaken):
        update_field_group(group=other, name="preferences", position=0)
    other.refresh_from_db()
    assert other.name == "Other"


def test_updating_a_group_deleted_meanwhile_is_not_found(group):
    type(group).objects.filter(pk=group.pk).delete()
    with pytest.raises(type(group).DoesNotExist):
        update_field_group(group=group, name="Back", position=0)


def test_a_group_that_holds_fields_is_not_deleted(colour):
    ProfileFieldFactory(group=colour.group, name="Size")
    with pytest.raises(FieldGroupNotEmpty) as refused:
        delete_field_group(group=colour.group)
    assert refused.value.messages == [
        "The profile field group 'Preferences' still holds 2 profile fields (Colour, Size); "
        "delete them first."
    ]
    assert ProfileField.objects.count() == 2


def test_an_empty_group_is_deleted(group):
    delete_field_group(group=group)
    assert not type(group).objects.exists()


# --- Profile fields ------------------------------------------------------------------


def test_a_field_name_is_unique_across_every_group_of_the_list(colour):
    other_group = ProfileFieldGroupFactory(list=colour.list)
    with pytest.raises(NameTaken, match="already has a profile field named 'COLOUR'"):
        create_field(group=other_group, name="COLOUR")
    field = create_field(group=other_group, name="Size", data_type=DataType.NUMERIC)
    assert (field.list_id, field.group_id, field.data_type) == (
        colour.list_id,
        other_group.pk,
        DataType.NUMERIC,
    )


def test_a_field_moves_to_another_group_of_its_list_only(colour):
    mine = ProfileFieldGroupFactory(list=colour.list)
    update_field(field=colour, name="Shade", position=3, group=mine)
    colour.refresh_from_db()
    assert (colour.name, colour.position, colour.group_id) == ("Shade", 3, mine.pk)
    with pytest.raises(ValidationError, match="another list"):
        update_field(field=colour, name="Shade", position=3, group=ProfileFieldGroupFactory())
    colour.refresh_from_db()
    assert colour.group_id == mine.pk


def test_a_type_that_the_values_held_would_not_fit_is_refused_with_how_many(colour):
    ContactFactory.create_batch(2, list=colour.list, profile={colour.key: "red"})
    with pytest.raises(ValuesOfAnotherType) as refused:
        change_field_type(field=colour, data_type=DataType.DATE, max_length=10)
    assert refused.value.messages == [
        "2 contacts hold Text values in 'Colour'; clear them before changing the field to Date."
    ]
    assert refused.value.error_dict.keys() == {"data_type"}
    colour.refresh_from_db()
    assert (colour.data_type, colour.max_length) == (DataType.TEXT, 20)


def test_text_types_share_their_values_so_a_field_moves_between_them(colour):
    ContactFactory(list=colour.list, profile={colour.key: "red"})
    change_field_type(field=colour, data_type=DataType.COMMENT_AREA, max_length=20)
    colour.refresh_from_db()
    assert colour.data_type == DataType.COMMENT_AREA


def test_a_length_shorter_than_values_held_is_refused_naming_the_length(colour):
    ContactFactory(list=colour.list, profile={colour.key: "ultramarine"})
    ContactFactory(list=colour.list, profile={colour.key: "red"})
    ContactFactory(list=ListFactory(), profile={colour.key: "ultramarine"})  # another list
    with pytest.raises(ValuesTooLong) as refused:
        change_field_type(field=colour, data_type=DataType.TEXT, max_length=5)
    assert refused.value.messages == [
        "1 contact has a value of 'Colour' longer than 5 characters; shorten or clear them first."
    ]
    change_field_type(field=colour, data_type=DataType.TEXT, max_length=11)
    colour.refresh_from_db()
    assert colour.max_length == 11


def test_the_length_check_reads_a_digit_only_key_as_an_object_key(colour):
    # Django's key transforms would read "12" as an array index and find nothing.
    assert colour.key.isdigit()
    ContactFactory(list=colour.list, profile={colour.key: "x" * 15, "0": "y"})
    with pytest.raises(ValuesTooLong):
        change_field_type(field=colour, data_type=DataType.TEXT, max_length=14)


def test_a_field_change_is_all_or_nothing(colour):
    ProfileFieldFactory(group=colour.group, name="Size")
    with pytest.raises(NameTaken):
        change_field(
            field=colour, name="size", data_type=DataType.NUMERIC, max_length=10, position=0
        )
    colour.refresh_from_db()
    assert (colour.name, colour.data_type) == ("Colour", DataType.TEXT)


def test_changing_a_field_deleted_meanwhile_is_not_found(colour):
    ProfileField.objects.filter(pk=colour.pk).delete()
    with pytest.raises(ProfileField.DoesNotExist):
        change_field(field=colour, name="Shade", data_type="Text", max_length=5, position=0)
    assert not ProfileField.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_field_whose_group_went_away_meanwhile_is_refused_as_changed_meanwhile(group):
    type(group).objects.filter(pk=group.pk).delete()
    with pytest.raises(ChangedMeanwhile, match="profile field could not be saved"):
        create_field(group=group, name="Orphan")
    assert not ProfileField.objects.exists()


# --- Event groups and events -----------------------------------------------------------


def test_an_event_may_only_join_an_event_group_of_its_list(shop):
    foreign = EventGroup.objects.create(list=ListFactory(), name="Elsewhere")
    with pytest.raises(UnknownEventGroup) as refused:
        create_event(email_list=shop, name="Purchase", group_id=foreign.pk)
    assert refused.value.messages == [f"The list has no event group {foreign.pk}."]
    assert not Event.objects.exists()


def test_an_event_name_the_list_has_is_refused_whatever_its_case(shop):
    EventFactory(list=shop, name="Cart abandoned")
    with pytest.raises(NameTaken, match="already has an event named 'CART ABANDONED'"):
        create_event(email_list=shop, name="CART ABANDONED")


def test_an_update_keeps_the_events_group_unless_it_names_one(shop):
    checkout = create_event_group(email_list=shop, name="Checkout")
    event = create_event(email_list=shop, name="Paid", group_id=checkout.pk)
    update_event(event=event, name="Paid", status=EventStatus.BLOCKED)
    event.refresh_from_db()
    assert (event.group_id, event.status) == (checkout.pk, EventStatus.BLOCKED)
    update_event(event=event, name="Paid", status=EventStatus.ACTIVE, group_id=None)
    event.refresh_from_db()
    assert event.group_id is None


def test_an_event_group_name_the_list_has_is_refused(shop):
    checkout = create_event_group(email_list=shop, name="Checkout")
    other = create_event_group(email_list=shop, name="Browse")
    with pytest.raises(NameTaken, match="an event group named 'checkout'"):
        create_event_group(email_list=shop, name="checkout")
    with pytest.raises(NameTaken):
        update_event_group(group=other, name="CHECKOUT")
    other.refresh_from_db()
    assert (checkout.name, other.name) == ("Checkout", "Browse")


def test_an_event_group_that_holds_events_is_not_deleted(shop):
    checkout = create_event_group(email_list=shop, name="Checkout")
    for n in range(12):
        create_event(email_list=shop, name=f"Step {n:02d}", group_id=checkout.pk)
    with pytest.raises(EventGroupNotEmpty) as refused:
        delete_event_group(group=checkout)
    shown = ", ".join(f"Step {n:02d}" for n in range(10))
    assert refused.value.messages == [
        f"The event group 'Checkout' still holds events ({shown}, …); "
        "move them to another group (or none) first."
    ]
    assert refused.value.code == "ERROR_RESOURCE_DEPENDENCY"  # the API passes it through
    Event.objects.all().delete()
    delete_event_group(group=checkout)
    assert not EventGroup.objects.exists()
