"""A broadcast sends its message once to each contact of its audience, at
its time, through a real SMTP server: chosen in the database, blocked at send
time for contacts who may not be mailed, cancelled before or while it sends."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from broadcasts.models import BroadcastStatus
from broadcasts.reports import status_counts, summary
from broadcasts.sending import finish_sent, start_due
from broadcasts.services import cancel_broadcast, create_broadcast, schedule_broadcast
from broadcasts.worker import work
from contacts.models import ActivityKind, SubscriptionState
from contacts.services import ban_addresses, suppress_addresses, unsubscribe_contacts
from emails.models import Delivery, DeliveryStatus
from tests.factories import ContactFactory, MessageFactory

pytestmark = pytest.mark.django_db


def sale(shop, **fields):
    return MessageFactory(
        list=shop,
        name="Sale",
        subject="Sale for {{ profile.first_name|default:'you' }}",
        html_body='<p>Hello</p><a href="https://shop.example/sale">Shop</a>',
        text_body="",
        **fields,
    )


def test_a_broadcast_sent_now_reaches_each_subscribed_contact_once(shop, smtp_server):
    first_name = shop.profile_fields.get(name="First Name")
    for n in range(5):
        ContactFactory(list=shop, email=f"c{n}@example.com", profile={first_name.key: f"N{n}"})
    ContactFactory(
        list=shop,
        email="gone@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at=timezone.now(),
    )
    broadcast = create_broadcast(email_list=shop, name="Spring sale", message=sale(shop))
    schedule_broadcast(broadcast=broadcast)

    work(budget=30)
    work(budget=30)  # a second pass, as another worker: nothing more is sent

    received = sorted(m["To"] for m in smtp_server.messages)
    assert received == [f"c{n}@example.com" for n in range(5)]
    assert sorted(m["Subject"] for m in smtp_server.messages) == [
        f"Sale for N{n}" for n in range(5)
    ]
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.SENT
    assert broadcast.recipients == 5
    assert summary(broadcast).sent == 5
    sent_activity = shop.contacts.get(email="c0@example.com").activities.get(
        kind=ActivityKind.EMAIL_SENT
    )
    assert sent_activity.details["broadcast_id"] == broadcast.pk


def test_a_scheduled_broadcast_waits_for_its_time(shop, smtp_server):
    ContactFactory(list=shop, email="ada@example.com")
    later = timezone.now() + datetime.timedelta(hours=2)
    broadcast = create_broadcast(email_list=shop, name="Later", message=sale(shop))
    schedule_broadcast(broadcast=broadcast, send_at=later)
    work(budget=5)
    assert smtp_server.messages == []
    assert start_due(now=later) == 1
    work(budget=5)
    assert [m["To"] for m in smtp_server.messages] == ["ada@example.com"]


def test_the_audience_is_its_criteria_and_blocked_addresses_are_skipped_at_send_time(
    shop, smtp_server
):
    first_name = shop.profile_fields.get(name="First Name")
    for name in ("ada", "bob", "cy", "di"):
        ContactFactory(list=shop, email=f"{name}@example.com", profile={first_name.key: name})
    criteria = {
        "filters": [
            {
                "segmentationFieldId": first_name.pk,
                "compareType": "NotEquals",
                "values": [{"value": "di"}],
            }
        ]
    }
    broadcast = create_broadcast(
        email_list=shop, name="Not di", message=sale(shop), criteria=criteria
    )
    schedule_broadcast(broadcast=broadcast)
    start_due()
    from broadcasts.sending import choose_recipients

    choose_recipients()
    # After its recipients were chosen, before sending: one banned (which
    # unsubscribes it), one suppressed, one unsubscribed.
    ban_addresses(email_list=shop, emails=["ada@example.com"])
    suppress_addresses(emails=["bob@example.com"])
    unsubscribe_contacts(email_list=shop, emails=["cy@example.com"], method="Admin")
    work(budget=10)

    assert smtp_server.messages == []
    broadcast.refresh_from_db()
    assert broadcast.recipients == 3
    assert broadcast.status == BroadcastStatus.SENT
    errors = sorted(Delivery.objects.values_list("contact__email", "error"))
    assert errors == [
        ("ada@example.com", "Not sent: the contact is unsubscribed."),
        ("bob@example.com", "Not sent: the address is suppressed."),
        ("cy@example.com", "Not sent: the contact is unsubscribed."),
    ]


def test_cancelled_before_it_starts_nothing_is_sent_and_once_sent_it_cannot_be(shop, smtp_server):
    ContactFactory(list=shop, email="ada@example.com")
    broadcast = create_broadcast(email_list=shop, name="Oops", message=sale(shop))
    schedule_broadcast(broadcast=broadcast, send_at=timezone.now() + datetime.timedelta(hours=1))
    cancel_broadcast(broadcast=broadcast)
    start_due(now=timezone.now() + datetime.timedelta(hours=2))
    work(budget=5)
    assert smtp_server.messages == []
    assert broadcast.status == BroadcastStatus.CANCELLED
    with pytest.raises(ValidationError, match="can no longer be cancelled"):
        cancel_broadcast(broadcast=broadcast)


def test_cancelled_while_sending_its_waiting_emails_are_not_sent(shop, smtp_server):
    for n in range(3):
        ContactFactory(list=shop, email=f"c{n}@example.com")
    broadcast = create_broadcast(email_list=shop, name="Stop", message=sale(shop))
    schedule_broadcast(broadcast=broadcast)
    start_due()
    from broadcasts.sending import choose_recipients

    choose_recipients()
    assert cancel_broadcast(broadcast=broadcast) == 3
    work(budget=5)
    finish_sent()
    assert smtp_server.messages == []
    assert status_counts(broadcast) == {DeliveryStatus.SKIPPED: 3}
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.CANCELLED


def test_a_message_using_what_only_a_conversation_fills_is_refused(shop):
    message = MessageFactory(list=shop, subject="Your code {{ coupon }}", text_body="Hi")
    broadcast = create_broadcast(email_list=shop, name="Coupon", message=message)
    with pytest.raises(ValidationError, match="coupon"):
        schedule_broadcast(broadcast=broadcast)
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.DRAFT


def test_segment_hears_each_email_sent_with_the_broadcasts_campaign_and_subject(
    shop, smtp_server, settings
):
    from broadcasts.models import Campaign
    from tests.segment_server import allow, make_integration, outbox, speed_up

    speed_up(settings)
    allow(settings, "http://127.0.0.1:9")
    make_integration("http://127.0.0.1:9", shop)
    first_name = shop.profile_fields.get(name="First Name")
    ContactFactory(list=shop, email="ada@example.com", profile={first_name.key: "Ada"})
    spring = Campaign.objects.create(list=shop, name="Spring 2027")
    broadcast = create_broadcast(
        email_list=shop,
        name="Spring sale",
        message=sale(shop),
        campaign=spring,
        google_analytics_campaign_name="spring-sale",
    )
    schedule_broadcast(broadcast=broadcast)
    work(budget=10)

    (sent,) = [call for call in outbox() if call.get("event") == "Email Sent"]
    assert sent["anonymousId"] == "ada@example.com"
    assert sent["properties"]["campaign_name"] == "Spring 2027"
    assert sent["properties"]["email_subject"] == "Sale for Ada"
    assert sent["properties"]["google_analytics_campaign_name"] == "spring-sale"


def test_a_contacts_story_names_the_broadcast_its_email_came_from(shop, smtp_server):
    from contacts.activity_words import sentences

    contact = ContactFactory(list=shop, email="ada@example.com")
    broadcast = create_broadcast(email_list=shop, name="Spring sale", message=sale(shop))
    schedule_broadcast(broadcast=broadcast)
    work(budget=10)
    (said,) = sentences(list(contact.activities.filter(kind=ActivityKind.EMAIL_SENT)))
    assert said == "Email “Sale” sent — in broadcast “Spring sale”"


def test_a_saved_message_is_sent_as_a_copy_with_its_preheader_first(shop, smtp_server):
    from broadcasts.models import SavedMessage
    from broadcasts.services import send_saved_message
    from tests.tracking_helpers import html_of

    ContactFactory(list=shop, email="ada@example.com")
    saved = SavedMessage.objects.create(
        list=shop, name="Weekly", message=sale(shop), preheader="New in this week"
    )
    broadcast = send_saved_message(saved_message=saved)
    work(budget=10)
    (email,) = smtp_server.messages
    html = html_of(email)
    assert html.index("New in this week") < html.index("Hello")
    assert broadcast.message != saved.message  # a copy: editing the saved one changes nothing sent
    saved.message.refresh_from_db()
    assert "New in this week" not in saved.message.html_body


def test_a_broadcast_whose_condition_field_was_deleted_stops_with_the_reason(
    shop, smtp_server, admin_client
):
    from broadcasts.sending import choose_recipients
    from contacts.services import delete_field

    points = shop.profile_fields.get(name="Points")
    ContactFactory(list=shop, email="ada@example.com", profile={points.key: "60"})
    criteria = {
        "filters": [
            {
                "segmentationFieldId": points.pk,
                "compareType": "GreaterThan",
                "values": [{"value": "50"}],
            }
        ]
    }
    broadcast = create_broadcast(
        email_list=shop, name="Points", message=sale(shop), criteria=criteria
    )
    schedule_broadcast(broadcast=broadcast)
    start_due()
    delete_field(field=points)
    assert choose_recipients() == 1  # the claim is let go at once, not held for its lease
    work(budget=5)

    assert smtp_server.messages == []
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.CANCELLED
    assert broadcast.claim_token == ""
    assert broadcast.error.startswith("Stopped: its audience's conditions no longer work (")
    page = admin_client.get(f"/admin/broadcasts/broadcast/{broadcast.pk}/change/")
    assert "Stopped: its audience&#x27;s conditions no longer work" in page.text


def test_an_email_of_a_cancelled_broadcast_that_goes_back_to_waiting_is_never_sent(
    shop, smtp_server
):
    from broadcasts.sending import choose_recipients

    for n in range(3):
        ContactFactory(list=shop, email=f"c{n}@example.com")
    broadcast = create_broadcast(email_list=shop, name="Stop", message=sale(shop))
    schedule_broadcast(broadcast=broadcast)
    start_due()
    choose_recipients()
    # A worker holds one (claimed, not yet sent) when staff cancel ...
    held = Delivery.objects.filter(contact__email="c0@example.com")
    held.update(status=DeliveryStatus.SENDING, claim_token="w", claim_expires_at=timezone.now())
    assert cancel_broadcast(broadcast=broadcast) == 2
    # ... then dies: its lease runs out and the email is waiting again.
    held.update(claim_expires_at=timezone.now() - datetime.timedelta(seconds=1))
    work(budget=5)

    assert smtp_server.messages == []
    assert status_counts(broadcast) == {DeliveryStatus.SKIPPED: 3}
    assert held.get().error == "Not sent: the broadcast was cancelled."


def test_editing_a_saved_audience_while_its_broadcast_sends_changes_nobody_it_goes_to(
    shop, smtp_server
):
    from broadcasts.models import SavedAudience
    from broadcasts.sending import choose_recipients

    first_name = shop.profile_fields.get(name="First Name")
    for name in ("ada", "bob"):
        ContactFactory(list=shop, email=f"{name}@example.com", profile={first_name.key: name})

    def only(name: str) -> dict:
        condition = {"segmentationFieldId": first_name.pk, "compareType": "Equals"}
        return {"filters": [{**condition, "values": [{"value": name}]}]}

    audience = SavedAudience.objects.create(list=shop, name="Ada", criteria=only("ada"))
    broadcast = create_broadcast(
        email_list=shop, name="Ada only", message=sale(shop), saved_audience=audience
    )
    schedule_broadcast(broadcast=broadcast)
    start_due()
    audience.criteria = only("bob")
    audience.save()
    choose_recipients()
    work(budget=5)
    assert [m["To"] for m in smtp_server.messages] == ["ada@example.com"]


def test_conditions_holding_a_nul_character_are_refused_in_words(shop):
    first_name = shop.profile_fields.get(name="First Name")
    criteria = {
        "filters": [
            {
                "segmentationFieldId": first_name.pk,
                "compareType": "Equals",
                "values": [{"value": "A\x00da"}],
            }
        ]
    }
    with pytest.raises(ValidationError, match="NUL character"):
        create_broadcast(email_list=shop, name="Nul", message=sale(shop), criteria=criteria)
