"""Posting a signup to a subscription point, through the real views: the
hosted page, form posts and JSON posts; the same answer for every address,
whatever became of it; consent; double opt-in; bad input.

Bad input is in tests/test_signups_input.py; bots, rate limits, CORS, the
scripts and racing posts in tests/test_signups_guards.py."""

from __future__ import annotations

import datetime
import json
import re
import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from contacts.models import (
    Activity,
    ActivityKind,
    Contact,
    OptInRequest,
    OptInStatus,
    SubscribeMethod,
    SubscriptionState,
)
from contacts.optin import confirm_subscription, confirmation_url
from contacts.services import ban_address, suppress_addresses
from lists.models import List, ProfileField
from signups import tokens
from signups.models import PointField, Signup, SignupOutcome, SubscriptionPoint
from signups.services import save_point
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

THANKS = "Thank you! Please check your inbox."
LONG_AGO = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


# --- Helpers (tests/test_signups_guards.py uses them too) --------------------


def make_point(
    email_list: List,
    name: str = "Footer",
    *,
    fields: tuple[str, ...] = ("First Name", "Birthday", "Points", "VIP"),
    required: tuple[str, ...] = (),
    **attrs: Any,
) -> SubscriptionPoint:
    """A point asking for the list's profile ``fields`` in that order; its
    event is the one ``save_point`` makes, "Signup: <name>"."""
    point = save_point(SubscriptionPoint(list=email_list, name=name, **attrs))
    for position, field_name in enumerate(fields):
        PointField.objects.create(
            point=point,
            field=ProfileField.objects.get(list=email_list, name=field_name),
            required=field_name in required,
            position=position,
        )
    return point


def url(point: SubscriptionPoint) -> str:
    return reverse("signup-page", kwargs={"key": point.key})


def field(email_list: List, name: str) -> ProfileField:
    return ProfileField.objects.get(list=email_list, name=name)


def name_of(email_list: List, name: str) -> str:
    """The form field of a profile field: ``field_<id>``."""
    return f"field_{field(email_list, name).pk}"


def old_token(point: SubscriptionPoint) -> str:
    """A token of a form shown ten seconds ago: past the minimum fill time."""
    return tokens.make_token(point.key, now=time.time() - 10)


def post_form(client: Client, point: SubscriptionPoint, data: dict[str, Any], **extra: Any):
    """A form-encoded post with a valid token (unless ``data`` has one)."""
    return client.post(url(point), {"token": old_token(point), **data}, **extra)


def post_json(client: Client, point: SubscriptionPoint, body: Any, **extra: Any):
    """A JSON post; a dict body gets a valid token unless it has one."""
    if isinstance(body, dict):
        body = {"token": old_token(point), **body}
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    # CONTENT_TYPE too: the test client leaves it out of an empty body's request.
    extra = {"CONTENT_TYPE": "application/json", **extra}
    return client.post(url(point), data=raw, content_type="application/json", **extra)


def field_box(page: str, name: str) -> str:
    """The HTML of the container of form field ``name`` on the hosted page."""
    match = re.search(rf'<div class="[^"]*" id="field-{name}">(.*?)</div>', page, re.S)
    assert match, f"no container of {name} on the page"
    return match.group(1)


def text(response) -> str:
    return response.content.decode()


def written() -> tuple[int, int, int, int]:
    """How many contacts, activities, signups and opt-in requests there are."""
    return (
        Contact.objects.count(),
        Activity.objects.count(),
        Signup.objects.count(),
        OptInRequest.objects.count(),
    )


def events_fired(point: SubscriptionPoint, email: str | None = None) -> list[Activity]:
    fired = Activity.objects.filter(kind=ActivityKind.EVENT_FIRED, details__event_id=point.event_id)
    if email is not None:
        fired = fired.filter(email=email)
    return list(fired)


def outcomes() -> list[str]:
    return list(Signup.objects.order_by("id").values_list("outcome", flat=True))


@pytest.fixture
def point(shop) -> SubscriptionPoint:
    return make_point(shop, required=("First Name",))


# --- The hosted page ----------------------------------------------------------


def test_the_hosted_page_shows_the_fields_in_order_with_their_widgets_and_a_token(shop, client):
    point = make_point(
        shop,
        fields=("VIP", "Points", "First Name", "Birthday"),
        required=("First Name", "Birthday"),
        heading="Get 10% off",
        intro="Offers every week.",
        button_label="Join",
    )

    response = client.get(url(point))

    assert response.status_code == 200
    page = text(response)
    assert "<h1>Get 10% off</h1>" in page and "Offers every week." in page
    assert '<button type="submit">Join</button>' in page
    names = re.findall(r'<div class="[^"]*" id="field-([a-z_0-9]+)">', page)
    assert names == [
        "email",
        *(name_of(shop, n) for n in ("VIP", "Points", "First Name", "Birthday")),
    ]
    assert 'type="checkbox"' in field_box(page, name_of(shop, "VIP"))
    assert 'type="number"' in field_box(page, name_of(shop, "Points"))
    assert 'type="text"' in field_box(page, name_of(shop, "First Name"))
    assert 'type="date"' in field_box(page, name_of(shop, "Birthday"))
    assert 'type="email"' in field_box(page, "email")
    required = [n for n in names if 'class="required"' in field_box(page, n)]
    assert required == ["email", name_of(shop, "First Name"), name_of(shop, "Birthday")]
    # The honeypot is there, out of sight; and the token of the moment it was shown.
    assert '<div class="hp" aria-hidden="true">' in page and 'name="website"' in page
    (token,) = re.findall(r'name="token" value="([^"]+)"', page)
    assert tokens.check_token(point.key, token) == tokens.Check.TOO_FAST  # made just now
    assert tokens.check_token(point.key, token, now=time.time() + 5) == tokens.Check.OK
    assert response["Cache-Control"].startswith("max-age=0")  # never cached: a fresh token


def test_a_form_post_subscribes_a_new_address_with_typed_values_and_fires_the_event(
    shop, client, point
):
    response = post_form(
        client,
        point,
        {
            "email": " Ada@Example.COM ",
            name_of(shop, "First Name"): "Ada",
            name_of(shop, "Points"): "12.50",
            name_of(shop, "Birthday"): "12/10/1815",
            name_of(shop, "VIP"): "on",
        },
    )

    assert response.status_code == 200
    assert THANKS in text(response)
    assert "<form" not in text(response)
    contact = Contact.objects.get(list=shop, email="ada@example.com")
    assert contact.state == SubscriptionState.SUBSCRIBED
    assert contact.subscribe_method == SubscribeMethod.SUBSCRIPTION_POINT
    assert contact.profile == {
        field(shop, "First Name").key: "Ada",
        field(shop, "Points").key: "12.5",
        field(shop, "Birthday").key: "1815-12-10",
        field(shop, "VIP").key: "on",
    }
    subscribed = Activity.objects.get(contact=contact, kind=ActivityKind.SUBSCRIBED)
    assert subscribed.details == {
        "method": SubscribeMethod.SUBSCRIPTION_POINT,
        "subscription_point": "Footer",
    }
    (fired,) = events_fired(point)
    assert fired.contact_id == contact.pk
    assert point.event is not None and point.event.name == "Signup: Footer"
    assert fired.details["event_name"] == "Signup: Footer"
    assert fired.details["data"] == {"subscription_point": "Footer"}
    (signup,) = Signup.objects.all()
    assert (signup.point, signup.contact, signup.outcome) == (
        point,
        contact,
        SignupOutcome.SUBSCRIBED,
    )
    assert not signup.event_pending


def test_the_points_own_subscribe_method_is_recorded(shop, client):
    point = make_point(shop, fields=(), method="Footer form")
    post_form(client, point, {"email": "ada@example.com"})
    contact = Contact.objects.get(email="ada@example.com")
    assert contact.subscribe_method == "Footer form"
    activity = Activity.objects.get(kind=ActivityKind.SUBSCRIBED)
    assert activity.details["method"] == "Footer form"


def test_an_unticked_checkbox_and_empty_fields_store_nothing(shop, client, point):
    post_form(client, point, {"email": "ada@example.com", name_of(shop, "First Name"): "Ada"})
    contact = Contact.objects.get(email="ada@example.com")
    assert contact.profile == {field(shop, "First Name").key: "Ada"}


def test_with_a_thank_you_page_the_form_post_is_sent_there(shop, client):
    point = make_point(
        shop,
        fields=(),
        allowed_origins="https://shop.example",
        redirect_url="https://shop.example/thanks",
    )
    response = post_form(client, point, {"email": "ada@example.com"})
    assert response.status_code == 303
    assert response["Location"] == "https://shop.example/thanks"
    assert Contact.objects.filter(email="ada@example.com", state="Subscribed").exists()
    # The page itself lets the form go there (its Content-Security-Policy).
    page = client.get(url(point))
    assert "https://shop.example" in page["Content-Security-Policy"].split("form-action")[1]


def test_a_url_encoded_post_as_a_plain_html_form_sends_it_is_taken(shop, client, point):
    body = f"email=ada%40example.com&{name_of(shop, 'First Name')}=Ada+L&token={old_token(point)}"
    response = client.post(url(point), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and THANKS in text(response)
    assert Contact.objects.get().profile == {field(shop, "First Name").key: "Ada L"}


# --- JSON posts ---------------------------------------------------------------


def test_a_json_post_subscribes_and_answers_ok(shop, client, point):
    response = post_json(
        client,
        point,
        {
            "email": "ada@example.com",
            name_of(shop, "First Name"): "Ada",
            name_of(shop, "Points"): 7,
            name_of(shop, "Birthday"): "1815-12-10",
            name_of(shop, "VIP"): True,
        },
    )

    assert response.status_code == 200
    assert response.json() == {"ok": True, "message": THANKS, "redirect": ""}
    contact = Contact.objects.get(email="ada@example.com")
    assert contact.profile == {
        field(shop, "First Name").key: "Ada",
        field(shop, "Points").key: "7",
        field(shop, "Birthday").key: "1815-12-10",
        field(shop, "VIP").key: "on",
    }
    assert len(events_fired(point, "ada@example.com")) == 1
    assert outcomes() == [SignupOutcome.SUBSCRIBED]


def test_a_json_post_names_the_thank_you_page(shop, client):
    point = make_point(
        shop,
        fields=(),
        allowed_origins="https://shop.example",
        redirect_url="https://shop.example/thanks",
        thank_you_text="Welcome!",
    )
    response = post_json(client, point, {"email": "ada@example.com"})
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "message": "Welcome!",
        "redirect": "https://shop.example/thanks",
    }


def test_a_form_post_asking_for_json_is_answered_in_json(shop, client, point):
    response = post_form(
        client,
        point,
        {"email": "ada@example.com", name_of(shop, "First Name"): "Ada"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200
    assert response.json()["ok"] is True


def test_json_errors_name_the_field(shop, client, point):
    response = post_json(client, point, {"email": "ada@example.com", name_of(shop, "Points"): "x"})
    assert response.status_code == 400
    body = response.json()
    assert body["ok"] is False
    assert body["errors"] == {
        name_of(shop, "First Name"): ["This field is required."],
        name_of(shop, "Points"): ["Profile field 'Points': 'x' is not a number."],
    }
    assert written() == (0, 0, 0, 0)


# --- The same answer for everyone ---------------------------------------------


@pytest.mark.parametrize("as_json", [False, True], ids=["page", "json"])
def test_every_address_gets_the_same_answer_and_only_its_own_changes(shop, client, as_json):
    point = make_point(shop, fields=("First Name", "Points"))
    first_name, points = field(shop, "First Name").key, field(shop, "Points").key
    ban_address(email_list=shop, email="banned@example.com")
    suppress_addresses(emails=["suppressed@example.com"])
    unsubscribed = ContactFactory(
        list=shop,
        email="gone@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at=LONG_AGO,
        profile={},
    )
    subscribed = ContactFactory(list=shop, email="ada@example.com", profile={first_name: "Ada"})
    before = Activity.objects.count()  # the suppression's and ban's own, if any

    answers = []
    for email in (
        "banned@example.com",
        "suppressed@example.com",
        "gone@example.com",
        "ada@example.com",
        "new@example.com",
    ):
        data = {"email": email, name_of(shop, "First Name"): "Eve", name_of(shop, "Points"): "7"}
        response = post_json(client, point, data) if as_json else post_form(client, point, data)
        answers.append((response.status_code, response["Content-Type"], response.content))

    assert answers == [answers[0]] * 5
    assert answers[0][0] == 200
    assert THANKS.encode() in answers[0][2]
    # Banned and suppressed: no contact, nothing recorded for them.
    assert not Contact.objects.filter(email__in=["banned@example.com", "suppressed@example.com"])
    new_activity = Activity.objects.order_by("id")[before:]
    assert not [
        a for a in new_activity if a.email in ("banned@example.com", "suppressed@example.com")
    ]
    # Unsubscribed: stays so, untouched, no event.
    unsubscribed.refresh_from_db()
    assert unsubscribed.state == SubscriptionState.UNSUBSCRIBED
    assert unsubscribed.profile == {}
    assert not [a for a in new_activity if a.email == "gone@example.com"]
    # Already subscribed: the event fires; the empty field is filled, the other kept.
    subscribed.refresh_from_db()
    assert subscribed.state == SubscriptionState.SUBSCRIBED
    assert subscribed.profile == {first_name: "Ada", points: "7"}
    assert len(events_fired(point, "ada@example.com")) == 1
    assert not Activity.objects.filter(
        email="ada@example.com", kind__in=[ActivityKind.SUBSCRIBED, ActivityKind.RESUBSCRIBED]
    )
    # New: subscribed with both values, and the event.
    new = Contact.objects.get(email="new@example.com")
    assert (new.state, new.profile) == (
        SubscriptionState.SUBSCRIBED,
        {first_name: "Eve", points: "7"},
    )
    assert len(events_fired(point, "new@example.com")) == 1
    # Staff see what became of each.
    rows = list(Signup.objects.order_by("id").values_list("outcome", "contact__email"))
    assert rows == [
        (SignupOutcome.REFUSED, None),
        (SignupOutcome.REFUSED, None),
        (SignupOutcome.KEPT_UNSUBSCRIBED, "gone@example.com"),
        (SignupOutcome.ALREADY_SUBSCRIBED, "ada@example.com"),
        (SignupOutcome.SUBSCRIBED, "new@example.com"),
    ]


def test_a_banned_address_that_is_a_contact_is_left_as_it_is(shop, client):
    point = make_point(shop, fields=("First Name",), consent_text="Yes, email me again")
    contact = ContactFactory(list=shop, email="ada@example.com", profile={})
    ban_address(email_list=shop, email="ada@example.com")
    contact.refresh_from_db()
    before = Activity.objects.count()

    response = post_form(
        client,
        point,
        {"email": "ada@example.com", name_of(shop, "First Name"): "Eve", "consent": "on"},
    )

    assert response.status_code == 200 and THANKS in text(response)
    after = Contact.objects.get(pk=contact.pk)
    assert (after.state, after.profile) == (SubscriptionState.UNSUBSCRIBED, {})
    assert Activity.objects.count() == before
    assert outcomes() == [SignupOutcome.REFUSED]


# --- Consent ------------------------------------------------------------------


def test_an_unsubscribed_address_ticking_consent_is_subscribed_again(shop, client):
    point = make_point(shop, fields=("First Name",), consent_text="Yes, email me offers again")
    contact = ContactFactory(
        list=shop,
        email="gone@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at=LONG_AGO,
        profile={},
    )
    page = text(client.get(url(point)))
    assert 'type="checkbox" name="consent"' in field_box(page, "consent")
    assert "Yes, email me offers again" in field_box(page, "consent")

    response = post_form(
        client,
        point,
        {"email": "gone@example.com", name_of(shop, "First Name"): "Eve", "consent": "on"},
    )

    assert response.status_code == 200 and THANKS in text(response)
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED
    assert contact.resubscribed_at is not None
    assert contact.profile == {field(shop, "First Name").key: "Eve"}
    activity = Activity.objects.get(contact=contact, kind=ActivityKind.RESUBSCRIBED)
    assert activity.details == {
        "method": SubscribeMethod.SUBSCRIPTION_POINT,
        "subscription_point": "Footer",
        "consent": "Yes, email me offers again",
    }
    assert len(events_fired(point, "gone@example.com")) == 1
    assert outcomes() == [SignupOutcome.RESUBSCRIBED]


def test_an_unsubscribed_address_not_ticking_consent_stays_unsubscribed(shop, client):
    point = make_point(shop, fields=(), consent_text="Yes, email me offers again")
    contact = ContactFactory(
        list=shop,
        email="gone@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at=LONG_AGO,
    )
    response = post_json(client, point, {"email": "gone@example.com", "consent": False})
    assert response.json()["ok"] is True
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.UNSUBSCRIBED
    assert not events_fired(point)
    assert outcomes() == [SignupOutcome.KEPT_UNSUBSCRIBED]


@pytest.mark.parametrize("word", ["off", "false", "0", "OFF"])
def test_consent_sent_as_off_does_not_resubscribe(shop, client, word):
    point = make_point(shop, fields=("VIP",), consent_text="Yes, email me offers again")
    contact = ContactFactory(
        list=shop,
        email="gone@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at=LONG_AGO,
        profile={},
    )
    body = {"email": "gone@example.com", "consent": word, name_of(shop, "VIP"): word}
    post_json(client, point, body)
    post_json(client, point, {**body, "email": "new@example.com"})
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.UNSUBSCRIBED
    assert Contact.objects.get(email="new@example.com").profile == {}  # the box unticked
    assert outcomes() == [SignupOutcome.KEPT_UNSUBSCRIBED, SignupOutcome.SUBSCRIBED]


@pytest.mark.parametrize("as_json", [False, True], ids=["page", "json"])
def test_consent_is_an_unknown_field_where_the_point_has_no_checkbox(shop, client, as_json):
    point = make_point(shop, fields=())
    ContactFactory(
        list=shop,
        email="gone@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at=LONG_AGO,
    )
    before = written()
    data = {"email": "gone@example.com", "consent": "on"}

    response = post_json(client, point, data) if as_json else post_form(client, point, data)

    assert response.status_code == 400
    message = "This form does not ask for: consent."
    if as_json:
        assert response.json() == {"ok": False, "errors": {"__all__": [message]}}
    else:
        assert message in text(response)
    assert written() == before
    assert Contact.objects.get(email="gone@example.com").state == SubscriptionState.UNSUBSCRIBED


# --- Double opt-in ------------------------------------------------------------


@pytest.fixture
def confirmed_point(shop) -> SubscriptionPoint:
    return make_point(shop, "Checkout", fields=("First Name",), double_opt_in=True)


def test_a_new_address_on_a_double_opt_in_point_waits_for_confirmation(
    shop, client, confirmed_point
):
    response = post_form(
        client, confirmed_point, {"email": "ada@example.com", name_of(shop, "First Name"): "Ada"}
    )

    assert response.status_code == 200 and THANKS in text(response)
    contact = Contact.objects.get(email="ada@example.com")
    assert contact.state == SubscriptionState.PENDING
    assert contact.profile == {field(shop, "First Name").key: "Ada"}
    assert OptInRequest.objects.filter(contact=contact).count() == 1
    assert not events_fired(confirmed_point)
    (signup,) = Signup.objects.all()
    assert (signup.outcome, signup.event_pending) == (SignupOutcome.PENDING, True)

    confirm_subscription(contact=contact)

    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED
    (fired,) = events_fired(confirmed_point)
    assert fired.contact_id == contact.pk
    assert fired.details["data"] == {"subscription_point": "Checkout"}
    signup.refresh_from_db()
    assert not signup.event_pending

    confirm_subscription(contact=contact)
    assert len(events_fired(confirmed_point)) == 1


def test_the_confirmation_link_fires_the_points_event_once(shop, client, confirmed_point):
    post_json(client, confirmed_point, {"email": "ada@example.com"})
    contact = Contact.objects.get(email="ada@example.com")
    link = confirmation_url(contact).split("://", 1)[1].split("/", 1)[1]

    first = client.post(f"/{link}")
    again = client.post(f"/{link}")

    assert first.status_code == again.status_code == 200
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED
    assert len(events_fired(confirmed_point)) == 1


def test_signing_up_twice_before_confirming_fires_the_event_once(shop, client, confirmed_point):
    post_form(client, confirmed_point, {"email": "ada@example.com"})
    post_form(client, confirmed_point, {"email": "ada@example.com"})
    contact = Contact.objects.get(email="ada@example.com")
    # The first email has not gone out yet: one request, one email.
    assert OptInRequest.objects.filter(contact=contact).count() == 1
    assert outcomes() == [SignupOutcome.PENDING, SignupOutcome.PENDING]

    confirm_subscription(contact=contact)

    assert len(events_fired(confirmed_point)) == 1
    assert not Signup.objects.filter(event_pending=True).exists()


def test_a_subscribed_address_on_a_double_opt_in_point_fires_the_event_at_once(
    shop, client, confirmed_point
):
    ContactFactory(list=shop, email="ada@example.com")
    post_form(client, confirmed_point, {"email": "ada@example.com"})
    assert len(events_fired(confirmed_point, "ada@example.com")) == 1
    assert not OptInRequest.objects.exists()
    assert outcomes() == [SignupOutcome.ALREADY_SUBSCRIBED]


def test_on_a_double_opt_in_point_consent_subscribes_an_unsubscribed_address_again_at_once(
    shop, client
):
    """As Listrak's ``overrideUnsubscribe``: the confirmation email is for new
    addresses; a ticked consent box subscribes a known one again at once."""
    point = make_point(shop, fields=(), consent_text="Yes, email me offers again")
    point.double_opt_in = True
    point.save()
    contact = ContactFactory(
        list=shop,
        email="gone@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        subscribed_at=LONG_AGO,
        unsubscribed_at=LONG_AGO,
    )

    response = post_json(client, point, {"email": "gone@example.com", "consent": True})

    assert response.json()["ok"] is True
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED
    assert not OptInRequest.objects.exists()
    activity = Activity.objects.get(contact=contact, kind=ActivityKind.RESUBSCRIBED)
    assert activity.details["consent"] == "Yes, email me offers again"
    assert len(events_fired(point, "gone@example.com")) == 1
    assert outcomes() == [SignupOutcome.RESUBSCRIBED]


def test_a_pending_address_sent_again_gets_another_email_at_most_once_an_hour(
    shop, client, confirmed_point
):
    post_json(client, confirmed_point, {"email": "ada@example.com"})
    OptInRequest.objects.update(status=OptInStatus.SENT, sent_at=timezone.now())

    for _ in range(3):
        assert post_json(client, confirmed_point, {"email": "ada@example.com"}).json()["ok"]
    assert OptInRequest.objects.count() == 1

    OptInRequest.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=61))
    post_json(client, confirmed_point, {"email": "ada@example.com"})
    assert OptInRequest.objects.count() == 2
    assert outcomes() == [SignupOutcome.PENDING] * 5
