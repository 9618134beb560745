"""Transactional messages, sent: to any address of the list but a banned or
suppressed one, with the request's values, once per request, at once, and
ahead of every marketing email; through a real SMTP server."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connections
from django.test import Client
from django.utils import timezone

from broadcasts.models import TransactionalSend
from broadcasts.transactional import RequestKey, resend, send_transactional
from conductor.engine.step_emails import step_run_type
from contacts.models import Activity, ActivityKind, Contact, SubscriptionState
from contacts.services import ban_address, suppress_addresses, unsubscribe_contact
from emails.models import Delivery, DeliveryStatus
from emails.sending.delivery import send_deliveries, send_now
from tests.api_helpers import ApiCaller, api_caller
from tests.factories import ContactFactory
from tests.smtp import text_of
from tests.transactional_helpers import field_id, field_key, order_confirmation

pytestmark = pytest.mark.django_db


@pytest.fixture
def receipt(shop):
    return order_confirmation(shop)


def send(receipt, email: str, first_name: str = "Grace", points: str = "12", **kwargs):
    shop = receipt.list
    values = {field_id(shop, "First Name"): first_name, field_id(shop, "Points"): points}
    return send_transactional(transactional_message=receipt, email=email, values=values, **kwargs)


def deliveries_of(sends) -> list[Delivery]:
    return list(
        Delivery.objects.filter(
            source_type=ContentType.objects.get_for_model(TransactionalSend),
            source_id__in=[s.pk for s in sends],
        ).order_by("pk")
    )


# --- To whom ---------------------------------------------------------------------


def test_an_unsubscribed_contact_gets_it_with_the_requests_values_not_its_own(
    shop, receipt, smtp_server, django_capture_on_commit_callbacks
):
    ada = ContactFactory(list=shop, email="ada@example.com", profile={})
    ada.profile = {field_key(shop, "First Name"): "Ada", field_key(shop, "Points"): "3"}
    ada.save()
    unsubscribe_contact(contact=ada, method="API")

    with django_capture_on_commit_callbacks(execute=True):
        sent = send(receipt, "ADA@example.com ")

    (email,) = smtp_server.messages
    assert email["To"] == "ada@example.com"
    assert email["Subject"] == "Order confirmed, Grace"
    assert "Thank you, Grace: you now have 12 points." in text_of(email)
    assert "Grace" in text_of(email, "html")
    # A receipt is not marketing: no unsubscribe footer, no one-click header.
    assert "Unsubscribe" not in text_of(email)
    assert "Unsubscribe" not in text_of(email, "html")
    assert email["List-Unsubscribe"] is None
    ada.refresh_from_db()
    assert ada.state == SubscriptionState.UNSUBSCRIBED
    assert ada.profile[field_key(shop, "First Name")] == "Ada"  # the request changed nothing
    (delivery,) = deliveries_of([sent.send])
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.transactional and delivery.contact == ada
    assert delivery.details == {"transactional_id": receipt.pk}
    sent_activity = Activity.objects.get(contact=ada, kind=ActivityKind.EMAIL_SENT)
    assert sent_activity.details["transactional_id"] == receipt.pk


def test_a_new_address_gets_it_and_stays_a_contact_that_never_subscribed(
    shop, receipt, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        send(receipt, "new@example.com")

    (email,) = smtp_server.messages
    assert email["To"] == "new@example.com"
    contact = Contact.objects.get(list=shop, email="new@example.com")
    assert contact.state == SubscriptionState.NEVER_SUBSCRIBED
    assert contact.subscribed_at is None and contact.unsubscribed_at is None
    assert contact.profile == {}  # the values were the email's, not the contact's
    kinds = set(Activity.objects.filter(contact=contact).values_list("kind", flat=True))
    assert kinds == {ActivityKind.EMAIL_SENT}


@pytest.mark.parametrize(
    ("block", "code", "words"),
    [
        (lambda shop: ban_address(email_list=shop, email="bo@example.com"), "BANNED", "banned"),
        (lambda shop: suppress_addresses(emails=["bo@example.com"]), "SUPPRESSED", "suppressed"),
    ],
)
def test_a_banned_or_suppressed_address_is_refused_and_nothing_is_written(
    shop, receipt, smtp_server, django_capture_on_commit_callbacks, block, code, words
):
    block(shop)
    contacts = Contact.objects.count()

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ValidationError) as refused,
    ):
        send(receipt, "bo@example.com")

    assert refused.value.code == (
        "ERROR_BANNED_EMAIL_ADDRESS" if code == "BANNED" else "ERROR_SUPPRESSED_EMAIL"
    )
    assert words in refused.value.messages[0]
    assert not TransactionalSend.objects.exists()
    assert not Delivery.objects.exists()
    assert Contact.objects.count() == contacts
    assert smtp_server.messages == []


def test_an_address_banned_after_the_request_is_skipped_when_it_would_go(
    shop, receipt, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sent = send(receipt, "late@example.com")
    ban_address(email_list=shop, email="late@example.com")
    for callback in callbacks:
        callback()

    (delivery,) = deliveries_of([sent.send])
    assert delivery.status == DeliveryStatus.SKIPPED
    assert delivery.error == "Not sent: the address is banned."
    assert smtp_server.messages == []


def test_a_value_that_does_not_fit_its_field_is_refused_naming_it(shop, receipt):
    with pytest.raises(ValidationError) as refused:
        send(receipt, "ada@example.com", points="lots")

    assert "Points" in " ".join(refused.value.messages)
    assert not Contact.objects.exists()
    assert not TransactionalSend.objects.exists()
    assert not Delivery.objects.exists()


def test_a_message_with_a_system_link_is_refused_naming_it(shop):
    receipt = order_confirmation(
        shop, html_body='<p>Hi</p><a href="{{ links.unsubscribe }}">Leave</a>'
    )

    with pytest.raises(ValidationError) as refused:
        send(receipt, "ada@example.com")

    assert refused.value.code == "ERROR_TRANSACTIONAL_MESSAGE_SYSTEM_LINK"
    assert "the unsubscribe link" in refused.value.messages[0]
    assert not TransactionalSend.objects.exists()


def test_the_message_is_sent_as_it_is_now_not_frozen(
    shop, receipt, smtp_server, django_capture_on_commit_callbacks
):
    receipt.message.subject = "Fixed: order confirmed, {{ profile.first_name }}"
    receipt.message.save()

    with django_capture_on_commit_callbacks(execute=True):
        sent = send(receipt, "ada@example.com")

    assert smtp_server.messages[0]["Subject"] == "Fixed: order confirmed, Grace"
    assert deliveries_of([sent.send])[0].content_id is None


# --- Once --------------------------------------------------------------------------


def test_a_request_with_the_same_key_again_gets_the_same_send_and_one_email(
    shop, receipt, smtp_server, django_capture_on_commit_callbacks
):
    key = RequestKey("a" * 64)
    with django_capture_on_commit_callbacks(execute=True):
        first = send(receipt, "ada@example.com", request_key=key)
    with django_capture_on_commit_callbacks(execute=True):
        again = send(receipt, "ada@example.com", request_key=key)

    assert first.created and not again.created
    assert again.send == first.send
    assert len(smtp_server.messages) == 1
    assert Delivery.objects.count() == 1


def test_a_sends_key_used_again_for_a_resend_is_refused_and_sends_nothing(shop, receipt):
    key = RequestKey("d" * 64)
    first = send(receipt, "ada@example.com", request_key=key).send

    with pytest.raises(ValidationError, match="Idempotency-Key was used before"):
        resend(send=first, request_key=key)
    again = resend(send=first, request_key=RequestKey("e" * 64))
    assert again.created
    assert resend(send=first, request_key=RequestKey("e" * 64)).send == again.send
    assert TransactionalSend.objects.count() == 2


def test_a_key_used_again_for_another_email_is_refused(shop, receipt):
    key = RequestKey("b" * 64)
    send(receipt, "ada@example.com", request_key=key)

    with pytest.raises(ValidationError) as refused:
        send(receipt, "ada@example.com", first_name="Bob", request_key=key)

    assert "Idempotency-Key was used before" in refused.value.messages[0]
    assert TransactionalSend.objects.count() == 1


def test_a_body_key_sends_again_once_its_window_has_passed(shop, receipt):
    key = RequestKey("c" * 64, window=datetime.timedelta(seconds=300))
    first = send(receipt, "ada@example.com", request_key=key)
    assert not send(receipt, "ada@example.com", request_key=key).created

    TransactionalSend.objects.filter(pk=first.send.pk).update(
        created_at=timezone.now() - datetime.timedelta(seconds=301)
    )
    later = send(receipt, "ada@example.com", request_key=key)

    assert later.created and later.send != first.send
    first.send.refresh_from_db()
    assert first.send.request_key == ""  # let go of: the next retry matches the new one
    assert TransactionalSend.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_identical_posts_racing_send_one_email(shop, receipt, smtp_server):
    caller = api_caller()
    path = f"List/{shop.pk}/TransactionalMessage/{receipt.pk}/Message"
    body = {
        "emailAddress": "race@example.com",
        "segmentationFieldValues": [
            {"segmentationFieldId": field_id(shop, "First Name"), "value": "Ada"}
        ],
    }
    answers: list = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def post(header: dict) -> None:
        try:
            start.wait()
            # A client of its own in each thread: the test client keeps state.
            answers.append(ApiCaller(Client(), caller.token).post(path, body, **header))
        except BaseException as error:  # reported to the test, not swallowed
            errors.append(error)
        finally:
            connections.close_all()

    # Two racing with one Idempotency-Key, two with none (the same body).
    headers = [{"HTTP_IDEMPOTENCY_KEY": "order-1"}] * 2 + [{}] * 2
    threads = [threading.Thread(target=post, args=(h,)) for h in headers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert [a.status_code for a in answers] == [201] * 4, [a.content for a in answers]
    keys = {a.json()["resourceId"] for a in answers}
    assert len(keys) == 2  # one send per request: the keyed one and the body's
    assert TransactionalSend.objects.count() == 2
    assert sorted(m["To"] for m in smtp_server.messages) == ["race@example.com"] * 2


# --- Resend -------------------------------------------------------------------------


def test_a_send_is_resent_to_its_address_and_forwarded_with_its_values(
    shop, receipt, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        original = send(receipt, "ada@example.com").send
    with django_capture_on_commit_callbacks(execute=True):
        again = resend(send=original).send
    with django_capture_on_commit_callbacks(execute=True):
        forwarded = resend(send=original, forward_to="Desk@Example.com").send

    assert [m["To"] for m in smtp_server.messages] == [
        "ada@example.com",
        "ada@example.com",
        "desk@example.com",
    ]
    assert all("Thank you, Grace" in text_of(m) for m in smtp_server.messages)
    assert again.resend_of == original and forwarded.resend_of == original
    assert len({original.resend_key, again.resend_key, forwarded.resend_key}) == 3
    desk = Contact.objects.get(email="desk@example.com")
    assert desk.state == SubscriptionState.NEVER_SUBSCRIBED


def test_a_resend_to_an_address_suppressed_since_is_refused(shop, receipt):
    original = send(receipt, "ada@example.com").send
    suppress_addresses(emails=["ada@example.com"])

    with pytest.raises(ValidationError) as refused:
        resend(send=original)

    assert refused.value.code == "ERROR_SUPPRESSED_EMAIL"
    assert TransactionalSend.objects.count() == 1


# --- Now: the fast lane -------------------------------------------------------------


def test_a_transactional_email_is_claimed_before_a_thousand_waiting_marketing_emails(
    shop, receipt, smtp_server
):
    Contact.objects.bulk_create(
        [
            Contact(
                list=shop,
                email=f"m{n:04d}@example.com",
                state=SubscriptionState.SUBSCRIBED,
                subscribed_at=timezone.now(),
            )
            for n in range(1000)
        ]
    )
    long_ago = timezone.now() - datetime.timedelta(minutes=5)
    Delivery.objects.bulk_create(
        [
            Delivery(
                source_type=step_run_type(),
                source_id=1,
                message=receipt.message,
                contact=contact,
                created_at=long_ago,
            )
            for contact in Contact.objects.filter(list=shop)
        ]
    )
    sent = send(receipt, "buyer@example.com")  # its callback not run: as if the web had died

    assert send_deliveries(limit=3) == 3

    assert "buyer@example.com" in [m["To"] for m in smtp_server.messages]
    (delivery,) = deliveries_of([sent.send])
    assert delivery.status == DeliveryStatus.SENT
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 998


def test_with_the_mail_server_down_it_waits_pending_for_the_workers(
    shop, receipt, smtp_server, settings, django_capture_on_commit_callbacks
):
    from tests.smtp import free_port

    settings.EMAIL_PORT = free_port()  # nothing listens there
    with django_capture_on_commit_callbacks(execute=True):
        sent = send(receipt, "ada@example.com")
    (delivery,) = deliveries_of([sent.send])
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.error  # why, in words

    settings.EMAIL_PORT = smtp_server.port
    assert send_deliveries() == 1

    assert [m["To"] for m in smtp_server.messages] == ["ada@example.com"]


def test_send_now_sends_only_the_deliveries_it_is_given(shop, receipt, smtp_server):
    first = send(receipt, "one@example.com").send
    second = send(receipt, "two@example.com").send
    one, two = deliveries_of([first, second])

    assert send_now([two.pk]) == 1

    assert [m["To"] for m in smtp_server.messages] == ["two@example.com"]
    one.refresh_from_db()
    assert one.status == DeliveryStatus.PENDING
