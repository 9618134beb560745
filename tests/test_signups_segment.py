"""A signup through a subscription point reaches the Segment outbox through
the activity hook, like any other subscription: an identify for the
subscription, in the transaction of the signup. (External events, the
point's among them, are not among the tracks SPEC section 6 sends.)"""

from __future__ import annotations

import time

import pytest
from django.test import Client

from signups import tokens
from signups.models import PointField, SubscriptionPoint
from signups.services import save_point
from tests.segment_server import allow, make_integration, outbox, speed_up

pytestmark = pytest.mark.django_db

ENDPOINT = "http://127.0.0.1:9"  # never contacted here: nothing is delivered


@pytest.fixture(autouse=True)
def fast_segment(settings) -> None:
    speed_up(settings)
    allow(settings, ENDPOINT)


def test_a_popup_signup_writes_the_subscriptions_identify_to_the_outbox(shop):
    make_integration(ENDPOINT, shop)
    first_name = shop.profile_fields.get(name="First Name")
    popup = save_point(SubscriptionPoint(list=shop, name="Pop-up"))
    PointField.objects.create(point=popup, field=first_name, required=True)
    shown_earlier = tokens.make_token(popup.key, now=time.time() - 10)

    answer = Client().post(
        f"/s/{popup.key}/",
        {"email": "Ann@Example.com", f"field_{first_name.pk}": "Ann", "token": shown_earlier},
    )

    assert answer.status_code == 200
    (identify,) = outbox()
    assert identify["type"] == "identify"
    assert identify["anonymousId"] == "ann@example.com"
    assert identify["traits"] == {"email": "ann@example.com", f"listrak_list_{shop.pk}": True}
