"""Bad input to a subscription point: values of the wrong type, missing and
unknown fields, bodies that are not what they claim, oversized bodies, a
closed point, random junk. Each gets a clear answer naming the problem (next
to its field on the page), never a server error, and nothing is written."""

from __future__ import annotations

import json
import random
import re
import urllib.parse

import pytest

from contacts.models import Contact
from signups.models import SubscriptionPoint
from signups.views import CLOSED
from tests.test_signups import (
    field_box,
    make_point,
    name_of,
    old_token,
    post_form,
    post_json,
    text,
    url,
    written,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def point(shop) -> SubscriptionPoint:
    return make_point(shop, required=("First Name",))


@pytest.mark.parametrize(
    ("field_name", "value", "error"),
    [
        ("Points", "abc", "Profile field 'Points': 'abc' is not a number."),
        ("Points", "1.234", "Profile field 'Points': '1.234' has more than 2 decimal places."),
        (
            "Birthday",
            "13/45/2020",
            "Profile field 'Birthday': '13/45/2020' is not a date; use MM/DD/YYYY or YYYY-MM-DD.",
        ),
        (
            "First Name",
            "x" * 51,
            "Profile field 'First Name' accepts at most 50 characters; got 51.",
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_shown_next_to_its_field_and_nothing_is_written(
    shop, client, point, field_name, value, error
):
    data = {"email": "ada@example.com", name_of(shop, "First Name"): "Ada"}
    data[name_of(shop, field_name)] = value

    page = post_form(client, point, data)
    answer = post_json(client, point, data)

    assert page.status_code == 400
    box = field_box(text(page), name_of(shop, field_name))
    assert 'class="errorlist"' in box
    assert error.replace("'", "&#x27;") in box
    assert f'value="{value}"' in box  # kept, to be corrected
    assert answer.status_code == 400
    assert answer.json() == {"ok": False, "errors": {name_of(shop, field_name): [error]}}
    assert written() == (0, 0, 0, 0)


def test_a_missing_required_field_and_a_bad_address_are_shown_next_to_their_fields(
    shop, client, point
):
    page = post_form(client, point, {"email": "not-an-address"})
    answer = post_json(client, point, {"email": "not-an-address"})

    assert page.status_code == 400
    assert "is not a valid email address" in field_box(text(page), "email")
    assert "This field is required." in field_box(text(page), name_of(shop, "First Name"))
    # The form comes back with a fresh token, to send again.
    assert re.search(r'name="token" value="[^"]+"', text(page))
    assert answer.status_code == 400
    assert answer.json()["errors"] == {
        "email": ["'not-an-address' is not a valid email address."],
        name_of(shop, "First Name"): ["This field is required."],
    }
    missing = post_json(client, point, {name_of(shop, "First Name"): "Ada"})
    assert missing.json()["errors"] == {"email": ["This field is required."]}
    assert written() == (0, 0, 0, 0)


def test_an_unknown_field_is_refused_by_name(shop, client, point):
    data = {"email": "ada@example.com", name_of(shop, "First Name"): "Ada", "coupon": "X"}
    response = post_json(client, point, data)
    assert response.status_code == 400
    assert "This form does not ask for: coupon." in text(response)
    assert written() == (0, 0, 0, 0)


def test_an_embedded_form_may_carry_the_shop_platforms_own_fields(shop, client):
    """Magento adds form_key to every form of its pages, a CMS its nonce: the
    embedded form still signs the visitor up. A field of the point's own kind
    that it does not ask for is still refused (a snippet older than the point)."""
    point = make_point(shop, "Checkout", fields=("First Name",))
    data = {
        "email": "ada@example.com",
        name_of(shop, "First Name"): "Ada",
        "form_key": "x1y2",
        "_wpnonce": "abc",
    }
    response = post_form(client, point, data)
    assert response.status_code == 200
    assert Contact.objects.filter(email="ada@example.com").exists()

    stale = {**data, "email": "bob@example.com", name_of(shop, "Points"): "3"}
    response = post_form(client, point, stale)
    assert response.status_code == 400
    assert f"This form does not ask for: {name_of(shop, 'Points')}." in text(response)


def test_a_field_of_the_list_the_point_does_not_ask_for_is_unknown(shop, client):
    point = make_point(shop, fields=("First Name",))
    response = post_json(client, point, {"email": "a@example.com", name_of(shop, "Points"): "1"})
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "__all__": [f"This form does not ask for: {name_of(shop, 'Points')}."]
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"email": "ada@example.com",', "The body is not valid JSON."),
        (b"\xff\xfe not text", "The body is not valid JSON."),
        (b"", "The body must be a JSON object of field names and values."),
        (b'["ada@example.com"]', "The body must be a JSON object of field names and values."),
        (b'"ada@example.com"', "The body must be a JSON object of field names and values."),
        (
            b'{"email": {"address": "ada@example.com"}}',
            "Values must be text, numbers or true/false; not those of: email.",
        ),
        (
            b'{"email": ["ada@example.com"], "token": null}',
            "Values must be text, numbers or true/false; not those of: email, token.",
        ),
    ],
    ids=["malformed", "not-utf8", "empty", "array", "string", "object-value", "list-and-null"],
)
def test_a_body_that_is_not_an_object_of_plain_values_is_refused_clearly(
    client, point, body, message
):
    response = post_json(client, point, body)
    assert response.status_code == 400
    assert response.json() == {"ok": False, "errors": {"__all__": [message]}}
    assert written() == (0, 0, 0, 0)


@pytest.mark.parametrize("as_json", [False, True], ids=["page", "json"])
def test_an_oversized_body_is_refused_with_413(shop, client, point, settings, as_json):
    settings.SIGNUP_MAX_BODY_BYTES = 2048
    data = {"email": "ada@example.com", name_of(shop, "First Name"): "x" * 3000}
    response = post_json(client, point, data) if as_json else post_form(client, point, data)
    assert response.status_code == 413
    assert "The form sent more than 2048 bytes." in text(response)
    assert written() == (0, 0, 0, 0)


def test_a_closed_point_and_an_unknown_key_say_it_is_closed(shop, client):
    point = make_point(shop, fields=(), is_active=False)
    unknown = "/s/no-such-point/"

    pages = [client.get(url(point)), client.get(unknown)]
    posts = [post_form(client, point, {"email": "ada@example.com"}), client.post(unknown, {})]
    answers = [
        post_json(client, point, {"email": "ada@example.com"}),
        client.post(unknown, "{}", content_type="application/json"),
    ]

    for response in pages + posts:
        assert response.status_code == 404
        assert CLOSED in text(response)
        assert "<form" not in text(response)
    assert pages[0].content == pages[1].content
    for response in answers:
        assert response.status_code == 404
        assert response.json() == {"ok": False, "errors": {"__all__": [CLOSED]}}
    assert written() == (0, 0, 0, 0)


def test_other_methods_are_refused(client, point):
    assert client.put(url(point), "{}", content_type="application/json").status_code == 405
    assert client.delete(url(point)).status_code == 405


def test_an_unreadable_form_body_is_refused_clearly(shop, client, point):
    no_boundary = client.post(url(point), b"--x\r\n", content_type="multipart/form-data")
    many = "&".join(f"f{n}=" for n in range(1200))
    too_many_fields = client.post(
        url(point), many, content_type="application/x-www-form-urlencoded"
    )
    for response in (no_boundary, too_many_fields):
        assert response.status_code == 400
        assert "The form&#x27;s body could not be read." in text(response)
    not_utf8 = client.post(
        url(point),
        "email=ad%E9@example.com",
        content_type="application/x-www-form-urlencoded; charset=latin-1",
    )
    assert not_utf8.status_code == 400
    assert "The form&#x27;s body could not be read: send it in UTF-8." in text(not_utf8)
    assert written() == (0, 0, 0, 0)


# --- Junk ---------------------------------------------------------------------


def test_random_junk_never_gets_a_server_error(shop, client, point, settings):
    settings.SIGNUP_LIMIT_PER_ADDRESS = 10_000
    point.signups_per_minute = 10_000
    point.save()
    rng = random.Random(19)
    names = ["email", "token", "website", "consent", name_of(shop, "Points"), "x", ""]
    kinds = [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=zz",
        "text/plain",
        "application/json; charset=latin-1",
    ]
    statuses = set()
    for n in range(150):
        match n % 3:
            case 0:
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(300)))
            case 1:
                pairs = {rng.choice(names): "".join(chr(rng.randrange(1, 0x2FF)) for _ in "abc")}
                body = urllib.parse.urlencode(pairs).encode()
            case _:
                value = rng.choice([None, [], {}, 1e308, -1, True, "\u0000", "a" * 400])
                body = json.dumps({rng.choice(names): value, "token": old_token(point)}).encode()
        response = client.generic(
            "POST",
            url(point),
            body,
            content_type=rng.choice(kinds),
            HTTP_ACCEPT=rng.choice(["*/*", "application/json", "text/html"]),
        )
        statuses.add(response.status_code)
    assert statuses <= {200, 400, 413}
    assert not Contact.objects.exists()
