"""What guards a subscription point: bots (honeypot, fill-time token), rate
limits, CORS; the scripts that carry a fresh token; the sweep of old
rate windows; and many posts of one address racing on a live server."""

from __future__ import annotations

import datetime
import json
import re
import time
import urllib.parse
import urllib.request

import pytest
from django.db.models import Sum
from django.utils import timezone

from contacts.models import Activity, ActivityKind, Contact, SubscriptionState
from signups import throttle, tokens
from signups.models import RateWindow, Signup, SignupOutcome, SubscriptionPoint
from signups.throttle import forget_old_windows
from signups.views import EXPIRED, SEND_AGAIN
from tests.test_concurrency import race
from tests.test_signups import (
    THANKS,
    events_fired,
    make_point,
    name_of,
    old_token,
    outcomes,
    post_form,
    post_json,
    text,
    url,
    written,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def point(shop) -> SubscriptionPoint:
    return make_point(shop, fields=("First Name", "Points"), allowed_origins=SHOP)


SHOP = "https://www.shop.example"


# --- Bots ---------------------------------------------------------------------


@pytest.mark.parametrize("as_json", [False, True], ids=["page", "json"])
def test_a_filled_honeypot_gets_a_persons_answer_and_only_a_count(shop, client, point, as_json):
    person = {"email": "ada@example.com", name_of(shop, "First Name"): "Ada"}
    bot = {"email": "bot@example.com", name_of(shop, "First Name"): "Bot", "website": "http://x"}
    send = post_json if as_json else post_form

    answers = [send(client, point, person), send(client, point, bot)]

    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].content == answers[1].content
    assert not Contact.objects.filter(email="bot@example.com").exists()
    assert not Activity.objects.filter(email="bot@example.com").exists()
    assert outcomes() == [SignupOutcome.SUBSCRIBED, SignupOutcome.HONEYPOT]
    assert Signup.objects.get(outcome=SignupOutcome.HONEYPOT).contact is None


def test_a_filled_honeypot_is_thanked_even_when_the_rest_is_nonsense(client, point):
    response = post_form(client, point, {"email": "nonsense", "website": "spam"})
    assert response.status_code == 200 and THANKS in text(response)
    assert outcomes() == [SignupOutcome.HONEYPOT]
    assert Contact.objects.count() == 0


@pytest.mark.parametrize("token", ["", "forged", "1700000000000:not-a-signature", "other"])
def test_a_post_without_a_valid_token_gets_the_form_again_and_writes_nothing(
    shop, client, point, token
):
    if token == "other":  # a real token of another point
        token = old_token(make_point(shop, "Pop-up", fields=()))
    data = {"email": "ada@example.com", name_of(shop, "First Name"): "Ada", "token": token}
    before = written()

    page = post_form(client, point, data)
    answer = post_json(client, point, data)

    assert page.status_code == 400
    assert SEND_AGAIN in text(page)
    assert 'value="ada@example.com"' in text(page)  # filled in, to send again
    (fresh,) = re.findall(r'name="token" value="([^"]+)"', text(page))
    assert tokens.check_token(point.key, fresh, now=time.time() + 5) == tokens.Check.OK
    assert answer.status_code == 400
    body = answer.json()
    assert body["errors"] == {"__all__": [SEND_AGAIN]}
    assert tokens.check_token(point.key, body["token"], now=time.time() + 5) == tokens.Check.OK
    assert written() == before


def test_a_post_without_any_token_gets_the_form_again(shop, client, point):
    response = client.post(url(point), {"email": "ada@example.com"})
    assert response.status_code == 400 and SEND_AGAIN in text(response)
    assert written() == (0, 0, 0, 0)


def test_a_form_sent_too_fast_is_counted_as_a_bot_and_nothing_else(shop, client, point, settings):
    settings.SIGNUP_MIN_FILL_SECONDS = 2
    data = {"email": "ada@example.com", name_of(shop, "First Name"): "Ada"}

    page = post_form(client, point, {**data, "token": tokens.make_token(point.key)})
    answer = post_json(client, point, {**data, "token": tokens.make_token(point.key)})

    assert page.status_code == answer.status_code == 400
    assert SEND_AGAIN in text(page)
    assert answer.json()["errors"] == {"__all__": [SEND_AGAIN]}
    assert outcomes() == [SignupOutcome.TOO_FAST, SignupOutcome.TOO_FAST]
    assert Contact.objects.count() == Activity.objects.count() == 0
    # Sent again a moment later, it is taken.
    late = tokens.make_token(point.key, now=time.time() - 3)
    assert post_form(client, point, {**data, "token": late}).status_code == 200
    assert Contact.objects.get().email == "ada@example.com"


def test_a_form_left_open_for_days_asks_to_press_the_button_again(shop, client, point):
    stale = tokens.make_token(point.key, now=time.time() - 3 * 24 * 3600)
    data = {"email": "ada@example.com", name_of(shop, "First Name"): "Ada", "token": stale}
    response = post_form(client, point, data)
    assert response.status_code == 400 and EXPIRED in text(response)
    assert written() == (0, 0, 0, 0)


# --- Rate limits --------------------------------------------------------------


def posts_from(client, point, address: str, count: int, *, start: int = 0):
    return [
        post_form(client, point, {"email": f"p{start + n}@example.com"}, REMOTE_ADDR=address)
        for n in range(count)
    ]


def wait_for_a_fresh_window(seconds: int) -> None:
    """Not within two seconds of a window's end, so a test's posts share one."""
    while time.time() % seconds > seconds - 2:
        time.sleep(0.2)


def test_one_address_is_limited_over_every_point(shop, client, settings):
    settings.SIGNUP_LIMIT_PER_ADDRESS = 3
    wait_for_a_fresh_window(settings.SIGNUP_LIMIT_MINUTES * 60)
    footer = make_point(shop, fields=())
    popup = make_point(shop, "Pop-up", fields=())

    answers = posts_from(client, footer, "10.0.0.1", 2) + posts_from(
        client, popup, "10.0.0.1", 1, start=2
    )
    refused = posts_from(client, popup, "10.0.0.1", 1, start=3)[0]
    refused_json = post_json(client, footer, {"email": "p4@example.com"}, REMOTE_ADDR="10.0.0.1")
    elsewhere = posts_from(client, footer, "10.0.0.2", 1, start=5)[0]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert refused.status_code == refused_json.status_code == 429
    wait = int(refused["Retry-After"])
    assert 0 < wait <= 600
    assert "Too many signups from here just now; please try again in" in text(refused)
    assert refused_json.json()["ok"] is False
    assert "Too many signups" in refused_json.json()["errors"]["__all__"][0]
    assert int(refused_json["Retry-After"]) > 0
    assert elsewhere.status_code == 200
    emails = set(Contact.objects.values_list("email", flat=True))
    assert emails == {"p0@example.com", "p1@example.com", "p2@example.com", "p5@example.com"}
    assert Signup.objects.count() == 4


def test_a_point_is_limited_for_everyone_together(shop, client):
    wait_for_a_fresh_window(60)
    point = make_point(shop, fields=(), signups_per_minute=2)
    other = make_point(shop, "Pop-up", fields=())

    answers = [posts_from(client, point, f"10.0.1.{n}", 1, start=n)[0] for n in range(3)]
    other_answer = posts_from(client, other, "10.0.1.2", 1, start=3)[0]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 0 < int(answers[2]["Retry-After"]) <= 60
    assert "1 minute." in text(answers[2])
    assert other_answer.status_code == 200
    assert Contact.objects.count() == 3
    assert not Contact.objects.filter(email="p2@example.com").exists()


def test_one_address_over_its_limit_does_not_use_up_the_points(shop, client, settings):
    """Posts refused by the address's limit do not count against the point's,
    which every visitor shares: one client cannot close the form for all."""
    settings.SIGNUP_LIMIT_PER_ADDRESS = 2
    wait_for_a_fresh_window(60)
    wait_for_a_fresh_window(settings.SIGNUP_LIMIT_MINUTES * 60)
    point = make_point(shop, fields=(), signups_per_minute=5)

    flood = posts_from(client, point, "10.0.2.1", 10)
    visitor = posts_from(client, point, "10.0.2.2", 1, start=10)[0]

    assert [a.status_code for a in flood] == [200] * 2 + [429] * 8
    assert visitor.status_code == 200
    assert Contact.objects.filter(email="p10@example.com").exists()


def test_behind_a_proxy_each_visitor_is_limited_by_the_address_it_passes_on(shop, client, settings):
    settings.SIGNUP_LIMIT_PER_ADDRESS = 1
    settings.SIGNUP_CLIENT_ADDRESS_HEADER = "X-Forwarded-For"
    wait_for_a_fresh_window(settings.SIGNUP_LIMIT_MINUTES * 60)
    point = make_point(shop, fields=())

    def post(n: int, forwarded: str):
        data = {"email": f"p{n}@example.com"}
        return post_form(
            client, point, data, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded
        )

    answers = [
        post(0, "10.0.3.1"),
        post(1, "10.0.3.2"),
        post(2, "1.2.3.4, 10.0.3.1"),  # what the visitor sent comes first, the proxy's last
    ]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert set(Contact.objects.values_list("email", flat=True)) == {
        "p0@example.com",
        "p1@example.com",
    }


def test_a_full_window_is_forgotten_when_the_next_one_starts(client, point, settings):
    settings.SIGNUP_LIMIT_PER_ADDRESS = 3
    seconds = settings.SIGNUP_LIMIT_MINUTES * 60
    wait_for_a_fresh_window(seconds)
    limit = throttle.address_limit("10.0.0.9")
    epoch = int(time.time())
    current = datetime.datetime.fromtimestamp(epoch - epoch % seconds, tz=datetime.UTC)
    RateWindow.objects.create(
        key=limit.key, starts_at=current - datetime.timedelta(seconds=seconds), count=1000
    )

    data = {"email": "ada@example.com", name_of(point.list, "First Name"): "Ada"}
    assert post_form(client, point, data, REMOTE_ADDR="10.0.0.9").status_code == 200

    RateWindow.objects.filter(key=limit.key, starts_at=current).update(count=3)
    again = post_form(client, point, data, REMOTE_ADDR="10.0.0.9")
    assert again.status_code == 429


def test_the_sweep_forgets_only_windows_that_ended_over_a_day_ago():
    now = timezone.now()
    for key, age in [("old", 49), ("day-old", 25), ("recent", 23), ("now", 0)]:
        RateWindow.objects.create(key=key, starts_at=now - datetime.timedelta(hours=age), count=1)

    assert forget_old_windows() == 2

    assert set(RateWindow.objects.values_list("key", flat=True)) == {"recent", "now"}


# --- CORS ---------------------------------------------------------------------


def preflight(client, path: str, origin: str):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )


def test_a_preflight_from_an_allowed_origin_is_granted(client, point):
    response = preflight(client, url(point), SHOP)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "content-type" in response["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response


def test_no_other_preflight_is_granted(shop, client, point):
    other = make_point(shop, "Pop-up", fields=(), allowed_origins="https://blog.example")
    closed = make_point(shop, "Old", fields=(), allowed_origins=SHOP, is_active=False)
    refused = [
        preflight(client, url(point), "https://evil.example"),
        preflight(client, url(point), "https://blog.example"),  # the other point's origin
        preflight(client, url(point), SHOP.replace("https", "http")),
        preflight(client, url(other), SHOP),
        preflight(client, url(closed), SHOP),
        preflight(client, "/s/no-such-point/", SHOP),
        preflight(client, "/email/v1/List", SHOP),
        preflight(client, "/OAuth2/Token", SHOP),
        preflight(client, "/admin/", SHOP),
    ]
    for response in refused:
        assert "Access-Control-Allow-Origin" not in response, response.wsgi_request.path


def test_the_post_itself_is_granted_to_the_allowed_origin_only(shop, client, point):
    data = {"email": "ada@example.com", name_of(shop, "First Name"): "Ada"}
    allowed = post_json(client, point, data, HTTP_ORIGIN=SHOP)
    other = post_json(
        client, point, {**data, "email": "eve@example.com"}, HTTP_ORIGIN="https://evil.example"
    )
    assert allowed["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Origin" not in other
    # The server took both (CORS only keeps the answer from the other page's script).
    assert allowed.json()["ok"] and other.json()["ok"]
    # Errors and refusals carry the grant too, so the pop-up can show them.
    bad = post_json(client, point, {"email": "x"}, HTTP_ORIGIN=SHOP)
    assert bad.status_code == 400 and bad["Access-Control-Allow-Origin"] == SHOP
    api = client.get("/email/v1/List", HTTP_ORIGIN=SHOP)
    assert "Access-Control-Allow-Origin" not in api


# --- Scripts ------------------------------------------------------------------


def script_config(response) -> dict:
    """The point's config the script carries: the JSON object starting at {"key"."""
    body = text(response)
    start = body.index('{"key"')
    config, _ = json.JSONDecoder().raw_decode(body, start)
    return config


def test_the_popup_script_carries_the_points_config_and_a_fresh_token(shop, client):
    point = make_point(
        shop,
        "Pop-up",
        fields=("Points", "First Name"),
        required=("First Name",),
        heading="10% off",
        intro="Your first order.",
        button_label="Get it",
        consent_text="Email me again",
        popup_opening="exit",
    )

    response = client.get(f"{url(point)}popup.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-store"
    config = script_config(response)
    assert config["key"] == point.key
    assert config["postUrl"].endswith(url(point))
    assert (config["heading"], config["intro"], config["button"], config["consent"]) == (
        "10% off",
        "Your first order.",
        "Get it",
        "Email me again",
    )
    assert config["opening"] == "exit" and config["honeypot"] == "website"
    assert [(f["name"], f["label"], f["type"], f["required"]) for f in config["fields"]] == [
        (name_of(shop, "Points"), "Points", "Numeric", False),
        (name_of(shop, "First Name"), "First Name", "Text", True),
    ]
    assert tokens.check_token(point.key, config["token"]) == tokens.Check.TOO_FAST
    assert tokens.check_token(point.key, config["token"], now=time.time() + 5) == tokens.Check.OK


def test_the_popup_script_escapes_the_points_texts(shop, client):
    point = make_point(shop, fields=(), heading="</script><script>alert(1)</script>")
    body = text(client.get(f"{url(point)}popup.js"))
    assert "</script>" not in body
    assert script_config(client.get(f"{url(point)}popup.js"))["heading"] == point.heading


def test_the_form_script_carries_a_fresh_token(client, point):
    response = client.get(f"{url(point)}form.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Cache-Control"] == "no-store"
    config = script_config(response)
    assert config["key"] == point.key
    assert tokens.check_token(point.key, config["token"], now=time.time() + 5) == tokens.Check.OK


def test_the_scripts_of_a_closed_point_say_it_is_closed(shop, client):
    point = make_point(shop, fields=(), is_active=False)
    for script in ("popup.js", "form.js"):
        response = client.get(f"{url(point)}{script}")
        assert response.status_code == 404
        assert "closed" in text(response)
        assert point.key not in text(response)


# --- Racing posts -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_eight_posts_of_one_new_address_racing_subscribe_it_once(shop, live_server):
    point = make_point(shop, fields=("First Name",))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    answers: list[tuple[int, bytes]] = []

    def post(n: int) -> None:
        form = {"email": "ada@example.com", name_of(shop, "First Name"): f"Ada {n}"}
        form["token"] = old_token(point)
        data = urllib.parse.urlencode(form).encode()
        with opener.open(live_server.url + url(point), data=data, timeout=60) as answer:
            answers.append((answer.status, answer.read()))

    assert race(8, post) == []

    assert len(answers) == 8
    assert {status for status, _ in answers} == {200}
    assert len({body for _, body in answers}) == 1
    assert THANKS.encode() in answers[0][1]
    contact = Contact.objects.get(email="ada@example.com")
    assert contact.state == SubscriptionState.SUBSCRIBED
    assert len(contact.profile) == 1  # one post's name, not a mix
    assert Activity.objects.filter(kind=ActivityKind.SUBSCRIBED).count() == 1
    # Subscribed by the first post; already subscribed for the other seven, for
    # whom the event fires too (as for every subscribed contact).
    assert sorted(outcomes()) == sorted(
        [SignupOutcome.SUBSCRIBED] + [SignupOutcome.ALREADY_SUBSCRIBED] * 7
    )
    assert len(events_fired(point, "ada@example.com")) == 8
    assert Signup.objects.filter(contact=contact).count() == 8
    # Every post was counted against both limits: no increment lost.
    counted = RateWindow.objects.filter(key=f"point:{point.pk}").aggregate(n=Sum("count"))
    assert counted["n"] == 8
    address = RateWindow.objects.filter(key__startswith="ip:").aggregate(n=Sum("count"))
    assert address["n"] == 8
