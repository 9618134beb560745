"""The content library through the API: ``Content`` (blocks) and
``ContentFolder``, in Listrak's shapes, with its errors and its scope."""

from __future__ import annotations

import json

import pytest

from emails.content_library import create_block, save_folder
from emails.models import ContentBlock, ContentFolder
from tests.api_helpers import ALL_SCOPES, api_caller, assert_error
from tests.test_security_api_permissions import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def footers(shop) -> ContentFolder:
    return save_folder(ContentFolder(name="Footers", list=shop))


@pytest.fixture
def footer(footers) -> ContentBlock:
    return create_block(name="Footer", html="<p>Free returns</p>", folder=footers)


def test_it_creates_a_block_and_lists_it(api, footers):
    body = {
        "contentName": "Spring banner",
        "htmlContent": "<p>Spring is here</p>",
        "textContent": "Spring is here",
        "contentFolderId": footers.pk,
        "contentType": "SavedContent",
    }
    response = api.post("Content", body)
    assert response.status_code == 201
    block_id = int(response.json()["resourceId"])
    block = ContentBlock.objects.get(pk=block_id)
    assert api.get("Content").json() == {
        "status": 200,
        "data": [
            {
                "contentId": block_id,
                "contentFolderId": footers.pk,
                "contentName": "Spring banner",
                "textContent": "Spring is here",
                "htmlContent": "<p>Spring is here</p>",
                "contentType": "SavedContent",
                "contentReadOnly": False,
                "lastModifiedDate": block.modified_at.isoformat().replace("+00:00", "Z"),
                "contentKey": "spring_banner",
            }
        ],
    }


def test_a_block_made_with_only_a_name_is_saved_content_in_no_folder(api):
    response = api.post("Content", {"ContentName": "Blank", "ContentFolderId": 0})
    data = api.get(f"Content/{response.json()['resourceId']}").json()["data"]
    assert data["contentFolderId"] is None
    assert data["contentType"] == "SavedContent"
    assert data["textContent"] is None and data["htmlContent"] is None
    assert data["contentKey"] == "blank"


def test_it_returns_one_block(api, footer, footers):
    data = api.get(f"Content/{footer.pk}").json()["data"]
    assert data["contentId"] == footer.pk
    assert data["contentName"] == "Footer"
    assert data["htmlContent"] == "<p>Free returns</p>"
    assert data["contentFolderId"] == footers.pk


def test_an_update_changes_what_it_names_and_keeps_the_rest_and_the_key(api, footer):
    before = footer.modified_at
    response = api.put(
        f"Content/{footer.pk}",
        {"contentName": "Returns", "textContent": "Free returns", "htmlContent": None},
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["contentName"], data["textContent"], data["htmlContent"]) == (
        "Returns",
        "Free returns",
        "<p>Free returns</p>",
    )
    assert data["contentKey"] == "footer"
    footer.refresh_from_db()
    assert (footer.name, footer.key, footer.text) == ("Returns", "footer", "Free returns")
    assert footer.modified_at > before
    response = api.put(f"Content/{footer.pk}", {"contentFolderId": 0})
    assert response.json()["data"]["contentFolderId"] is None


def test_an_unknown_folder_is_refused_naming_it(api, footer):
    response = api.post("Content", {"contentName": "X", "contentFolderId": 999})
    assert_error(
        response, 400, "ERROR_INVALID_PARAMETER", "contentFolderId", "no content folder 999"
    )
    response = api.put(f"Content/{footer.pk}", {"contentFolderId": 999})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "contentFolderId", "999")
    assert ContentBlock.objects.count() == 1


def test_a_block_with_merge_fields_is_refused_naming_the_field(api):
    response = api.post("Content", {"contentName": "Hi", "htmlContent": "Hi {{ profile.name }}"})
    assert_error(
        response,
        400,
        "ERROR_INVALID_PARAMETER",
        "An invalid value was supplied for htmlContent.",
        "merge fields and tags",
    )
    assert not ContentBlock.objects.exists()


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["contentName", "required"]),
        ({"contentName": "  "}, ["contentName", "blank"]),
        ({"contentName": 5}, ["contentName", "string"]),
        ({"contentName": "X", "contentType": "Live"}, ["contentType", "'Live'"]),
        ({"contentName": "X", "contentFolderId": -1}, ["contentFolderId"]),
        ({"contentName": "X", "contentKey": "mine"}, ["Unknown field", "contentKey"]),
        ({"contentName": "X", "textContent": "see https:///x"}, ["textContent", "no host"]),
    ],
)
def test_a_bad_body_is_refused_naming_the_problem(api, body, words):
    assert_error(api.post("Content", body), 400, "ERROR_INVALID_PARAMETER", *words)
    assert not ContentBlock.objects.exists()


def test_an_update_may_not_change_the_type(api, footer):
    response = api.put(f"Content/{footer.pk}", {"contentType": "DynamicContent"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "Unknown field", "contentType")


def test_an_unknown_or_malformed_content_id_is_refused(api):
    assert_error(
        api.get("Content/999"),
        404,
        "ERROR_UNABLE_TO_LOCATE_RESOURCE",
        "Unable to locate a resource associated with the contentId supplied.",
    )
    assert_error(
        api.put("Content/999", {"contentName": "X"}), 404, "ERROR_UNABLE_TO_LOCATE_RESOURCE"
    )
    assert_error(api.get("Content/abc"), 400, "ERROR_INVALID_PARAMETER", "contentId")


def test_there_is_no_delete(api, footer):
    assert_error(api.delete(f"Content/{footer.pk}"), 405, "ERROR_UNSUPPORTED_METHOD", "DELETE")
    assert ContentBlock.objects.filter(pk=footer.pk).exists()


def test_it_lists_the_folders(api, shop, footers):
    top = save_folder(ContentFolder(name="Account"))
    inner = save_folder(ContentFolder(name="Seasonal", parent=top))
    assert api.get("ContentFolder").json() == {
        "status": 200,
        "data": [
            {
                "contentFolderId": top.pk,
                "listId": None,
                "parentFolderId": None,
                "folderName": "Account",
            },
            {
                "contentFolderId": footers.pk,
                "listId": shop.pk,
                "parentFolderId": None,
                "folderName": "Footers",
            },
            {
                "contentFolderId": inner.pk,
                "listId": None,
                "parentFolderId": top.pk,
                "folderName": "Seasonal",
            },
        ],
    }


def test_a_token_without_the_message_scope_is_refused_and_changes_nothing(footer):
    caller = api_caller([s for s in ALL_SCOPES if s != "Message"])
    before = snapshot()
    for method, path, body in [
        ("GET", "Content", None),
        ("POST", "Content", {"contentName": "X"}),
        ("GET", f"Content/{footer.pk}", None),
        ("PUT", f"Content/{footer.pk}", {"contentName": "X"}),
        ("GET", "ContentFolder", None),
    ]:
        response = caller.call(method, path, body)
        assert_error(response, 401, "ERROR_UNAUTHORIZED", "Message")
    assert snapshot() == before


def test_the_description_names_each_operation_as_listrak_does(api):
    with open("/work/shared/reference/listrak-email-api-v1.swagger.json") as file:
        reference = json.load(file)
    served = api.http.get("/email/v1/schema/?format=json").json()
    wanted = {
        (path.removeprefix("/v1"), method, op["operationId"], tuple(op["security"][0]["OAuth 2"]))
        for path, operations in reference["paths"].items()
        for method, op in operations.items()
        if path.split("/")[2] in ("Content", "ContentFolder")
    }
    assert len(wanted) == 5
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
    schemas = served["components"]["schemas"]
    assert (
        "live dynamic content block"
        in schemas["Content"]["properties"]["contentReadOnly"]["description"]
    )
    assert set(schemas["ContentCreateRequest"]["properties"]) == {
        "contentFolderId",
        "contentName",
        "textContent",
        "htmlContent",
        "contentType",
    }
    assert set(schemas["ContentUpdateRequest"]["properties"]) == {
        "contentFolderId",
        "contentName",
        "textContent",
        "htmlContent",
    }
