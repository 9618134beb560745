"""Tokens, scopes and the errors every route shares."""

from __future__ import annotations

import datetime
import json
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from api.models import ApiClient
from api.services import create_api_client
from contacts.models import Contact
from tests.api_helpers import ApiCaller, api_caller, assert_error, fetch_token

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


def token_request(http: Client, **form: str):
    return http.post("/OAuth2/Token", urlencode(form), content_type=FORM)


def test_a_client_gets_a_bearer_token_with_its_credentials():
    client, secret = create_api_client(name="Shop site", scopes=["Contact", "List"])
    body = fetch_token(Client(), client.client_id, secret)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"]
    assert set(body["scope"].split()) == {"Contact", "List"}


def test_the_secret_is_stored_only_hashed():
    client, secret = create_api_client(name="Shop site", scopes=["Contact"])
    assert secret not in client.application.client_secret


def test_a_wrong_secret_gets_invalid_credentials():
    client, _ = create_api_client(name="Shop site", scopes=["Contact"])
    response = token_request(
        Client(), grant_type="client_credentials", client_id=client.client_id, client_secret="no"
    )
    assert_error(response, 401, "ERROR_INVALID_CREDENTIALS", "client_id")


def test_another_grant_type_is_refused():
    response = token_request(Client(), grant_type="password", username="a", password="b")
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "client_credentials")


def test_a_token_request_in_json_is_refused():
    response = Client().post("/OAuth2/Token", {"grant_type": "x"}, content_type="application/json")
    assert_error(response, 415, "ERROR_UNSUPPORTED_CONTENT_TYPE", FORM)


def test_a_call_without_a_token_is_unauthorized(shop):
    response = Client().get(f"/email/v1/List/{shop.pk}/Contact")
    assert_error(response, 401, "ERROR_UNAUTHORIZED", "Authorization was denied")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_made_up_token_is_unauthorized(shop):
    response = ApiCaller(Client(), "made-up").get(f"List/{shop.pk}/Contact")
    assert_error(response, 401, "ERROR_UNAUTHORIZED")


def test_an_expired_token_is_unauthorized(api, shop):
    AccessToken.objects.update(expires=timezone.now() - datetime.timedelta(seconds=1))
    assert_error(api.get(f"List/{shop.pk}/Contact"), 401, "ERROR_UNAUTHORIZED")


def test_a_token_without_the_routes_scope_is_unauthorized_and_changes_nothing(shop):
    caller = api_caller(scopes=["List"])
    response = caller.post(f"List/{shop.pk}/Contact", {"emailAddress": "a@example.com"})
    assert_error(response, 401, "ERROR_UNAUTHORIZED", "Contact scope")
    assert not Contact.objects.exists()


def test_a_deleted_client_loses_its_tokens(api, shop):
    ApiClient.objects.get().application.delete()
    assert_error(api.get(f"List/{shop.pk}/Contact"), 401, "ERROR_UNAUTHORIZED")


def test_an_unknown_route_is_named(api):
    assert_error(api.get("Nowhere/1"), 404, "ERROR_UNKNOWN_ROUTE", "/email/v1/Nowhere/1")


def test_an_unsupported_method_is_named(api, shop):
    response = api.delete(f"List/{shop.pk}/Contact")
    assert_error(response, 405, "ERROR_UNSUPPORTED_METHOD", "DELETE")


def test_a_trailing_slash_is_accepted(api, shop):
    assert api.get(f"List/{shop.pk}/Contact/").status_code == 200


def test_an_unknown_list_is_not_found(api):
    assert_error(api.get("List/999999/Contact"), 404, "ERROR_UNABLE_TO_LOCATE_RESOURCE", "listId")


def test_a_list_id_that_is_not_a_number_is_invalid(api):
    assert_error(api.get("List/abc/Contact"), 400, "ERROR_INVALID_PARAMETER", "listId")


def test_malformed_json_is_refused_and_changes_nothing(api, shop):
    response = api.post(f"List/{shop.pk}/Contact", raw=b'{"emailAddress": "a@example.com",')
    assert_error(response, 400, "ERROR_MALFORMED_REQUEST_BODY", "not valid JSON", "line 1")
    assert not Contact.objects.exists()


def test_a_bad_token_is_unauthorized_even_with_a_malformed_body(shop):
    response = ApiCaller(Client(), "made-up").post(f"List/{shop.pk}/Contact", raw=b"{oops")
    assert_error(response, 401, "ERROR_UNAUTHORIZED")


def test_a_nested_error_names_the_item(api, shop):
    body = {"emailAddress": "a@example.com", "segmentationFieldValues": [{"value": "x"}]}
    response = api.post(f"List/{shop.pk}/Contact", body)
    assert_error(
        response, 400, "ERROR_INVALID_PARAMETER", "segmentationFieldValues[0].segmentationFieldId"
    )


def test_a_json_array_instead_of_an_object_is_refused(api, shop):
    response = api.post(f"List/{shop.pk}/Contact", [{"emailAddress": "a@example.com"}])
    assert_error(response, 400, "ERROR_MALFORMED_REQUEST_BODY", "JSON object")


def test_a_repeated_key_is_refused(api, shop):
    raw = b'{"emailAddress": "a@example.com", "emailAddress": "b@example.com"}'
    response = api.post(f"List/{shop.pk}/Contact", raw=raw)
    assert_error(response, 400, "ERROR_MALFORMED_REQUEST_BODY", "emailAddress")


def test_a_body_that_is_not_utf8_is_refused(api, shop):
    response = api.post(f"List/{shop.pk}/Contact", raw=b'{"emailAddress": "\xff@example.com"}')
    assert_error(response, 400, "ERROR_MALFORMED_REQUEST_BODY", "UTF-8")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_json_is_an_unsupported_content_type(api, shop, content_type):
    response = api.call(
        "POST",
        f"List/{shop.pk}/Contact",
        raw=json.dumps({"emailAddress": "a@example.com"}).encode(),
        content_type=content_type,
    )
    assert_error(response, 415, "ERROR_UNSUPPORTED_CONTENT_TYPE", "application/json")
    assert not Contact.objects.exists()


def test_an_oversized_body_is_refused_and_changes_nothing(api, shop, settings):
    padding = "x" * (2 * 1024 * 1024)
    response = api.post(
        f"List/{shop.pk}/Contact", {"emailAddress": "a@example.com", "externalContactID": padding}
    )
    assert_error(response, 413, "ERROR_MALFORMED_REQUEST_BODY", "larger than")
    assert not Contact.objects.exists()


def test_the_openapi_description_is_served(api):
    response = Client().get("/email/v1/schema/?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert "/email/v1/List/{listId}/Contact" in schema["paths"]
    post = schema["paths"]["/email/v1/List/{listId}/Contact"]["post"]
    assert post["operationId"] == "Contact_PostContactResource"


def test_the_documentation_page_is_served():
    response = Client().get("/email/v1/schema/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_staff_browse_the_api_in_the_browser(shop, admin_client):
    response = admin_client.get(f"/email/v1/List/{shop.pk}/Contact", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"nextPageCursor" in response.content


def test_a_signed_in_non_staff_user_is_unauthorized(shop, client, django_user_model):
    user = django_user_model.objects.create_user("shopper", password="pw-123456789")
    client.force_login(user)
    response = client.get(f"/email/v1/List/{shop.pk}/Contact")
    assert_error(response, 401, "ERROR_UNAUTHORIZED")


def test_the_command_prints_credentials_as_json_that_work():
    out = StringIO()
    call_command(
        "create_api_client", "Nightly sync", "--scopes", "contact,List", "--json", stdout=out
    )
    credentials = json.loads(out.getvalue())
    assert set(credentials) == {"client_id", "client_secret"}
    body = fetch_token(Client(), credentials["client_id"], credentials["client_secret"])
    assert set(body["scope"].split()) == {"Contact", "List"}


def test_the_command_refuses_an_unknown_scope():
    with pytest.raises(CommandError, match="Unknown scope Everything"):
        call_command("create_api_client", "X", "--scopes", "Everything")
    assert not ApiClient.objects.exists()
