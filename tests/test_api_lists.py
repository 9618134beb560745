"""The ``List`` resource of the API, driven as a Listrak client drives it."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from contacts.imports.models import ImportRowResult, ImportStatus, ListImport
from contacts.models import Activity, Ban, Contact
from contacts.services.subscriptions import subscribe_contacts
from lists.models import Event, EventGroup, List, ProfileField, ProfileFieldGroup
from tests.api_helpers import api_caller, assert_error
from tests.factories import ContactFactory, EventFactory, ListFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db

NEW_LIST = {"listName": "Newsletter", "bounceHandling": "Standard", "bounceUnsubscribeCount": 3}

# What Listrak's C# sample posts: every property, the unset ones at .NET defaults.
CSHARP_BODY = {
    "ListName": "Shop news",
    "FolderId": 0,
    "IpPoolId": 0,
    "BounceDomainAlias": None,
    "BounceHandling": "Aggressive",
    "BounceUnsubscribeCount": 5,
    "CreateDate": "0001-01-01T00:00:00",
    "EnableBrowserLink": False,
    "EnableDoubleOptIn": True,
    "EnableDynamicContent": False,
    "EnableGoogleAnalytics": False,
    "EnableInternationalization": False,
    "EnableListHygiene": False,
    "EnableListRemovalHeader": False,
    "EnableListRemovalLink": False,
    "EnableListrakAnalytics": False,
    "EnableSpamScorePersonalization": False,
    "EnableToNamePersonalization": False,
    "EnableUniversalEmailKeySetting": False,
    "FromEmail": "news@shop.example",
    "FromName": "Shop",
    "GoogleTrackingDomains": None,
    "LinkDomainAlias": None,
    "MediaDomainAlias": None,
}


def _import(email_list: List, status: str = ImportStatus.PROCESSING_COMPLETED) -> ListImport:
    name = default_storage.save("imports/contacts.csv", ContentFile(b"email\na@example.com\n"))
    return ListImport.objects.create(
        list=email_list, file=name, file_name="contacts.csv", status=status
    )


def test_it_lists_every_list_in_a_plain_collection(api):
    ListFactory(name="B list")
    ListFactory(name="A list")
    response = api.get("List")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == 200
    assert "nextPageCursor" not in body
    assert [item["listName"] for item in body["data"]] == ["A list", "B list"]


def test_it_returns_a_list_with_every_listrak_field(api):
    email_list = ListFactory(name="Shop", from_name="", from_email="", double_opt_in=True)
    data = api.get(f"List/{email_list.pk}").json()["data"]
    assert data["listId"] == email_list.pk
    assert data["listName"] == "Shop"
    assert data["bounceHandling"] == "Standard"
    assert data["bounceUnsubscribeCount"] == 3
    assert data["enableDoubleOptIn"] is True
    assert data["fromEmail"] is None and data["fromName"] is None
    assert data["timeZone"] == "America/New_York"
    assert data["createDate"].startswith(str(email_list.created_at.year))


def test_it_returns_settings_it_does_not_support_at_their_neutral_value(api):
    data = api.get(f"List/{ListFactory().pk}").json()["data"]
    assert data["folderId"] is None and data["ipPoolId"] is None
    assert data["enableGoogleAnalytics"] is False and data["enableListHygiene"] is False
    assert data["bounceDomainAlias"] is None and data["linkDomainAlias"] is None
    assert data["googleTrackingDomains"] == []


def test_it_creates_a_list_from_listraks_csharp_sample_body(api):
    response = api.post("List", CSHARP_BODY)
    assert response.status_code == 201
    email_list = List.objects.get(pk=int(response.json()["resourceId"]))
    assert email_list.name == "Shop news"
    assert email_list.bounce_handling == "Aggressive"
    assert email_list.bounce_unsubscribe_count == 5
    assert email_list.double_opt_in is True
    assert (email_list.from_email, email_list.from_name) == ("news@shop.example", "Shop")


def test_it_creates_a_list_in_the_time_zone_given(api):
    response = api.post("List", {**NEW_LIST, "timeZone": "Europe/Berlin"})
    assert List.objects.get(pk=response.json()["resourceId"]).time_zone == "Europe/Berlin"


def test_it_refuses_a_list_without_a_name(api):
    body = {key: value for key, value in NEW_LIST.items() if key != "listName"}
    assert_error(api.post("List", body), 400, "ERROR_INVALID_PARAMETER", "listName", "required")
    assert not List.objects.exists()


def test_it_refuses_a_blank_list_name(api):
    response = api.post("List", {**NEW_LIST, "listName": "   "})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "listName", "blank")


def test_it_refuses_a_setting_it_does_not_support_naming_it(api):
    response = api.post("List", {**NEW_LIST, "enableGoogleAnalytics": True})
    assert_error(
        response, 400, "ERROR_INVALID_PARAMETER", "enableGoogleAnalytics", "does not support"
    )
    assert not List.objects.exists()


def test_it_refuses_a_folder_it_does_not_have(api):
    response = api.post("List", {**NEW_LIST, "folderId": 7})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "folderId", "There is no folder 7.")
    assert not List.objects.exists()


def test_it_refuses_an_unknown_bounce_handling(api):
    response = api.post("List", {**NEW_LIST, "bounceHandling": "Lenient"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "bounceHandling", "Lenient")


def test_it_refuses_a_bounce_unsubscribe_count_above_100(api):
    response = api.post("List", {**NEW_LIST, "bounceUnsubscribeCount": 101})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "bounceUnsubscribeCount", "100")


def test_it_refuses_a_number_sent_as_a_string(api):
    response = api.post("List", {**NEW_LIST, "bounceUnsubscribeCount": "3"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "bounceUnsubscribeCount", "string")


def test_it_refuses_a_flag_sent_as_a_string(api):
    response = api.post("List", {**NEW_LIST, "enableDoubleOptIn": "true"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "enableDoubleOptIn", "true or false")


def test_it_refuses_a_from_address_that_is_not_an_address(api):
    response = api.post("List", {**NEW_LIST, "fromEmail": "not an address"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "fromEmail")


def test_it_refuses_an_unknown_time_zone(api):
    response = api.post("List", {**NEW_LIST, "timeZone": "Mars/Olympus"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "timeZone", "Mars/Olympus")


def test_it_refuses_an_unknown_field(api):
    response = api.post("List", {**NEW_LIST, "color": "blue"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "color")


def test_it_updates_a_list(api):
    email_list = ListFactory()
    body = {**NEW_LIST, "bounceHandling": "None", "fromName": "Team", "timeZone": "UTC"}
    response = api.put(f"List/{email_list.pk}", body)
    assert response.status_code == 200
    assert response.json() == {"status": 200, "resourceId": str(email_list.pk)}
    email_list.refresh_from_db()
    assert (email_list.name, email_list.bounce_handling) == ("Newsletter", "None")
    assert (email_list.from_name, email_list.time_zone) == ("Team", "UTC")


def test_an_update_keeps_the_settings_the_body_leaves_out(api):
    email_list = ListFactory(time_zone="Asia/Tokyo", from_name="Shop")
    api.put(f"List/{email_list.pk}", NEW_LIST)
    email_list.refresh_from_db()
    assert (email_list.time_zone, email_list.from_name) == ("Asia/Tokyo", "Shop")


def test_an_update_needs_the_full_resource(api):
    email_list = ListFactory(name="Kept")
    response = api.put(f"List/{email_list.pk}", {"listName": "Renamed"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "bounceHandling", "required")
    email_list.refresh_from_db()
    assert email_list.name == "Kept"


def test_an_update_of_an_unknown_list_is_not_found(api):
    response = api.put("List/999999", NEW_LIST)
    assert_error(response, 404, "ERROR_UNABLE_TO_LOCATE_RESOURCE", "listId")


def test_an_unknown_list_is_not_found(api):
    response = api.get("List/999999")
    assert_error(
        response,
        404,
        "ERROR_UNABLE_TO_LOCATE_RESOURCE",
        "Unable to locate a resource associated with the listId supplied.",
    )


def test_a_list_id_that_is_not_a_number_is_refused(api):
    assert_error(api.get("List/abc"), 400, "ERROR_INVALID_PARAMETER", "listId")


def test_a_trailing_slash_is_accepted(api):
    email_list = ListFactory()
    assert api.get(f"List/{email_list.pk}/").status_code == 200


def test_a_token_without_the_list_scope_is_refused(db):
    caller = api_caller(scopes=["Contact"])
    assert_error(caller.get("List"), 401, "ERROR_UNAUTHORIZED", "List")


def test_it_deletes_a_list_with_its_contacts_activity_imports_bans_fields_and_events(
    api, django_capture_on_commit_callbacks
):
    email_list = ListFactory()
    subscribe_contacts(
        email_list=email_list, emails=["a@example.com", "b@example.com"], method="API"
    )
    list_import = _import(email_list)
    ImportRowResult.objects.create(list_import=list_import, row_number=1, result="Subscribed")
    Ban.objects.create(list=email_list, email="banned@example.com")
    ProfileFieldFactory(list=email_list, group__list=email_list)
    group = EventGroup.objects.create(list=email_list, name="Shop")
    EventFactory(list=email_list, group=group)
    assert Activity.objects.filter(list=email_list).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"List/{email_list.pk}")

    assert response.status_code == 200
    assert response.json() == {"status": 200}
    assert not List.objects.filter(pk=email_list.pk).exists()
    assert not Contact.objects.exists() and not Activity.objects.exists()
    assert not ListImport.objects.exists() and not ImportRowResult.objects.exists()
    assert not Ban.objects.exists()
    assert not ProfileFieldGroup.objects.exists() and not ProfileField.objects.exists()
    assert not Event.objects.exists() and not EventGroup.objects.exists()
    assert not default_storage.exists(list_import.file.name)


def test_deleting_a_list_leaves_other_lists_alone(api):
    doomed, kept = ListFactory(), ListFactory()
    for email_list in (doomed, kept):
        subscribe_contacts(email_list=email_list, emails=["a@example.com"], method="API")
    api.delete(f"List/{doomed.pk}")
    assert list(Contact.objects.values_list("list_id", flat=True)) == [kept.pk]
    assert list(Activity.objects.values_list("list_id", flat=True)) == [kept.pk]


def test_it_refuses_to_delete_a_list_with_an_import_in_progress(api):
    email_list = ListFactory()
    ContactFactory(list=email_list)
    _import(email_list, status=ImportStatus.PROCESSING_DATA)
    response = api.delete(f"List/{email_list.pk}")
    assert_error(response, 400, "ERROR_RESOURCE_DEPENDENCY", "import", "contacts.csv")
    assert Contact.objects.filter(list=email_list).exists()


def test_it_refuses_to_delete_a_list_with_an_import_waiting_to_run(api):
    email_list = ListFactory()
    _import(email_list, status=ImportStatus.DATA_UPLOADED)
    assert_error(api.delete(f"List/{email_list.pk}"), 400, "ERROR_RESOURCE_DEPENDENCY")
    assert List.objects.filter(pk=email_list.pk).exists()


def test_deleting_an_unknown_list_is_not_found(api):
    assert_error(api.delete("List/999999"), 404, "ERROR_UNABLE_TO_LOCATE_RESOURCE", "listId")


def _statements_to_delete(api, contacts: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    email_list = ListFactory.create()
    emails = [f"person{n}@example.com" for n in range(contacts)]
    subscribe_contacts(email_list=email_list, emails=emails, method="API")
    with CaptureQueriesContext(connection) as queries:
        api.delete(f"List/{email_list.pk}")
    assert not Contact.objects.filter(list_id=email_list.pk).exists()
    return len(queries)


def test_deleting_a_list_takes_as_many_statements_for_many_contacts_as_for_few(api):
    api.get("List")  # the token is checked once, then trusted for a while
    assert _statements_to_delete(api, 2) == _statements_to_delete(api, 40)
