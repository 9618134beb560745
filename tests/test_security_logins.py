"""Sign-ins are throttled (django-axes): staff passwords in the admin, and
client secrets at the token endpoint, each per name and address."""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from api.services import create_api_client

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


def ask_token(client_id: str, secret: str, address: str = "203.0.113.7"):
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return Client(REMOTE_ADDR=address).post("/OAuth2/Token", urlencode(form), content_type=FORM)


def sign_in(username: str, password: str, address: str = "203.0.113.7"):
    return Client(REMOTE_ADDR=address).post(
        reverse("admin:login"), {"username": username, "password": password}
    )


def test_a_client_secret_cannot_be_guessed_past_the_limit(settings):
    client, secret = create_api_client(name="Shop", scopes=["List"])
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert ask_token(client.client_id, "guess").status_code == 401
    locked = ask_token(client.client_id, "guess")
    assert locked.status_code == 429
    assert locked.json()["error"] == "ERROR_TOO_MANY_REQUESTS"
    assert "15 minutes" in locked.json()["message"]
    # Locked: even the right secret, from that address.
    assert ask_token(client.client_id, secret).status_code == 429
    # Another address, or another client from this one, is not held up.
    assert ask_token(client.client_id, secret, address="198.51.100.9").status_code == 200
    other, other_secret = create_api_client(name="Other", scopes=["List"])
    assert ask_token(other.client_id, other_secret).status_code == 200


def test_the_lock_ends_after_the_cool_off(settings):
    client, secret = create_api_client(name="Shop", scopes=["List"])
    for _ in range(settings.AXES_FAILURE_LIMIT):
        ask_token(client.client_id, "guess")
    assert ask_token(client.client_id, secret).status_code == 429
    earlier = datetime.timedelta(minutes=16)
    for attempt in AccessAttempt.objects.all():
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            attempt_time=attempt.attempt_time - earlier
        )
    assert ask_token(client.client_id, secret).status_code == 200


def test_a_right_secret_clears_the_count_of_wrong_ones(settings):
    client, secret = create_api_client(name="Shop", scopes=["List"])
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        ask_token(client.client_id, "guess")
    assert ask_token(client.client_id, secret).status_code == 200
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert ask_token(client.client_id, "guess").status_code == 401
    assert ask_token(client.client_id, secret).status_code == 200


def test_a_staff_password_cannot_be_guessed_past_the_limit(settings):
    User.objects.create_user("staff", password="s3cret-pass", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in("staff", "guess")
        assert response.status_code == 200 and b"errornote" in response.content
    locked = sign_in("staff", "guess")
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert sign_in("staff", "s3cret-pass").status_code == 429
    assert sign_in("staff", "s3cret-pass", address="198.51.100.9").status_code == 302
