"""Engagement with a real sent email (tracked links followed, a bounce
reported) reaches the Segment outbox as its track events."""

from __future__ import annotations

import json

import pytest

from emails.models import Delivery
from tests.segment_server import allow, make_integration, outbox, speed_up
from tests.tracking_helpers import html_of, links, path_of, publish_mailing, send_to

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_segment(settings) -> None:
    speed_up(settings)
    allow(settings, ENDPOINT)


ENDPOINT = "http://127.0.0.1:9"  # never contacted here: nothing is delivered


def tracks(event: str) -> list[dict]:
    return [m for m in outbox() if m["type"] == "track" and m["event"] == event]


def test_opens_clicks_bounces_and_unsubscribes_become_track_calls(
    shop, smtp_server, client, settings
):
    settings.EMAIL_FEEDBACK_SECRET = "f" * 32
    make_integration(ENDPOINT, shop)
    message = publish_mailing(shop)
    contact, email = send_to(shop, smtp_server, "ada@example.com")
    html = html_of(email)
    (sent,) = tracks("Email Sent")
    assert sent["properties"]["email_id"] == message.pk
    assert sent["properties"]["email_subject"] == "Sale for Ada"  # as Ada received it
    assert sent["properties"]["campaign_name"] == "Welcome"

    client.get(path_of(links(html, "o")[0]), HTTP_USER_AGENT="Mail/2.0")
    (opened,) = tracks("Email Opened")
    assert opened["anonymousId"] == "ada@example.com"
    assert "userId" not in opened
    assert opened["context"]["user_agent"] == opened["context"]["userAgent"] == "Mail/2.0"
    assert opened["context"]["ip"] == "127.0.0.1"

    client.get(path_of(links(html, "c")[1]))
    (clicked,) = tracks("Email Link Clicked")
    assert clicked["properties"]["link_url"] == "https://shop.example/p?who=Ada"
    assert isinstance(clicked["properties"]["link_id"], int)

    client.post(
        "/webhooks/email-feedback/",
        data=json.dumps(
            {"email": contact.email, "message_id": email["Message-ID"], "kind": "hard_bounce"}
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {'f' * 32}",
    )
    (bounced,) = tracks("Email Bounced")
    assert bounced["properties"]["email_id"] == message.pk
    (unsubscribed,) = tracks("Unsubscribed")
    assert unsubscribed["properties"]["unsubscribe_type"] == "Hard Bounce"
    assert Delivery.objects.get().contact_id == contact.pk
