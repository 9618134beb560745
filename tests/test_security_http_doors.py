"""The audit's two doors, tried as it tried them: over real HTTP against the
site as production serves it (gunicorn, ``DEBUG`` off). A staff session
cookie with its CSRF token reads and writes nothing in the API without the
permissions; a tracked link whose host a profile value would pick goes
nowhere."""

from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Permission, User

from conductor.engine.tasks import run_due
from contacts.models import ActivityKind, Contact
from contacts.services import subscribe_contact, update_profile
from emails.models import Message
from lists.models import List
from tests.factories import ProfileFieldFactory
from tests.test_security_http import exchange, gunicorn, request_bytes
from tests.tracking_helpers import (
    html_of,
    links,
    path_of,
    publish_mailing,
    published_before_contents_were_frozen,
)

__all__ = ["gunicorn"]  # the fixture, shared with tests/test_security_http.py

pytestmark = pytest.mark.django_db(transaction=True)


def staff_user(username: str, password: str) -> User:
    """A staff account whose password the gunicorn process can check: hashed
    with the site's own hasher (the suite's fast one is not among its hashers)."""
    hashed = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt())
    return User.objects.create(username=username, password=hashed, is_staff=True)


def cookies_of(answer) -> dict[str, str]:
    jar = SimpleCookie()
    for header in answer.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def sign_in(address, username: str, password: str) -> dict[str, str]:
    """The admin's sign-in form, as a browser fills it: its CSRF cookie and
    token, then the session cookie it answers with."""
    form_page = exchange(address, request_bytes("GET", "/admin/login/", {}))
    cookies = cookies_of(form_page)
    found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', form_page.body)
    assert found is not None, "the sign-in form has no CSRF token"
    token = found.group(1)
    body = urlencode(
        {"csrfmiddlewaretoken": token.decode(), "username": username, "password": password}
    ).encode()
    headers = {
        "Cookie": f"csrftoken={cookies['csrftoken']}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": str(len(body)),
        "Referer": "http://127.0.0.1/admin/login/",
    }
    answer = exchange(address, request_bytes("POST", "/admin/login/", headers, body))
    assert answer.status == 302, answer.body[:500]
    return {**cookies, **cookies_of(answer)}


def api_call(address, cookies: dict[str, str], method: str, path: str, body: object = None):
    raw = json.dumps(body).encode() if body is not None else b""
    headers = {
        "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items()),
        "X-CSRFToken": cookies["csrftoken"],
        "Accept": "application/json",
    }
    if body is not None:
        headers |= {"Content-Type": "application/json", "Content-Length": str(len(raw))}
    return exchange(address, request_bytes(method, f"/email/v1/{path}", headers, raw))


def test_a_staff_session_without_permissions_reads_and_writes_nothing_over_http(gunicorn, shop):
    staff_user("intern", "intern-pass-1")
    cookies = sign_in(gunicorn, "intern", "intern-pass-1")
    assert "sessionid" in cookies
    calls = [
        ("GET", f"List/{shop.pk}/Contact", None),
        ("POST", f"List/{shop.pk}/Contact", {"emailAddress": "x@example.com"}),
        ("POST", "List", {"listName": "Mine", "bounceHandling": "Standard"}),
        ("DELETE", f"List/{shop.pk}", None),
    ]
    for method, path, body in calls:
        answer = api_call(gunicorn, cookies, method, path, body)
        assert answer.status == 401, (method, path, answer.body)
        assert answer.json()["error"] == "ERROR_UNAUTHORIZED"
    assert list(List.objects.values_list("name", flat=True)) == ["Shop"]
    assert not Contact.objects.exists()


def test_a_staff_session_with_view_permissions_reads_but_never_writes_over_http(gunicorn, shop):
    analyst = staff_user("analyst", "analyst-pass-1")
    for codename in ("view_list", "view_contact"):
        analyst.user_permissions.add(Permission.objects.get(codename=codename))
    cookies = sign_in(gunicorn, "analyst", "analyst-pass-1")
    read = api_call(gunicorn, cookies, "GET", f"List/{shop.pk}/Contact")
    assert read.status == 200, read.body
    write = api_call(
        gunicorn, cookies, "POST", f"List/{shop.pk}/Contact", {"emailAddress": "x@example.com"}
    )
    assert write.status == 401 and "may only read" in write.json()["message"]
    deleted = api_call(gunicorn, cookies, "DELETE", f"List/{shop.pk}")
    assert deleted.status == 401
    assert List.objects.filter(pk=shop.pk).exists() and not Contact.objects.exists()


def test_a_click_cannot_be_sent_to_a_host_a_last_name_names_over_http(gunicorn, shop, smtp_server):
    ProfileFieldFactory(list=shop, group=shop.field_groups.get(), name="Last Name")
    message = publish_mailing(shop)
    published_before_contents_were_frozen()
    # As a message saved before links were checked may be: its host ends in a merge field.
    Message.objects.filter(pk=message.pk).update(
        html_body='<a href="https://shop.example{{ profile.last_name }}">Shop</a>'
    )
    contact = subscribe_contact(email_list=shop, email="ada@example.com", method="API").contact
    update_profile(contact=contact, values={"Last Name": "@evil.example/x"})
    run_due()
    (email,) = smtp_server.messages
    (click,) = links(html_of(email), "c")
    answer = exchange(gunicorn, request_bytes("GET", path_of(click), {}))
    assert answer.status == 404, (answer.status, answer.headers.get("Location"))
    assert "evil" not in (answer.headers.get("Location") or "")
    assert not contact.activities.filter(kind=ActivityKind.EMAIL_CLICKED).exists()
