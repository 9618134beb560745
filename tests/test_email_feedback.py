"""The bounce and complaint webhook, each bounce rule, and conversions
credited to the email whose link was clicked."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from contacts.models import Activity, ActivityKind, SubscriptionState, UnsubscribeMethod
from contacts.services import fire_event
from emails.models import Delivery
from lists.models import BounceHandling
from tests.factories import EventFactory
from tests.tracking_helpers import html_of, links, path_of, publish_mailing, send_to

pytestmark = pytest.mark.django_db

SECRET = "s" * 32
URL = "/webhooks/email-feedback/"


@pytest.fixture
def sent(shop, smtp_server, settings):
    """Ada, who was sent one email; its delivery."""
    settings.EMAIL_FEEDBACK_SECRET = SECRET
    publish_mailing(shop)
    contact, email = send_to(shop, smtp_server, "ada@example.com")
    delivery = Delivery.objects.get(contact=contact)
    assert email["Message-ID"].startswith(f"<delivery-{delivery.pk}@")
    return contact, email, delivery


def report(client, body, secret: str = SECRET):
    return client.post(
        URL,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def about(email, kind: str, **extra) -> dict:
    return {"email": "ada@example.com", "message_id": email["Message-ID"], "kind": kind, **extra}


def state_of(contact):
    contact.refresh_from_db()
    return contact.state, contact.unsubscribe_method


def test_a_complaint_records_spam_and_unsubscribes_whatever_the_bounce_handling(shop, sent, client):
    contact, email, delivery = sent
    shop.bounce_handling = BounceHandling.NONE
    shop.save()
    response = report(client, about(email, "complaint"))
    assert response.status_code == 200
    assert response.json() == {"processed": 1, "unsubscribed": 1}
    assert state_of(contact) == (SubscriptionState.UNSUBSCRIBED, UnsubscribeMethod.SPAM_COMPLAINT)
    spam = contact.activities.get(kind=ActivityKind.EMAIL_SPAM)
    assert spam.details["message_id"] == delivery.message_id
    assert spam.details["delivery_id"] == delivery.pk


@pytest.mark.parametrize(
    ("handling", "expected"),
    [
        (BounceHandling.STANDARD, (SubscriptionState.UNSUBSCRIBED, UnsubscribeMethod.HARD_BOUNCE)),
        (
            BounceHandling.AGGRESSIVE,
            (SubscriptionState.UNSUBSCRIBED, UnsubscribeMethod.HARD_BOUNCE),
        ),
        (BounceHandling.NONE, (SubscriptionState.SUBSCRIBED, "")),
    ],
)
def test_a_hard_bounce_unsubscribes_unless_the_list_ignores_bounces(
    shop, sent, client, handling, expected
):
    contact, email, _ = sent
    shop.bounce_handling = handling
    shop.save()
    response = report(client, about(email, "hard_bounce", reason="550 5.1.1 no such user"))
    assert response.status_code == 200
    assert state_of(contact) == expected
    bounce = contact.activities.get(kind=ActivityKind.EMAIL_BOUNCED)
    assert bounce.details["bounce_kind"] == "hard"
    assert bounce.details["reason"] == "550 5.1.1 no such user"


def test_soft_bounces_unsubscribe_at_the_lists_count_under_standard_handling(shop, sent, client):
    contact, email, _ = sent
    shop.bounce_unsubscribe_count = 3
    shop.save()
    for _ in range(2):
        assert report(client, about(email, "soft_bounce")).json()["unsubscribed"] == 0
        assert state_of(contact)[0] == SubscriptionState.SUBSCRIBED
    assert report(client, about(email, "soft_bounce")).json()["unsubscribed"] == 1
    assert state_of(contact) == (SubscriptionState.UNSUBSCRIBED, UnsubscribeMethod.BOUNCE_LIMIT)
    assert contact.activities.filter(kind=ActivityKind.EMAIL_BOUNCED).count() == 3


def test_bounces_before_a_resubscription_are_forgiven(shop, sent, client):
    contact, email, _ = sent
    shop.bounce_unsubscribe_count = 2
    shop.save()
    report(client, about(email, "soft_bounce"))
    Activity.objects.filter(kind=ActivityKind.EMAIL_BOUNCED).update(
        occurred_at=timezone.now() - datetime.timedelta(days=30)
    )
    contact.resubscribed_at = timezone.now() - datetime.timedelta(days=1)
    contact.save()
    report(client, about(email, "soft_bounce"))
    assert state_of(contact)[0] == SubscriptionState.SUBSCRIBED


def test_a_soft_bounce_unsubscribes_at_once_under_aggressive_handling(shop, sent, client):
    contact, email, _ = sent
    shop.bounce_handling = BounceHandling.AGGRESSIVE
    shop.save()
    report(client, about(email, "soft_bounce"))
    assert state_of(contact) == (SubscriptionState.UNSUBSCRIBED, UnsubscribeMethod.BOUNCE_LIMIT)


def test_several_reports_in_one_request(shop, sent, client):
    contact, email, _ = sent
    body = {"events": [about(email, "soft_bounce"), about(email, "complaint")]}
    assert report(client, body).json() == {"processed": 2, "unsubscribed": 1}
    assert contact.activities.filter(kind=ActivityKind.EMAIL_BOUNCED).count() == 1
    assert contact.activities.filter(kind=ActivityKind.EMAIL_SPAM).count() == 1


def test_without_the_secret_the_webhook_refuses_and_changes_nothing(shop, sent, client, settings):
    contact, email, _ = sent
    assert report(client, about(email, "complaint"), secret="wrong" * 8).status_code == 401
    no_header = client.post(
        URL, data=json.dumps(about(email, "complaint")), content_type="application/json"
    )
    assert no_header.status_code == 401
    settings.EMAIL_FEEDBACK_SECRET = ""
    assert report(client, about(email, "complaint"), secret="").status_code == 404
    assert state_of(contact)[0] == SubscriptionState.SUBSCRIBED
    assert not contact.activities.filter(kind=ActivityKind.EMAIL_SPAM).exists()


def test_a_bad_report_names_every_problem_and_nothing_of_the_request_is_applied(shop, sent, client):
    contact, email, _ = sent
    body = {
        "events": [
            about(email, "complaint"),  # fine, but its neighbours are not
            about(email, "bounced"),
            {"email": "bob@example.com", "message_id": email["Message-ID"], "kind": "complaint"},
            {
                "email": "ada@example.com",
                "message_id": "<delivery-999999@shop.example>",
                "kind": "complaint",
            },
            {
                "email": "ada@example.com",
                "message_id": "<abc@elsewhere>",
                "kind": "complaint",
                "x": 1,
            },
            "not an object",
        ]
    }
    response = report(client, body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(e.startswith("events[1].kind: one of hard_bounce") for e in errors)
    assert any(e.startswith("events[2].email: bob@example.com is not who") for e in errors)
    assert any(e.startswith("events[3].message_id: no email was sent") for e in errors)
    assert any(e.startswith("events[4]: unknown fields x") for e in errors)
    assert any(e.startswith("events[4].message_id: not a Message-ID") for e in errors)
    assert any(e.startswith("events[5]: a report is an object") for e in errors)
    bad_json = client.post(
        URL, data="{", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {SECRET}"
    )
    assert bad_json.status_code == 400
    assert "not JSON" in bad_json.json()["error"]
    assert report(client, {"events": []}).status_code == 400
    assert state_of(contact)[0] == SubscriptionState.SUBSCRIBED
    assert not contact.activities.filter(
        kind__in=[ActivityKind.EMAIL_SPAM, ActivityKind.EMAIL_BOUNCED]
    ).exists()


# --- Conversions ------------------------------------------------------------------


def click_in(client, email) -> Activity:
    client.get(path_of(links(html_of(email), "c")[0]))
    return Activity.objects.filter(kind=ActivityKind.EMAIL_CLICKED).latest("pk")


def test_a_purchase_after_a_click_converts_that_email_with_its_total(shop, sent, client):
    contact, email, delivery = sent
    click = click_in(client, email)
    purchase = EventFactory(list=shop, name="Purchase")
    fire_event(event=purchase, contact=contact, data={"orderTotal": "59.90"})
    (converted,) = contact.activities.filter(kind=ActivityKind.EMAIL_CONVERTED)
    assert converted.details["message_id"] == delivery.message_id
    assert converted.details["delivery_id"] == delivery.pk
    assert converted.details["link_id"] == click.details["link_id"]
    assert converted.details["order_total"] == 59.9
    assert converted.details["click_activity_id"] == click.pk


def test_a_purchase_outside_the_window_or_without_a_total_converts_nothing(
    shop, sent, client, settings
):
    contact, email, _ = sent
    settings.CONVERSION_WINDOW_DAYS = 7
    click_in(client, email)
    Activity.objects.filter(kind=ActivityKind.EMAIL_CLICKED).update(
        occurred_at=timezone.now() - datetime.timedelta(days=8)
    )
    purchase = EventFactory(list=shop, name="Purchase")
    fire_event(event=purchase, contact=contact, data={"orderTotal": 20})
    assert not contact.activities.filter(kind=ActivityKind.EMAIL_CONVERTED).exists()
    Activity.objects.filter(kind=ActivityKind.EMAIL_CLICKED).update(
        occurred_at=timezone.now() - datetime.timedelta(days=6)
    )
    fire_event(event=purchase, contact=contact, data={"sku": "X"})  # no total: not a purchase
    fire_event(event=purchase, contact=contact, data={"orderTotal": "lots"})
    assert not contact.activities.filter(kind=ActivityKind.EMAIL_CONVERTED).exists()
    fire_event(event=purchase, contact=contact, data={"order_total": 20})
    assert contact.activities.filter(kind=ActivityKind.EMAIL_CONVERTED).count() == 1


def test_a_purchase_without_any_click_converts_nothing(shop, sent):
    contact, _, _ = sent
    fire_event(
        event=EventFactory(list=shop, name="Purchase"), contact=contact, data={"orderTotal": 5}
    )
    assert not contact.activities.filter(kind=ActivityKind.EMAIL_CONVERTED).exists()
