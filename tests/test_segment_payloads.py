"""What each contact change writes to the Segment outbox (SPEC section 6),
through the real contact services and the activity hook."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conductor.engine.tasks import run_due
from conductor.models import StepKind
from conductor.versions import publish
from contacts.hooks import activities_recorded, announce_activities, record_activities
from contacts.models import Activity, ActivityKind, Contact, UnsubscribeMethod
from contacts.services import (
    change_address,
    subscribe_contact,
    subscribe_contacts,
    unsubscribe_contact,
    update_profile,
)
from integrations.models import SegmentMessage
from integrations.segment.outbox import write_segment_messages
from integrations.segment.payloads import iso_time
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    ListFactory,
    MessageFactory,
    ProfileFieldFactory,
    conversation_with_steps,
)
from tests.segment_server import allow, make_integration, outbox, speed_up
from tests.smtp import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_segment(settings) -> None:
    speed_up(settings)
    allow(settings, ENDPOINT)


ENDPOINT = "http://127.0.0.1:9"  # never contacted here: nothing is delivered


@pytest.fixture
def customer_id(shop):
    return ProfileFieldFactory(list=shop, group=shop.field_groups.first(), name="Customer Id")


@pytest.fixture
def integration(shop, customer_id):
    return make_integration(ENDPOINT, shop, user_id_field=customer_id)


def trait(email_list) -> str:
    return f"listrak_list_{email_list.pk}"


def subscribed(shop, email: str, **profile: str) -> Contact:
    contact = subscribe_contact(email_list=shop, email=email, method="API").contact
    assert contact is not None, f"{email} was not subscribed"
    if profile:
        update_profile(contact=contact, values=profile)
    return contact


def test_a_first_subscription_identifies_the_address_with_the_list_trait_true(shop, integration):
    subscribe_contact(email_list=shop, email="Ada@Example.com", method="API")
    (identify,) = outbox()
    activity = Activity.objects.get(kind=ActivityKind.SUBSCRIBED)
    assert identify == {
        "type": "identify",
        "messageId": identify["messageId"],
        "anonymousId": "ada@example.com",
        "traits": {"email": "ada@example.com", trait(shop): True},
        "timestamp": iso_time(activity.occurred_at),
    }
    assert uuid.UUID(identify["messageId"]).version == 4
    stored = SegmentMessage.objects.get()
    assert str(stored.message_id) == identify["messageId"]
    assert stored.contact_id == activity.contact_id
    assert "sentAt" not in identify  # added at each attempt


def test_the_timestamp_is_iso_8601_in_utc_with_milliseconds():
    moment = datetime.datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=datetime.UTC)
    assert iso_time(moment) == "2024-05-01T14:00:00.123Z"
    paris = moment.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    assert iso_time(paris) == "2024-05-01T14:00:00.123Z"


def test_the_user_id_fields_value_becomes_user_id_on_identify_only_when_it_has_one(
    shop, integration
):
    subscribed(shop, "ada@example.com", **{"Customer Id": "C-42"})
    subscribe_contact(email_list=shop, email="grace@example.com", method="API")
    ada_first, ada_update, grace = outbox()
    assert "userId" not in ada_first  # subscribed before the value was written
    assert ada_update["userId"] == "C-42"
    assert ada_update["traits"] == {"email": "ada@example.com", trait(shop): True}
    assert "userId" not in grace


def test_a_profile_update_identifies_with_the_trait_as_the_contact_is_now(shop, integration):
    contact = ContactFactory(list=shop, email="gone@example.com")
    unsubscribe_contact(contact=contact, method=UnsubscribeMethod.ADMIN)
    SegmentMessage.objects.all().delete()
    update_profile(contact=contact, values={"First Name": "Ada", "Customer Id": "C-1"})
    (identify,) = outbox()
    assert identify["userId"] == "C-1"
    assert identify["traits"] == {"email": "gone@example.com", trait(shop): None}


def test_an_unsubscribe_nulls_the_trait_then_tracks_unsubscribed_with_its_method(shop, integration):
    contact = subscribed(shop, "ada@example.com", **{"Customer Id": "C-42"})
    SegmentMessage.objects.all().delete()
    unsubscribe_contact(contact=contact, method=UnsubscribeMethod.UNSUBSCRIBE_LINK)
    identify, track = outbox()
    occurred = iso_time(Activity.objects.get(kind=ActivityKind.UNSUBSCRIBED).occurred_at)
    assert identify["type"] == "identify"
    assert identify["userId"] == "C-42"
    assert identify["traits"] == {"email": "ada@example.com", trait(shop): None}
    assert trait(shop) in identify["traits"]  # JSON null, which removes the trait
    assert track == {
        "type": "track",
        "messageId": track["messageId"],
        "anonymousId": "ada@example.com",
        "event": "Unsubscribed",
        "properties": {
            "list_id": shop.pk,
            "list_name": "Shop",
            "unsubscribe_type": "Unsubscribe Link",
        },
        "context": {"traits": {"email": "ada@example.com"}},
        "timestamp": occurred,
    }
    assert identify["messageId"] != track["messageId"]


def test_a_resubscribe_sets_the_trait_true_again(shop, integration):
    contact = subscribed(shop, "ada@example.com")
    unsubscribe_contact(contact=contact, method=UnsubscribeMethod.ADMIN)
    SegmentMessage.objects.all().delete()
    subscribe_contact(
        email_list=shop, email="ada@example.com", method="API", override_unsubscribe=True
    )
    (identify,) = outbox()
    assert identify["traits"] == {"email": "ada@example.com", trait(shop): True}


def test_an_address_change_nulls_the_old_address_then_sets_the_new_one(shop, integration):
    old = subscribed(shop, "old@example.com", **{"Customer Id": "C-7"})
    SegmentMessage.objects.all().delete()
    new = change_address(contact=old, new_email="new@example.com")
    old_identify, new_identify = outbox()  # and no Unsubscribed track for the old address
    assert old_identify["anonymousId"] == "old@example.com"
    assert old_identify["traits"] == {"email": "old@example.com", trait(shop): None}
    assert old_identify["userId"] == "C-7"
    assert new_identify["anonymousId"] == "new@example.com"
    assert new_identify["traits"] == {"email": "new@example.com", trait(shop): True}
    assert new_identify["userId"] == "C-7"
    stored = list(SegmentMessage.objects.order_by("id").values_list("contact_id", flat=True))
    assert stored == [old.pk, new.pk]  # each in its own contact's order


def test_an_email_sent_by_a_conversation_tracks_email_sent_with_subject_and_campaign(
    shop, integration, smtp_server: SmtpServer
):
    welcome = MessageFactory.create(list=shop, subject="Welcome aboard")
    send = (StepKind.MESSAGE, {"message": welcome.pk})
    conversation, _ = conversation_with_steps(
        shop, send, (StepKind.TERMINATE, {}), name="Welcome series"
    )
    publish(conversation)
    subscribe_contact(email_list=shop, email="ada@example.com", method="API")
    run_due()
    assert len(smtp_server.messages) == 1
    sent = [m for m in outbox() if m["type"] == "track"]
    assert [m["event"] for m in sent] == ["Email Sent"]
    assert sent[0]["properties"] == {
        "email_id": welcome.pk,
        "email_subject": "Welcome aboard",
        "campaign_name": "Welcome series",
        "list_id": shop.pk,
        "list_name": "Shop",
    }
    assert "userId" not in sent[0]
    assert sent[0]["context"] == {"traits": {"email": "ada@example.com"}}


ENGAGEMENT = [
    (
        ActivityKind.EMAIL_OPENED,
        {"ip": "203.0.113.9", "user_agent": "Mail/1.0"},
        "Email Opened",
        {},
        {"ip": "203.0.113.9", "user_agent": "Mail/1.0", "userAgent": "Mail/1.0"},
    ),
    (
        ActivityKind.EMAIL_CLICKED,
        {"link_id": "L7", "link_url": "https://shop.example/sale", "ip": "203.0.113.9"},
        "Email Link Clicked",
        {"link_id": "L7", "link_url": "https://shop.example/sale"},
        {"ip": "203.0.113.9"},
    ),
    (
        ActivityKind.EMAIL_BOUNCED,
        {"ip": "203.0.113.9", "user_agent": "ignored on bounces"},
        "Email Bounced",
        {},
        {},
    ),
    (ActivityKind.EMAIL_SPAM, {}, "Email Marked As Spam", {}, {}),
    (
        ActivityKind.EMAIL_CONVERTED,
        {"order_total": 129.95, "link_id": "L7"},
        "Email Converted",
        {"order_total": 129.95, "link_id": "L7"},
        {},
    ),
    (
        ActivityKind.EMAIL_SENT,
        {"google_analytics_campaign_name": "spring-sale"},
        "Email Sent",
        {"google_analytics_campaign_name": "spring-sale"},
        {},
    ),
]


@pytest.mark.parametrize(("kind", "details", "event", "properties", "client"), ENGAGEMENT)
def test_each_email_activity_is_its_track_event_with_the_properties_that_apply(
    shop, integration, kind, details, event, properties, client
):
    contact = ContactFactory(list=shop, email="ada@example.com")
    message = MessageFactory(list=shop, subject="Spring sale")
    conversation = ConversationFactory(list=shop, name="Spring campaign")
    occurred = timezone.now() - datetime.timedelta(minutes=5)
    record_activities(
        [
            Activity(
                contact=contact,
                list_id=shop.pk,
                email=contact.email,
                kind=kind,
                occurred_at=occurred,
                details={"message_id": message.pk, "conversation_id": conversation.pk, **details},
            )
        ]
    )
    (track,) = outbox()
    assert track["type"] == "track"
    assert track["event"] == event
    assert "userId" not in track
    assert track["anonymousId"] == "ada@example.com"
    assert track["timestamp"] == iso_time(occurred)
    assert track["properties"] == {
        "email_id": message.pk,
        "email_subject": "Spring sale",
        "campaign_name": "Spring campaign",
        **properties,
        "list_id": shop.pk,
        "list_name": "Shop",
    }
    assert track["context"] == {"traits": {"email": "ada@example.com"}, **client}


def test_properties_that_are_not_known_are_left_out(shop, integration):
    contact = ContactFactory(list=shop, email="ada@example.com")
    record_activities(
        [
            Activity(
                contact=contact,
                list_id=shop.pk,
                email=contact.email,
                kind=ActivityKind.EMAIL_OPENED,
                details={"message_id": 999_999},  # a message deleted since
            )
        ]
    )
    (track,) = outbox()
    assert track["properties"] == {"email_id": 999_999, "list_id": shop.pk, "list_name": "Shop"}
    assert track["context"] == {"traits": {"email": "ada@example.com"}}


def test_a_message_over_32_kb_is_refused_naming_the_contact_and_the_change_rolls_back(
    shop, integration
):
    contact = ContactFactory(list=shop, email="ada@example.com")
    with pytest.raises(ValidationError) as refused, transaction.atomic():
        update_profile(contact=contact, values={"First Name": "Ada"})
        record_activities(
            [
                Activity(
                    contact=contact,
                    list_id=shop.pk,
                    email=contact.email,
                    kind=ActivityKind.EMAIL_CLICKED,
                    details={"link_url": "https://shop.example/?" + "x" * 40_000},
                )
            ]
        )
    message = " ".join(refused.value.messages)
    assert "ada@example.com" in message
    assert "properties.link_url" in message
    assert "32000" in message
    assert refused.value.error_list[0].code == "segment_message_too_large"
    contact.refresh_from_db()
    assert contact.profile == {}  # the profile update went with it
    assert not Activity.objects.filter(contact=contact).exists()
    assert not SegmentMessage.objects.exists()


@pytest.fixture
def kept_sync_list(settings):
    """Processes keep their copy of the synced lists for a minute, as in production."""
    from integrations.segment.outbox import forget_synced_lists

    settings.SEGMENT_LIST_CACHE_SECONDS = 60
    forget_synced_lists()
    yield
    forget_synced_lists()  # the next test's database will not have these syncs


def test_writes_to_lists_no_integration_syncs_cost_no_query(shop, integration, kept_sync_list):
    other = ListFactory(name="Other")
    subscribe_contact(email_list=other, email="first@example.com", method="API")
    activities = Activity.objects.filter(list=other)
    with CaptureQueriesContext(connection) as queries:
        write_segment_messages(Activity, activities, list_ids=frozenset({other.pk}))
        write_segment_messages(Activity, activities, list_ids=frozenset())
    assert len(queries) == 0
    subscribe_contacts(email_list=other, emails=["a@example.com", "b@example.com"], method="API")
    assert not SegmentMessage.objects.exists()


def test_a_list_added_in_this_process_is_synced_at_once(shop, kept_sync_list):
    subscribe_contact(email_list=shop, email="before@example.com", method="API")
    make_integration(ENDPOINT, shop)  # the copy of the synced lists is dropped
    subscribe_contact(email_list=shop, email="after@example.com", method="API")
    assert [m["anonymousId"] for m in outbox()] == ["after@example.com"]


def test_a_batch_of_activities_costs_a_few_queries_not_one_per_activity(
    shop, integration, kept_sync_list
):
    message = MessageFactory(list=shop)
    conversation = ConversationFactory(list=shop)
    contacts = [ContactFactory(list=shop) for _ in range(40)]
    old = ContactFactory(list=shop, email="old@example.com")
    details = {"message_id": message.pk, "conversation_id": conversation.pk, "ip": "203.0.113.1"}
    activities = [
        Activity(contact=c, list_id=shop.pk, email=c.email, kind=kind, details=details)
        for c in contacts
        for kind in (ActivityKind.EMAIL_OPENED, ActivityKind.PROFILE_UPDATED)
    ]
    activities.append(
        Activity(
            contact=contacts[0],
            list_id=shop.pk,
            email=contacts[0].email,
            kind=ActivityKind.ADDRESS_CHANGED,
            details={"old_email": old.email, "old_contact_id": old.pk},
        )
    )
    queries_per_batch = []

    def count(sender, activities, **kwargs):
        with CaptureQueriesContext(connection) as queries:
            write_segment_messages(sender, activities, **kwargs)
        queries_per_batch.append(len(queries))

    subscribe_contact(email_list=shop, email="warm@example.com", method="API")  # reads the syncs
    # Measure the receiver alone, on the real hook's batch.
    activities_recorded.disconnect(dispatch_uid="integrations.segment.write_messages")
    activities_recorded.connect(count, dispatch_uid="test.count")
    try:
        record_activities(activities)
    finally:
        activities_recorded.disconnect(dispatch_uid="test.count")
        activities_recorded.connect(
            write_segment_messages, dispatch_uid="integrations.segment.write_messages"
        )
    assert SegmentMessage.objects.count() == 83
    # syncs, activities, lock (PostgreSQL), old contacts, messages, conversations, the insert
    assert queries_per_batch == [7 if connection.vendor == "postgresql" else 6]


def test_imports_announced_without_list_ids_are_written_too(shop, integration):
    contact = ContactFactory(list=shop, email="ada@example.com")
    with transaction.atomic():
        (activity,) = Activity.objects.bulk_create(
            [
                Activity(
                    contact=contact,
                    list_id=shop.pk,
                    email=contact.email,
                    kind=ActivityKind.SUBSCRIBED,
                )
            ]
        )
        announce_activities([activity.pk])
    (identify,) = outbox()
    assert identify["traits"] == {"email": "ada@example.com", trait(shop): True}


def test_every_integration_syncing_the_list_gets_its_own_messages(shop, integration):
    second = make_integration(ENDPOINT, shop, name="EU workspace")
    subscribe_contact(email_list=shop, email="ada@example.com", method="API")
    first_ids = [m["messageId"] for m in outbox(integration)]
    second_ids = [m["messageId"] for m in outbox(second)]
    assert len(first_ids) == len(second_ids) == 1
    assert first_ids != second_ids  # each message is unique across integrations


def test_a_disabled_integration_writes_nothing(shop, integration):
    integration.enabled = False
    integration.save()
    subscribe_contact(email_list=shop, email="ada@example.com", method="API")
    assert not SegmentMessage.objects.exists()


def test_activity_segment_does_not_send_writes_nothing(shop, integration):
    contact = ContactFactory(list=shop, email="ada@example.com")
    record_activities(
        [
            Activity(contact=contact, list_id=shop.pk, email=contact.email, kind=kind)
            for kind in (ActivityKind.EVENT_FIRED, ActivityKind.PENDING, ActivityKind.BANNED)
        ]
    )
    assert not SegmentMessage.objects.exists()
