"""Sending through an email service's API with django-anymail, and that
service's own bounce and complaint webhooks (``/anymail/<service>/tracking/``),
posted to the running server as Postmark and Mailgun write them: the list's
bounce rules apply as they do to the platform's own webhook, a repeated event
changes nothing more, and a request without the shared secret (or with a
wrong Mailgun signature) changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail

from contacts.models import ActivityKind, Contact, SubscriptionState, UnsubscribeMethod
from emails.models import Delivery, DeliveryStatus
from emails.sending.delivery import send_deliveries
from lists.models import BounceHandling
from tests.factories import ContactFactory, MessageFactory

# The live server and the sending threads use database connections of their
# own: they must see what the test wrote.
pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent
SECRET = "retailmail:" + "w" * 24
SIGNING_KEY = "key-mailgun-webhook-signing-for-tests"
POSTMARK = "/anymail/postmark/tracking/"
MAILGUN = "/anymail/mailgun/tracking/"
BOUNCE_DETAILS = "smtp;550 5.1.1 The email account that you tried to reach does not exist."


@pytest.fixture
def services(settings):
    """The webhooks' shared secret and Mailgun's signing key, as the environment gives them."""
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def send_through_anymail(settings, count: int = 1) -> tuple[Contact, list[Delivery]]:
    """``count`` emails to ada@example.com, sent by the worker's sending
    path through anymail's test backend (an email service's API)."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    contact = ContactFactory.create(email="ada@example.com")
    message = MessageFactory.create(
        list=contact.list, subject="Spring sale", text_body="Hello {{ email }}."
    )
    for number in range(count):
        Delivery.objects.create(  # a source sends one email: each its own
            source_type=ContentType.objects.get_for_model(Contact),
            source_id=contact.pk * 100 + number,
            message=message,
            contact=contact,
        )
    assert send_deliveries() == count
    deliveries = list(Delivery.objects.filter(contact=contact).order_by("pk"))
    assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
    return contact, deliveries


@pytest.fixture
def sent(settings, services) -> tuple[Contact, Delivery]:
    """Ada, who was sent one email through an email service; its delivery."""
    contact, (delivery,) = send_through_anymail(settings)
    return contact, delivery


def metadata_sent(delivery: Delivery) -> dict[str, str]:
    """What the email service was given as the email's metadata (it echoes it back)."""
    given = [getattr(m, "anymail_test_params", {}) for m in mail.outbox]  # the test backend's
    (metadata,) = [p["metadata"] for p in given if p["metadata"]["delivery_id"] == str(delivery.pk)]
    return metadata


@dataclass
class Answer:
    status: int
    body: str


def post(live_server, path: str, body: object, *, auth: str | None = SECRET) -> Answer:
    """POST ``body`` (JSON, or bytes as they are) to the running server, with
    HTTP basic auth ``auth``, as the service does."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        live_server.url + path,
        data=data,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight to it
    try:
        with opener.open(request, timeout=10) as response:
            return Answer(response.status, response.read().decode())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read().decode())


# --- The services' payloads, shaped as their documentation shows them ---------------


def postmark_bounce(delivery: Delivery, kind: str = "HardBounce", **changes: object) -> dict:
    hard = kind == "HardBounce"
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": 4323372036854775807,
        "Type": kind,
        "TypeCode": 1 if hard else 4096,
        "Name": "Hard bounce" if hard else "Soft bounce",
        "Tag": "",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": metadata_sent(delivery),
        "ServerID": 23,
        "Description": "The server was unable to deliver your message "
        "(ex: unknown user, mailbox not found).",
        "Details": BOUNCE_DETAILS if hard else "smtp;452 4.2.2 The mailbox is full.",
        "Email": "ada@example.com",
        "From": "news@shop.example",
        "BouncedAt": "2026-05-12T09:30:00Z",
        "DumpAvailable": True,
        "Inactive": hard,
        "CanActivate": True,
        "Subject": "Spring sale",
        **changes,
    }


def postmark_spam_complaint(delivery: Delivery) -> dict:
    return {
        "RecordType": "SpamComplaint",
        "MessageStream": "outbound",
        "ID": 4323372036854775808,
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "Name": "Spam complaint",
        "Tag": "",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": metadata_sent(delivery),
        "ServerID": 23,
        "Description": "The subscriber explicitly marked this message as spam.",
        "Details": "",
        "Email": "ada@example.com",
        "From": "news@shop.example",
        "BouncedAt": "2026-05-12T10:00:00Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": False,
        "Subject": "Spring sale",
    }


def postmark_delivered(delivery: Delivery) -> dict:
    return {
        "RecordType": "Delivery",
        "MessageStream": "outbound",
        "ServerID": 23,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": "ada@example.com",
        "Tag": "",
        "DeliveredAt": "2026-05-12T09:29:00Z",
        "Details": "Test delivery webhook details",
        "Metadata": metadata_sent(delivery),
    }


def mailgun_signed(event_data: dict, key: str = SIGNING_KEY) -> dict:
    """A Mailgun webhook body: the event, signed as Mailgun signs it (an
    HMAC-SHA256 of timestamp and token under the webhook signing key)."""
    timestamp, token = "1778578200", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature.hexdigest()},
        "event-data": event_data,
    }


def mailgun_event(delivery: Delivery | None, event: str, **changes: object) -> dict:
    return {
        "id": "G9Bn5sl1TC6nu79C8C0bwg",
        "timestamp": 1778578200.123,
        "log-level": "error",
        "event": event,
        "recipient": "ada@example.com",
        "recipient-domain": "example.com",
        "tags": [],
        "user-variables": metadata_sent(delivery) if delivery else {},
        "envelope": {"sender": "news@shop.example", "transport": "smtp"},
        "message": {
            "headers": {
                "to": "ada@example.com",
                "message-id": "20260512093000.1.ABCDEF@shop.example",
                "from": "Shop <news@shop.example>",
                "subject": "Spring sale",
            },
            "size": 1386,
        },
        **changes,
    }


def mailgun_permanent_failure(delivery: Delivery | None, **changes: object) -> dict:
    failure = {
        "severity": "permanent",
        "reason": "bounce",
        "delivery-status": {
            "attempt-no": 1,
            "code": 550,
            "message": "5.1.1 The email account that you tried to reach does not exist.",
            "description": "",
            "mx-host": "mx.example.com",
        },
    }
    return mailgun_signed(mailgun_event(delivery, "failed", **{**failure, **changes}))


def state_of(contact: Contact) -> tuple[str, str]:
    contact.refresh_from_db()
    return contact.state, contact.unsubscribe_method


def feedback_of(contact: Contact) -> list[tuple[str, dict]]:
    """The contact's bounce, spam and unsubscribe activity, oldest first."""
    kinds = [ActivityKind.EMAIL_BOUNCED, ActivityKind.EMAIL_SPAM, ActivityKind.UNSUBSCRIBED]
    found = contact.activities.filter(kind__in=kinds).order_by("pk")
    return [(a.kind, a.details) for a in found]


# --- Sending ---------------------------------------------------------------------


def test_an_email_sent_through_an_email_service_carries_its_delivery_id(settings):
    _, (delivery,) = send_through_anymail(settings)
    (sent,) = mail.outbox
    params = sent.anymail_test_params  # set by anymail's test backend
    assert params["metadata"] == {"delivery_id": str(delivery.pk)}
    assert params["to"][0].addr_spec == "ada@example.com"
    assert params["subject"] == "Spring sale"
    assert params["text_body"].startswith("Hello ada@example.com.")
    # The platform's own Message-ID goes along too, for services that report it.
    assert params["extra_headers"]["Message-ID"].startswith(f"<delivery-{delivery.pk}@")
    assert sent.anymail_status.status == {"sent"}


# --- Postmark ----------------------------------------------------------------------


def test_a_postmark_hard_bounce_unsubscribes_and_records_the_bounce_once(live_server, sent):
    contact, delivery = sent
    assert post(live_server, POSTMARK, postmark_bounce(delivery)).status == 200
    assert state_of(contact) == (SubscriptionState.UNSUBSCRIBED, UnsubscribeMethod.HARD_BOUNCE)
    (bounced, unsubscribed) = feedback_of(contact)
    assert bounced == (
        ActivityKind.EMAIL_BOUNCED,
        {
            "message_id": delivery.message_id,
            "delivery_id": delivery.pk,
            "bounce_kind": "hard",
            "reason": BOUNCE_DETAILS,
            "service": "Postmark",
        },
    )
    assert unsubscribed[0] == ActivityKind.UNSUBSCRIBED
    assert unsubscribed[1]["delivery_id"] == delivery.pk
    # Postmark retries a webhook it thinks failed: the repeat changes nothing.
    assert post(live_server, POSTMARK, postmark_bounce(delivery)).status == 200
    assert feedback_of(contact) == [bounced, unsubscribed]


def test_postmark_soft_bounces_count_once_each_toward_the_lists_limit(live_server, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}
    contact, (first, second) = send_through_anymail(settings, count=2)
    contact.list.bounce_unsubscribe_count = 2
    contact.list.save()
    for _ in range(2):  # the same email's soft bounce, reported twice
        assert post(live_server, POSTMARK, postmark_bounce(first, "SoftBounce")).status == 200
    assert state_of(contact)[0] == SubscriptionState.SUBSCRIBED
    ((kind, details),) = feedback_of(contact)
    assert (kind, details["bounce_kind"], details["delivery_id"]) == (
        ActivityKind.EMAIL_BOUNCED,
        "soft",
        first.pk,
    )
    assert post(live_server, POSTMARK, postmark_bounce(second, "SoftBounce")).status == 200
    assert state_of(contact) == (SubscriptionState.UNSUBSCRIBED, UnsubscribeMethod.BOUNCE_LIMIT)


def test_a_postmark_spam_complaint_unsubscribes_even_where_bounces_are_ignored(live_server, sent):
    contact, delivery = sent
    contact.list.bounce_handling = BounceHandling.NONE
    contact.list.save()
    for _ in range(2):
        assert post(live_server, POSTMARK, postmark_spam_complaint(delivery)).status == 200
    assert state_of(contact) == (
        SubscriptionState.UNSUBSCRIBED,
        UnsubscribeMethod.SPAM_COMPLAINT,
    )
    (spam, unsubscribed) = feedback_of(contact)
    assert spam[0] == ActivityKind.EMAIL_SPAM
    assert spam[1]["delivery_id"] == delivery.pk
    assert spam[1]["service"] == "Postmark"
    assert unsubscribed[0] == ActivityKind.UNSUBSCRIBED


def test_a_postmark_delivery_or_a_bounce_where_bounces_are_ignored_unsubscribes_no_one(
    live_server, sent
):
    contact, delivery = sent
    assert post(live_server, POSTMARK, postmark_delivered(delivery)).status == 200
    assert feedback_of(contact) == []
    contact.list.bounce_handling = BounceHandling.NONE
    contact.list.save()
    assert post(live_server, POSTMARK, postmark_bounce(delivery)).status == 200
    assert state_of(contact)[0] == SubscriptionState.SUBSCRIBED
    ((kind, details),) = feedback_of(contact)
    assert (kind, details["bounce_kind"]) == (ActivityKind.EMAIL_BOUNCED, "hard")


@pytest.mark.parametrize(
    ("postmark_type", "expected"),
    [
        ("BadEmailAddress", (SubscriptionState.UNSUBSCRIBED, UnsubscribeMethod.HARD_BOUNCE)),
        ("ManuallyDeactivated", (SubscriptionState.SUBSCRIBED, "")),  # Postmark's own policy
    ],
)
def test_an_email_the_service_refused_to_send_bounces_only_for_a_bad_address(
    live_server, sent, postmark_type, expected
):
    contact, delivery = sent
    assert post(live_server, POSTMARK, postmark_bounce(delivery, postmark_type)).status == 200
    assert state_of(contact) == expected


# --- Mailgun -------------------------------------------------------------------------


def test_a_mailgun_permanent_failure_unsubscribes_and_records_the_bounce_once(live_server, sent):
    contact, delivery = sent
    for _ in range(2):
        assert post(live_server, MAILGUN, mailgun_permanent_failure(delivery)).status == 200
    assert state_of(contact) == (SubscriptionState.UNSUBSCRIBED, UnsubscribeMethod.HARD_BOUNCE)
    (bounced, unsubscribed) = feedback_of(contact)
    assert bounced == (
        ActivityKind.EMAIL_BOUNCED,
        {
            "message_id": delivery.message_id,
            "delivery_id": delivery.pk,
            "bounce_kind": "hard",
            "reason": "5.1.1 The email account that you tried to reach does not exist.",
            "service": "Mailgun",
        },
    )
    assert unsubscribed[0] == ActivityKind.UNSUBSCRIBED


def test_a_mailgun_complaint_unsubscribes_and_records_it_once(live_server, sent):
    contact, delivery = sent
    complaint = mailgun_signed(mailgun_event(delivery, "complained", **{"log-level": "warn"}))
    for _ in range(2):
        assert post(live_server, MAILGUN, complaint).status == 200
    assert state_of(contact) == (
        SubscriptionState.UNSUBSCRIBED,
        UnsubscribeMethod.SPAM_COMPLAINT,
    )
    assert [kind for kind, _ in feedback_of(contact)] == [
        ActivityKind.EMAIL_SPAM,
        ActivityKind.UNSUBSCRIBED,
    ]


def test_a_mailgun_temporary_failure_changes_nothing(live_server, sent):
    contact, delivery = sent
    temporary = mailgun_permanent_failure(delivery, severity="temporary", reason="generic")
    assert post(live_server, MAILGUN, temporary).status == 200
    assert state_of(contact)[0] == SubscriptionState.SUBSCRIBED
    assert feedback_of(contact) == []


def test_an_email_is_found_by_its_message_id_when_the_service_echoes_no_metadata(live_server, sent):
    contact, delivery = sent
    message_id = f"delivery-{delivery.pk}@shop.example"  # as Mailgun writes it, no <>
    failure = mailgun_event(None, "failed", severity="permanent", reason="bounce")
    failure["message"]["headers"]["message-id"] = message_id
    assert post(live_server, MAILGUN, mailgun_signed(failure)).status == 200
    assert state_of(contact) == (SubscriptionState.UNSUBSCRIBED, UnsubscribeMethod.HARD_BOUNCE)


# --- What is ignored, and what is refused ----------------------------------------------


def test_an_event_about_another_address_or_no_email_of_ours_is_logged_and_ignored(
    live_server, sent, caplog
):
    contact, delivery = sent
    other = postmark_bounce(delivery, Email="bob@example.com")
    unknown = postmark_bounce(delivery, Metadata={"delivery_id": "999999"})
    foreign = postmark_bounce(delivery, Metadata={})
    for body in (other, unknown, foreign):
        assert post(live_server, POSTMARK, body).status == 200
    assert state_of(contact)[0] == SubscriptionState.SUBSCRIBED
    assert feedback_of(contact) == []
    logged = [r.getMessage() for r in caplog.records if r.name == "emails.anymail_feedback"]
    assert logged == [
        "emails: ignored a Postmark bounced event: email: "
        "bob@example.com is not who that email was sent to.",
        "emails: ignored a Postmark bounced event: message_id: "
        "no email was sent with delivery id 999999.",
        "emails: ignored a Postmark bounced event for ada@example.com: it names no email "
        "this platform sent (message 883953f4-6105-42a2-a16a-77a8eac79483, metadata {}).",
    ]


def test_a_wrong_secret_or_signature_is_refused_and_changes_nothing(live_server, sent):
    contact, delivery = sent
    assert post(live_server, POSTMARK, postmark_bounce(delivery), auth=None).status == 400
    wrong = "retailmail:" + "x" * 24
    assert post(live_server, POSTMARK, postmark_bounce(delivery), auth=wrong).status == 400
    assert post(live_server, POSTMARK, postmark_spam_complaint(delivery), auth=wrong).status == 400
    forged = mailgun_permanent_failure(delivery)
    forged["signature"]["signature"] = "0" * 64
    assert post(live_server, MAILGUN, forged).status == 400
    signed_wrong = mailgun_signed(forged["event-data"], key="not-the-signing-key")
    assert post(live_server, MAILGUN, signed_wrong).status == 400
    assert state_of(contact)[0] == SubscriptionState.SUBSCRIBED
    assert feedback_of(contact) == []


def test_without_a_webhook_secret_the_webhooks_are_turned_off(live_server, sent, settings):
    contact, delivery = sent
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    off = post(live_server, POSTMARK, postmark_bounce(delivery), auth=None)
    assert off.status == 404
    assert "turned off: set ANYMAIL_WEBHOOK_SECRET" in off.body
    assert post(live_server, POSTMARK, postmark_bounce(delivery)).status == 404
    # Even Mailgun's signed events: one secret turns the webhooks on.
    assert post(live_server, MAILGUN, mailgun_permanent_failure(delivery)).status == 404
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    assert post(live_server, POSTMARK, postmark_bounce(delivery), auth=None).status == 404
    assert state_of(contact)[0] == SubscriptionState.SUBSCRIBED
    assert feedback_of(contact) == []


def test_a_body_the_service_did_not_write_or_a_service_not_set_up_gets_a_clear_answer(
    live_server, sent, settings
):
    contact, delivery = sent
    garbled = post(live_server, POSTMARK, b"{not json")
    assert garbled.status == 400
    assert "The body is not a postmark tracking webhook" in garbled.body
    assert post(live_server, POSTMARK, [1, 2]).status == 400
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}  # no Mailgun signing key
    not_set_up = post(live_server, MAILGUN, mailgun_permanent_failure(delivery))
    assert not_set_up.status == 404
    assert "The mailgun webhook is not set up" in not_set_up.body
    assert "MAILGUN_WEBHOOK_SIGNING_KEY" in not_set_up.body
    assert state_of(contact)[0] == SubscriptionState.SUBSCRIBED
    assert feedback_of(contact) == []


# --- Settings ------------------------------------------------------------------------


def start_django(**env: str) -> subprocess.CompletedProcess[str]:
    """A fresh process loading the settings, printing ANYMAIL as JSON."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("ANYMAIL_") and name != "DJANGO_SETTINGS_MODULE"
    }
    environment.update(DEBUG="true", DJANGO_SETTINGS_MODULE="config.settings", **env)
    show = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.ANYMAIL, sort_keys=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_every_anymail_variable_of_the_environment_is_an_anymail_setting():
    started = start_django(
        ANYMAIL_POSTMARK_SERVER_TOKEN="a1b2c3d4-0000-4000-8000-postmarktoken",
        ANYMAIL_WEBHOOK_SECRET=SECRET,
        ANYMAIL_IGNORE_UNSUPPORTED_FEATURES="true",
        ANYMAIL_AMAZON_SES_CLIENT_PARAMS='{"region_name": "eu-west-1"}',
        ANYMAIL_MAILGUN_API_KEY="",  # empty: unset
    )
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout) == {
        "AMAZON_SES_CLIENT_PARAMS": {"region_name": "eu-west-1"},
        "IGNORE_UNSUPPORTED_FEATURES": True,
        "POSTMARK_SERVER_TOKEN": "a1b2c3d4-0000-4000-8000-postmarktoken",
        "WEBHOOK_SECRET": SECRET,
    }


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ANYMAIL_WEBHOOK_SECRET", "short-password", 'expected "user:password"'),
        ("ANYMAIL_WEBHOOK_SECRET", "retailmail:tooshort", "at least 16 random characters"),
        ("ANYMAIL_AMAZON_SES_CLIENT_PARAMS", "{region_name: x}", "starts like JSON but is not"),
    ],
)
def test_a_bad_anymail_variable_stops_the_start_naming_it(variable, value, message):
    started = start_django(**{variable: value})
    assert started.returncode != 0
    assert f"Environment variable {variable} is invalid" in started.stderr
    assert message in started.stderr
