"""Campaigns, folders, IP pools and saved audiences through the API: what a
Listrak client sends and reads, and a clear 400 or 404 for everything wrong."""

from __future__ import annotations

from typing import Any

import pytest

from broadcasts.library import create_campaign, create_saved_audience
from broadcasts.models import Broadcast, Campaign, SavedAudience
from lists.folders import create_folder, delete_folder
from lists.models import Folder, List
from tests.api_helpers import api_caller, assert_error
from tests.factories import ListFactory, MessageFactory

pytestmark = pytest.mark.django_db

INVALID = "ERROR_INVALID_PARAMETER"
MALFORMED = "ERROR_MALFORMED_REQUEST_BODY"
NOT_FOUND = "ERROR_UNABLE_TO_LOCATE_RESOURCE"


def ada_criteria(email_list: List) -> dict[str, Any]:
    field = email_list.profile_fields.get(name="First Name")
    return {
        "filters": [
            {"segmentationFieldId": field.pk, "compareType": "Equals", "values": [{"value": "Ada"}]}
        ]
    }


@pytest.fixture
def spring(shop: List) -> Campaign:
    return create_campaign(email_list=shop, name="Spring")


# --- Campaigns ------------------------------------------------------------------------


def test_it_creates_a_campaign_and_lists_it(api, shop):
    response = api.post(f"List/{shop.pk}/Campaign", {"campaignName": "Spring sale"})
    assert response.status_code == 201
    campaign_id = int(response.json()["resourceId"])
    assert api.get(f"List/{shop.pk}/Campaign").json() == {
        "status": 200,
        "data": [{"campaignId": campaign_id, "campaignName": "Spring sale"}],
    }
    assert Campaign.objects.get(pk=campaign_id).list == shop


def test_it_lists_only_the_lists_own_campaigns_by_name(api, shop):
    create_campaign(email_list=shop, name="Winter")
    create_campaign(email_list=shop, name="Autumn")
    create_campaign(email_list=ListFactory(), name="Elsewhere")
    data = api.get(f"List/{shop.pk}/Campaign").json()["data"]
    assert [c["campaignName"] for c in data] == ["Autumn", "Winter"]


def test_it_returns_and_renames_one_campaign(api, shop, spring):
    path = f"List/{shop.pk}/Campaign/{spring.pk}"
    assert api.get(path).json() == {
        "status": 200,
        "data": {"campaignId": spring.pk, "campaignName": "Spring"},
    }
    response = api.put(path, {"CampaignName": "  Spring 2027 "})  # any case, trimmed
    assert response.json() == {"status": 200, "resourceId": str(spring.pk)}
    assert api.get(path).json()["data"]["campaignName"] == "Spring 2027"


def test_deleting_a_campaign_leaves_its_broadcasts_in_none(api, shop, spring):
    broadcast = Broadcast.objects.create(
        list=shop, name="April news", message=MessageFactory(list=shop), campaign=spring
    )
    response = api.delete(f"List/{shop.pk}/Campaign/{spring.pk}")
    assert response.json() == {"status": 200}
    assert not Campaign.objects.exists()
    broadcast.refresh_from_db()
    assert broadcast.campaign is None
    response = api.get(f"List/{shop.pk}/Campaign/{spring.pk}")
    assert_error(response, 404, NOT_FOUND, "listId and campaignId")


def test_a_campaign_of_another_list_is_not_found(api, shop, spring):
    other = ListFactory()
    for method in ("GET", "DELETE"):
        response = api.call(method, f"List/{other.pk}/Campaign/{spring.pk}")
        assert_error(response, 404, NOT_FOUND, "listId and campaignId")
    response = api.put(f"List/{other.pk}/Campaign/{spring.pk}", {"campaignName": "Mine"})
    assert_error(response, 404, NOT_FOUND, "listId and campaignId")
    spring.refresh_from_db()
    assert spring.name == "Spring"


def test_campaign_routes_name_a_bad_or_unknown_id(api, shop, spring):
    assert_error(api.get("List/0/Campaign"), 400, INVALID, "listId")
    assert_error(api.get("List/999999/Campaign"), 404, NOT_FOUND, "listId supplied")
    assert_error(api.get(f"List/{shop.pk}/Campaign/abc"), 400, INVALID, "campaignId", "'abc'")
    assert_error(api.get(f"List/{shop.pk}/Campaign/99999999999"), 400, INVALID, "campaignId")
    assert_error(api.delete(f"List/{shop.pk}/Campaign/-1"), 400, INVALID, "campaignId")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["campaignName", "required"]),
        ({"campaignName": ""}, ["campaignName", "blank"]),
        ({"campaignName": "   "}, ["campaignName", "blank"]),
        ({"campaignName": None}, ["campaignName", "null"]),
        ({"campaignName": 12}, ["campaignName", "string"]),
        ({"campaignName": ["Spring"]}, ["campaignName", "string"]),
        ({"campaignName": "x" * 201}, ["campaignName", "200"]),
        ({"campaignName": "Spring", "colour": "red"}, ["'colour'", "campaignName"]),
        ([{"campaignName": "Spring"}], ["JSON object"]),
        ("Spring", ["JSON object"]),
    ],
)
def test_a_junk_campaign_body_is_refused_by_name(api, shop, spring, body, words):
    for method, path in (
        ("POST", f"List/{shop.pk}/Campaign"),
        ("PUT", f"List/{shop.pk}/Campaign/{spring.pk}"),
    ):
        response = api.call(method, path, body)
        assert response.status_code == 400, (method, response.content)
        for word in words:
            assert word in response.json()["message"], (method, response.json())
    assert list(Campaign.objects.values_list("name", flat=True)) == ["Spring"]


def test_malformed_json_and_other_content_types_are_refused(api, shop):
    path = f"List/{shop.pk}/Campaign"
    assert_error(api.call("POST", path, raw=b'{"campaignName": '), 400, MALFORMED)
    response = api.call("POST", path, raw=b"campaignName=x", content_type="text/plain")
    assert_error(response, 415, "ERROR_UNSUPPORTED_CONTENT_TYPE", "application/json")
    assert not Campaign.objects.exists()


def test_the_campaign_id_in_a_body_is_read_only(api, shop, spring):
    response = api.post(f"List/{shop.pk}/Campaign", {"campaignId": spring.pk, "campaignName": "B"})
    assert response.status_code == 201
    assert int(response.json()["resourceId"]) != spring.pk
    spring.refresh_from_db()
    assert spring.name == "Spring"


def test_campaigns_need_the_list_and_message_scopes(db, shop, spring):
    without_message = api_caller(["List", "Contact"])
    response = without_message.get(f"List/{shop.pk}/Campaign")
    assert_error(response, 401, "ERROR_UNAUTHORIZED", "Message")
    response = without_message.delete(f"List/{shop.pk}/Campaign/{spring.pk}")
    assert_error(response, 401, "ERROR_UNAUTHORIZED", "Message")
    without_list = api_caller(["Message"], name="messages only")
    response = without_list.post(f"List/{shop.pk}/Campaign", {"campaignName": "X"})
    assert_error(response, 401, "ERROR_UNAUTHORIZED", "List")
    assert list(Campaign.objects.values_list("name", flat=True)) == ["Spring"]


# --- Folders -------------------------------------------------------------------------


def test_it_creates_a_folder_lists_returns_and_renames_it(api):
    response = api.post("Folder", {"folderName": "Seasonal"})
    assert response.status_code == 201
    folder_id = int(response.json()["resourceId"])
    create_folder(name="Archive")
    assert [f["folderName"] for f in api.get("Folder").json()["data"]] == ["Archive", "Seasonal"]
    assert api.get(f"Folder/{folder_id}").json() == {
        "status": 200,
        "data": {"folderId": folder_id, "folderName": "Seasonal"},
    }
    response = api.put(f"Folder/{folder_id}", {"folderName": "Seasons"})
    assert response.json() == {"status": 200, "resourceId": str(folder_id)}
    assert Folder.objects.get(pk=folder_id).name == "Seasons"


def test_a_taken_folder_name_is_refused_naming_it_whatever_its_case(api):
    create_folder(name="Seasonal")
    archive = create_folder(name="Archive")
    response = api.post("Folder", {"folderName": "SEASONAL"})
    assert_error(response, 400, INVALID, "folderName", "'SEASONAL'", "already")
    response = api.put(f"Folder/{archive.pk}", {"folderName": "seasonal"})
    assert_error(response, 400, INVALID, "folderName", "'seasonal'")
    assert sorted(Folder.objects.values_list("name", flat=True)) == ["Archive", "Seasonal"]
    # Its own name, in another case, is no clash.
    assert api.put(f"Folder/{archive.pk}", {"folderName": "ARCHIVE"}).status_code == 200


def test_folder_routes_name_a_bad_or_unknown_id_and_junk_bodies(api):
    folder = create_folder(name="Seasonal")
    assert_error(api.get("Folder/x"), 400, INVALID, "folderId")
    assert_error(api.get("Folder/999999"), 404, NOT_FOUND, "folderId supplied")
    assert_error(api.put("Folder/999999", {"folderName": "A"}), 404, NOT_FOUND, "folderId")
    for body, word in (
        ({}, "required"),
        ({"folderName": ""}, "blank"),
        ({"folderName": 3}, "string"),
        ({"folderName": "x" * 201}, "200"),
        ({"name": "A"}, "'name'"),
        ([], "JSON object"),
    ):
        for method, path in (("POST", "Folder"), ("PUT", f"Folder/{folder.pk}")):
            response = api.call(method, path, body)
            assert_error(response, 400, INVALID if word != "JSON object" else MALFORMED, word)
    assert list(Folder.objects.values_list("name", flat=True)) == ["Seasonal"]
    assert api.delete(f"Folder/{folder.pk}").status_code == 405  # Listrak deletes none


def test_folders_need_the_list_scope(db):
    create_folder(name="Seasonal")
    caller = api_caller(["Contact", "Message"])
    assert_error(caller.get("Folder"), 401, "ERROR_UNAUTHORIZED", "List")
    assert_error(caller.post("Folder", {"folderName": "B"}), 401, "ERROR_UNAUTHORIZED", "List")
    assert Folder.objects.count() == 1


def test_a_list_is_put_in_a_folder_and_taken_out_again(api, shop):
    folder = create_folder(name="Seasonal")
    path = f"List/{shop.pk}"
    assert api.get(path).json()["data"]["folderId"] is None
    body = {"listName": "Shop", "bounceHandling": "Standard", "bounceUnsubscribeCount": 3}
    assert api.put(path, {**body, "folderId": folder.pk}).status_code == 200
    assert api.get(path).json()["data"]["folderId"] == folder.pk
    assert api.put(path, body).status_code == 200  # left out: it stays
    assert api.get(path).json()["data"]["folderId"] == folder.pk
    for none in (0, None):
        assert api.put(path, {**body, "folderId": folder.pk}).status_code == 200
        assert api.put(path, {**body, "folderId": none}).status_code == 200
        assert api.get(path).json()["data"]["folderId"] is None


def test_a_new_list_is_made_in_a_folder(api):
    folder = create_folder(name="Seasonal")
    body = {"listName": "Outlet", "bounceHandling": "None", "bounceUnsubscribeCount": 2}
    response = api.post("List", {**body, "folderId": folder.pk})
    assert List.objects.get(pk=response.json()["resourceId"]).folder == folder


def test_an_unknown_or_bad_folder_id_of_a_list_is_refused_by_name(api, shop):
    folder = create_folder(name="Seasonal")
    body = {"listName": "Shop", "bounceHandling": "Standard", "bounceUnsubscribeCount": 3}
    response = api.put(f"List/{shop.pk}", {**body, "folderId": folder.pk + 1})
    assert_error(response, 400, INVALID, "folderId", f"no folder {folder.pk + 1}")
    response = api.post("List", {**body, "listName": "New", "folderId": 424242})
    assert_error(response, 400, INVALID, "folderId", "no folder 424242")
    for junk, word in (("1", "whole number"), (-1, "greater than"), (1.5, "integer"), (2**31, "")):
        response = api.put(f"List/{shop.pk}", {**body, "folderId": junk})
        assert_error(response, 400, INVALID, "folderId", word)
    shop.refresh_from_db()
    assert shop.folder is None
    assert List.objects.count() == 1


def test_deleting_a_folder_leaves_its_lists_in_none(api, shop):
    folder = create_folder(name="Seasonal")
    List.objects.filter(pk=shop.pk).update(folder=folder)
    delete_folder(folder=folder)
    assert api.get(f"List/{shop.pk}").json()["data"]["folderId"] is None


# --- IP pools -----------------------------------------------------------------------


def test_the_one_ip_pool_names_the_mail_server_every_email_goes_through(api, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "smtp.example.com", 587
    settings.EMAIL_USE_TLS = True
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "mailer", "hunter2-secret"
    response = api.get("IpPool")
    assert response.json() == {
        "status": 200,
        "data": [
            {
                "ipPoolId": 1,
                "ipPoolDescription": "Default: every email goes through the mail server "
                "smtp.example.com:587 over TLS.",
            }
        ],
    }
    assert b"hunter2" not in response.content and b"mailer" not in response.content


@pytest.mark.parametrize(
    ("backend", "words"),
    [
        ("emails.mailbox.MailboxBackend", "is kept in the development mailbox, not sent"),
        ("django.core.mail.backends.console.EmailBackend", "written to the server's console"),
        ("anymail.backends.postmark.EmailBackend", "goes through postmark's API"),
    ],
)
def test_the_ip_pool_says_where_mail_goes_for_each_backend(api, settings, backend, words):
    settings.EMAIL_BACKEND = backend
    description = api.get("IpPool").json()["data"][0]["ipPoolDescription"]
    assert description.startswith("Default: every email ")
    assert words in description


def test_any_token_may_read_the_ip_pools(db):
    response = api_caller(["Contact"]).get("IpPool")
    assert response.status_code == 200
    assert [pool["ipPoolId"] for pool in response.json()["data"]] == [1]


# --- Saved audiences -------------------------------------------------------------------


def test_it_lists_the_saved_audiences_of_the_list(api, shop):
    adas = create_saved_audience(email_list=shop, name="Adas", criteria=ada_criteria(shop))
    other = ListFactory()
    other.profile_fields.create(group=other.field_groups.create(name="G"), name="First Name")
    create_saved_audience(email_list=other, name="Elsewhere", criteria=ada_criteria(other))
    response = api.get(f"List/{shop.pk}/SavedAudience")
    body = response.json()
    assert body == {
        "status": 200,
        "nextPageCursor": None,
        "data": [
            {
                "name": "Adas",
                "lastModified": body["data"][0]["lastModified"],
                "savedAudienceId": adas.pk,
            }
        ],
    }
    assert body["data"][0]["lastModified"].startswith(adas.modified_at.strftime("%Y-%m-%dT%H:%M"))


def test_saved_audiences_come_a_page_at_a_time(api, shop):
    for name in ("A", "B", "C"):
        create_saved_audience(email_list=shop, name=name, criteria=ada_criteria(shop))
    first = api.get(f"List/{shop.pk}/SavedAudience?count=2").json()
    assert [a["name"] for a in first["data"]] == ["A", "B"]
    cursor = first["nextPageCursor"]
    second = api.get(f"List/{shop.pk}/SavedAudience?count=2&cursor={cursor}").json()
    assert ([a["name"] for a in second["data"]], second["nextPageCursor"]) == (["C"], None)


def test_saved_audience_paging_and_ids_are_checked_by_name(api, shop):
    path = f"List/{shop.pk}/SavedAudience"
    assert_error(api.get(f"{path}?count=0"), 400, INVALID, "count")
    assert_error(api.get(f"{path}?count=lots"), 400, INVALID, "count")
    assert_error(api.get(f"{path}?cursor=not-a-cursor"), 400, INVALID, "cursor")
    assert_error(api.get("List/abc/SavedAudience"), 400, INVALID, "listId")
    assert_error(api.get("List/999999/SavedAudience"), 404, NOT_FOUND, "listId")
    assert api.post(path, {"name": "X"}).status_code == 405  # read only, as in Listrak
    assert not SavedAudience.objects.exists()


def test_saved_audiences_need_the_list_scope(db, shop):
    response = api_caller(["Contact", "Message"]).get(f"List/{shop.pk}/SavedAudience")
    assert_error(response, 401, "ERROR_UNAUTHORIZED", "List")


# --- The description ------------------------------------------------------------------


def test_the_description_names_each_operation_as_listrak_does(api):
    import json

    with open("/work/shared/reference/listrak-email-api-v1.swagger.json") as file:
        reference = json.load(file)
    served = api.http.get("/email/v1/schema/?format=json").json()
    wanted = {
        (path.removeprefix("/v1"), method, op["operationId"], tuple(op["security"][0]["OAuth 2"]))
        for path, operations in reference["paths"].items()
        for method, op in operations.items()
        if path.split("/")[2:3] in (["Folder"], ["IpPool"])
        or path.split("/")[-2:-1] == ["Campaign"]
        or path.endswith(("/Campaign", "/SavedAudience"))
    }
    assert len(wanted) == 11
    found = {
        (
            path.removeprefix("/email/v1"),
            method,
            op["operationId"],
            tuple(next(iter(op.get("security", [{"OAuth2": []}])[0].values()))),
        )
        for path, operations in served["paths"].items()
        for method, op in operations.items()
    }
    assert wanted <= found, wanted - found
