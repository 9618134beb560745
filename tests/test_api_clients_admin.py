"""API clients managed in the admin."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from api.models import ApiClient
from tests.api_helpers import fetch_token

pytestmark = pytest.mark.django_db


def created_secret(response) -> str:
    text = response.content.decode()
    match = re.search(r"client secret: (\S+) ", text)
    assert match, text
    return match.group(1)


def test_staff_create_a_client_and_see_its_secret_once(admin_client):
    response = admin_client.post(
        "/admin/api/apiclient/add/",
        {"name": "Shop site", "scopes": ["Contact", "List"]},
        follow=True,
    )
    assert response.status_code == 200
    secret = created_secret(response)
    client = ApiClient.objects.get()
    assert client.scope_list == ["Contact", "List"]
    body = fetch_token(Client(), client.client_id, secret)
    assert set(body["scope"].split()) == {"Contact", "List"}
    page = admin_client.get(f"/admin/api/apiclient/{client.pk}/change/")
    assert secret not in page.content.decode()


def test_a_client_name_is_unique_whatever_its_case(admin_client):
    admin_client.post("/admin/api/apiclient/add/", {"name": "Shop", "scopes": ["List"]})
    response = admin_client.post("/admin/api/apiclient/add/", {"name": "SHOP", "scopes": ["List"]})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert ApiClient.objects.count() == 1


def test_replacing_the_secret_revokes_the_old_one_and_its_tokens(admin_client):
    response = admin_client.post(
        "/admin/api/apiclient/add/", {"name": "Shop", "scopes": ["List"]}, follow=True
    )
    old_secret = created_secret(response)
    client = ApiClient.objects.get()
    token = fetch_token(Client(), client.client_id, old_secret)["access_token"]
    response = admin_client.post(
        "/admin/api/apiclient/",
        {"action": "replace_secret", "_selected_action": [client.pk]},
        follow=True,
    )
    new_secret = re.search(r"new client secret (\S+) ", response.content.decode()).group(1)
    refused = Client().post(
        "/OAuth2/Token",
        f"grant_type=client_credentials&client_id={client.client_id}&client_secret={old_secret}",
        content_type="application/x-www-form-urlencoded",
    )
    assert refused.status_code == 401
    assert fetch_token(Client(), client.client_id, new_secret)["access_token"]
    old_token_call = Client().get("/email/v1/List", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert old_token_call.status_code == 401


def test_changing_scopes_revokes_tokens_with_the_old_ones(admin_client):
    response = admin_client.post(
        "/admin/api/apiclient/add/", {"name": "Shop", "scopes": ["List"]}, follow=True
    )
    secret = created_secret(response)
    client = ApiClient.objects.get()
    token = fetch_token(Client(), client.client_id, secret)["access_token"]
    admin_client.post(
        f"/admin/api/apiclient/{client.pk}/change/", {"name": "Shop", "scopes": ["Contact"]}
    )
    assert Client().get("/email/v1/List", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401
    body = fetch_token(Client(), client.client_id, secret)
    assert body["scope"] == "Contact"
