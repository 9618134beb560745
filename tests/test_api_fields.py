"""Profile fields through the API: ``SegmentationFieldGroup`` and
``SegmentationField``, with ``/Values``."""

from __future__ import annotations

import pytest

from contacts.hooks import activities_recorded
from contacts.models import Activity, ActivityKind, Contact
from contacts.services import cleanup
from lists.models import DataType, ProfileField, ProfileFieldGroup
from tests.api_helpers import api_caller, assert_error
from tests.factories import (
    ContactFactory,
    ListFactory,
    ProfileFieldFactory,
    ProfileFieldGroupFactory,
)

pytestmark = pytest.mark.django_db

NEW_FIELD = {
    "segmentationFieldName": "Shoe Size",
    "dataType": "Numeric",
    "maxLength": 10,
    "position": 2,
}


@pytest.fixture
def group():
    return ProfileFieldGroupFactory(name="Preferences", position=1)


@pytest.fixture
def field(group):
    return ProfileFieldFactory(group=group, name="Colour", max_length=20)


def _groups(group: ProfileFieldGroup) -> str:
    return f"List/{group.list_id}/SegmentationFieldGroup"


def _fields(group: ProfileFieldGroup) -> str:
    return f"{_groups(group)}/{group.pk}/SegmentationField"


def _field(field: ProfileField) -> str:
    return f"{_fields(field.group)}/{field.pk}"


# --- Groups ------------------------------------------------------------------------


def test_it_creates_a_group_and_lists_it(api):
    email_list = ListFactory()
    path = f"List/{email_list.pk}/SegmentationFieldGroup"
    response = api.post(path, {"segmentationFieldGroupName": "About you", "position": 3})
    assert response.status_code == 201
    group_id = int(response.json()["resourceId"])
    assert api.get(path).json() == {
        "status": 200,
        "data": [
            {
                "segmentationFieldGroupId": group_id,
                "segmentationFieldGroupName": "About you",
                "position": 3,
            }
        ],
    }


def test_it_lists_groups_in_position_order(api, group):
    ProfileFieldGroupFactory(list=group.list, name="First", position=0)
    names = [g["segmentationFieldGroupName"] for g in api.get(_groups(group)).json()["data"]]
    assert names == ["First", "Preferences"]


def test_it_returns_one_group(api, group):
    data = api.get(f"{_groups(group)}/{group.pk}").json()["data"]
    assert data == {
        "segmentationFieldGroupId": group.pk,
        "segmentationFieldGroupName": "Preferences",
        "position": 1,
    }


def test_it_refuses_a_group_without_a_position(api, group):
    response = api.post(_groups(group), {"segmentationFieldGroupName": "More"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "position", "required")


def test_it_refuses_a_group_name_the_list_has_whatever_its_case(api, group):
    response = api.post(
        _groups(group), {"segmentationFieldGroupName": "PREFERENCES", "position": 0}
    )
    assert_error(
        response, 400, "ERROR_INVALID_PARAMETER", "segmentationFieldGroupName", "PREFERENCES"
    )
    assert ProfileFieldGroup.objects.count() == 1


def test_another_list_may_use_the_same_group_name(api, group):
    other = ListFactory()
    path = f"List/{other.pk}/SegmentationFieldGroup"
    response = api.post(path, {"segmentationFieldGroupName": "Preferences", "position": 0})
    assert response.status_code == 201


def test_it_renames_and_moves_a_group(api, group):
    body = {"segmentationFieldGroupName": "Likes", "position": 9}
    response = api.put(f"{_groups(group)}/{group.pk}", body)
    assert response.json() == {"status": 200, "resourceId": str(group.pk)}
    group.refresh_from_db()
    assert (group.name, group.position) == ("Likes", 9)


def test_a_group_may_keep_its_own_name_in_another_case(api, group):
    body = {"segmentationFieldGroupName": "PREFERENCES", "position": 1}
    assert api.put(f"{_groups(group)}/{group.pk}", body).status_code == 200


def test_it_refuses_renaming_a_group_to_another_groups_name(api, group):
    other = ProfileFieldGroupFactory(list=group.list, name="Other")
    body = {"segmentationFieldGroupName": "preferences", "position": 0}
    response = api.put(f"{_groups(group)}/{other.pk}", body)
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "segmentationFieldGroupName")
    other.refresh_from_db()
    assert other.name == "Other"


def test_it_deletes_an_empty_group(api, group):
    response = api.delete(f"{_groups(group)}/{group.pk}")
    assert response.json() == {"status": 200}
    assert not ProfileFieldGroup.objects.exists()


def test_it_refuses_to_delete_a_group_that_holds_fields(api, field):
    response = api.delete(f"{_groups(field.group)}/{field.group_id}")
    assert_error(response, 400, "ERROR_RESOURCE_DEPENDENCY", "Preferences", "Colour")
    assert ProfileField.objects.filter(pk=field.pk).exists()


def test_a_group_of_another_list_is_not_found(api, group):
    other = ListFactory()
    response = api.get(f"List/{other.pk}/SegmentationFieldGroup/{group.pk}")
    assert_error(
        response,
        404,
        "ERROR_UNABLE_TO_LOCATE_RESOURCE",
        "associated with the listId and segmentationFieldGroupId supplied.",
    )


def test_a_token_without_the_segmentation_scope_is_refused(db, group):
    caller = api_caller(scopes=["List"])
    assert_error(caller.get(_groups(group)), 401, "ERROR_UNAUTHORIZED", "Segmentation")


# --- Fields ------------------------------------------------------------------------


def test_it_creates_a_field_in_the_group(api, group):
    response = api.post(_fields(group), NEW_FIELD)
    assert response.status_code == 201
    field = ProfileField.objects.get(pk=int(response.json()["resourceId"]))
    assert (field.list_id, field.group_id) == (group.list_id, group.pk)
    assert api.get(_field(field)).json()["data"] == {
        "segmentationFieldId": field.pk,
        "segmentationFieldName": "Shoe Size",
        "segmentationFieldGroupId": group.pk,
        "dataType": "Numeric",
        "maxLength": 10,
        "position": 2,
    }


def test_it_lists_the_fields_of_one_group(api, field):
    ProfileFieldFactory(list=field.list, group__list=field.list, name="Elsewhere")
    data = api.get(_fields(field.group)).json()["data"]
    assert [f["segmentationFieldName"] for f in data] == ["Colour"]


def test_it_refuses_an_unknown_data_type(api, group):
    response = api.post(_fields(group), {**NEW_FIELD, "dataType": "Color"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "dataType", "Color")
    assert not ProfileField.objects.exists()


def test_it_refuses_a_max_length_above_4000(api, group):
    response = api.post(_fields(group), {**NEW_FIELD, "maxLength": 4001})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "maxLength", "4000")


def test_it_refuses_a_field_without_a_data_type(api, group):
    body = {key: value for key, value in NEW_FIELD.items() if key != "dataType"}
    assert_error(api.post(_fields(group), body), 400, "ERROR_INVALID_PARAMETER", "dataType")


def test_it_refuses_a_field_name_another_group_of_the_list_uses(api, field):
    other_group = ProfileFieldGroupFactory(list=field.list)
    response = api.post(_fields(other_group), {**NEW_FIELD, "segmentationFieldName": "colour"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "segmentationFieldName", "colour")


def test_it_ignores_the_read_only_ids_a_client_sends_back(api, field):
    body = {**NEW_FIELD, "segmentationFieldId": 999, "segmentationFieldGroupId": 999}
    assert api.put(_field(field), {**body, "dataType": "Text"}).status_code == 200
    field.refresh_from_db()
    assert field.group_id != 999


def test_a_field_of_another_group_is_not_found(api, field):
    other_group = ProfileFieldGroupFactory(list=field.list)
    response = api.get(f"{_fields(other_group)}/{field.pk}")
    assert_error(
        response,
        404,
        "ERROR_UNABLE_TO_LOCATE_RESOURCE",
        "listId, segmentationFieldGroupId, and segmentationFieldId supplied.",
    )


def test_it_updates_a_field(api, field):
    body = {
        "segmentationFieldName": "Favourite colour",
        "dataType": "CommentArea",
        "maxLength": 30,
        "position": 4,
    }
    assert api.put(_field(field), body).status_code == 200
    field.refresh_from_db()
    assert (field.name, field.data_type, field.max_length, field.position) == (
        "Favourite colour",
        DataType.COMMENT_AREA,
        30,
        4,
    )


def test_it_refuses_to_change_the_type_of_a_field_that_holds_values(api, field):
    ContactFactory(list=field.list, profile={field.key: "red"})
    response = api.put(_field(field), NEW_FIELD | {"segmentationFieldName": "Colour"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "dataType", "Values")
    field.refresh_from_db()
    assert field.data_type == DataType.TEXT


def test_it_changes_the_type_of_an_empty_field(api, field):
    assert api.put(_field(field), NEW_FIELD).status_code == 200
    field.refresh_from_db()
    assert field.data_type == DataType.NUMERIC


def test_it_refuses_a_max_length_shorter_than_a_value_held(api, field):
    ContactFactory(list=field.list, profile={field.key: "ultramarine"})
    body = {"segmentationFieldName": "Colour", "dataType": "Text", "maxLength": 5, "position": 0}
    assert_error(api.put(_field(field), body), 400, "ERROR_INVALID_PARAMETER", "maxLength", "5")
    field.refresh_from_db()
    assert field.max_length == 20


def test_it_shortens_a_field_whose_values_fit(api, field):
    ContactFactory(list=field.list, profile={field.key: "red"})
    body = {"segmentationFieldName": "Colour", "dataType": "Text", "maxLength": 5, "position": 0}
    assert api.put(_field(field), body).status_code == 200


def test_deleting_a_field_removes_its_values_from_contacts(api, field):
    other = ProfileFieldFactory(group=field.group)
    contact = ContactFactory(list=field.list, profile={field.key: "red", other.key: "kept"})
    response = api.delete(_field(field))
    assert response.json() == {"status": 200}
    assert not ProfileField.objects.filter(pk=field.pk).exists()
    contact.refresh_from_db()
    assert contact.profile == {other.key: "kept"}


# --- Values ------------------------------------------------------------------------


def test_clearing_values_empties_the_field_on_every_contact_of_the_list(api, field):
    other = ProfileFieldFactory(group=field.group)
    holders = [ContactFactory(list=field.list, profile={field.key: f"c{n}"}) for n in range(3)]
    bystander = ContactFactory(list=field.list, profile={other.key: "kept"})
    response = api.delete(f"{_field(field)}/Values")
    assert response.status_code == 200
    assert response.json() == {"status": 200, "resourceId": str(field.pk)}
    for contact in holders:
        contact.refresh_from_db()
        assert contact.profile == {}
    bystander.refresh_from_db()
    assert bystander.profile == {other.key: "kept"}
    assert ProfileField.objects.filter(pk=field.pk).exists()


def test_clearing_values_records_a_profile_update_per_changed_contact(api, field):
    holder = ContactFactory(list=field.list, profile={field.key: "red"})
    ContactFactory(list=field.list, profile={})
    api.delete(f"{_field(field)}/Values")
    activity = Activity.objects.get()
    assert (activity.contact_id, activity.kind) == (holder.pk, ActivityKind.PROFILE_UPDATED)
    assert activity.details == {
        "update_type": "Overwrite",
        "changes": {field.key: {"old": "red", "new": None}},
    }


def test_clearing_values_tells_the_activity_hook(api, field):
    ContactFactory(list=field.list, profile={field.key: "red"})
    heard: list[str] = []

    def receiver(sender, activities, **kwargs):
        heard.extend(activities.values_list("kind", flat=True))

    activities_recorded.connect(receiver)
    try:
        api.delete(f"{_field(field)}/Values")
    finally:
        activities_recorded.disconnect(receiver)
    assert heard == [ActivityKind.PROFILE_UPDATED]


def test_clearing_values_works_through_the_list_in_batches(api, field, monkeypatch):
    monkeypatch.setattr(cleanup, "BATCH", 2)
    for n in range(5):
        ContactFactory(list=field.list, profile={field.key: f"c{n}"})
    api.delete(f"{_field(field)}/Values")
    assert not Contact.objects.filter(profile__has_key=field.key).exists()
    assert Activity.objects.count() == 5


def test_clearing_the_values_of_another_lists_field_is_not_found(api, field):
    other = ListFactory()
    path = f"List/{other.pk}/SegmentationFieldGroup/{field.group_id}/SegmentationField/{field.pk}"
    assert_error(api.delete(f"{path}/Values"), 404, "ERROR_UNABLE_TO_LOCATE_RESOURCE")
