"""Double opt-in: one confirmation email per request, through a real SMTP
server, and a signed link that subscribes the contact when followed."""

from __future__ import annotations

import datetime
import re
import threading
from typing import cast
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule

from contacts.apps import RESUME_CONFIRMATIONS_FUNC, RESUME_CONFIRMATIONS_SCHEDULE
from contacts.models import (
    Activity,
    ActivityKind,
    Ban,
    Contact,
    OptInRequest,
    OptInStatus,
    SubscribeMethod,
    SubscriptionState,
    Suppression,
    UnsubscribeMethod,
)
from contacts.optin import request_confirmations
from contacts.optin.confirmation import SALT, make_token
from contacts.optin.sending import send_confirmation
from contacts.optin.tasks import resume_confirmations, send_confirmations
from contacts.services import ban_address, subscribe_contacts, unsubscribe_contact
from tests.factories import ListFactory
from tests.smtp import SmtpServer, free_port, text_of
from tests.test_settings import start

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+/confirm/[^/\s\"<>]+/")


@pytest.fixture
def sync_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """django-q2 runs a queued task at once, in this process (its sync mode)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def shop(db):
    return ListFactory(name="Shop & Co", from_name="Shop News", from_email="news@shop.example")


def make_pending(email_list, *emails: str) -> list[Contact]:
    """What the API does with sendDoubleOptIn=true: pending contacts and their
    confirmation requests, in one transaction."""
    with transaction.atomic():
        results = subscribe_contacts(
            email_list=email_list,
            emails=list(emails),
            method=SubscribeMethod.API,
            double_opt_in=True,
        )
        # The tests pass new, valid addresses: every result has its contact.
        contacts = cast(list[Contact], [r.contact for r in results])
        request_confirmations(contacts=contacts)
    return contacts


def only_request(contact: Contact) -> OptInRequest:
    (request,) = OptInRequest.objects.filter(contact=contact)
    return request


def link_in(message) -> str:
    (link,) = set(LINK.findall(text_of(message)))
    assert link in text_of(message, "html")
    return link


def path_of(link: str) -> str:
    return urlsplit(link).path


def test_a_pending_contact_gets_one_email_with_its_confirmation_link(
    shop, smtp_server: SmtpServer, sync_tasks, django_capture_on_commit_callbacks, settings
):
    settings.PUBLIC_BASE_URL = "https://mail.shop.example"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        (contact,) = make_pending(shop, "Ann@Example.com")

    assert len(callbacks) == 1
    (message,) = smtp_server.messages
    assert message["To"] == "ann@example.com"
    assert message["From"] == "Shop News <news@shop.example>"
    assert message["Subject"] == "Confirm your subscription to Shop & Co"
    request = only_request(contact)
    assert message["Message-ID"] == f"<optin-{request.key}@shop.example>"
    link = link_in(message)
    assert link.startswith("https://mail.shop.example/confirm/")
    assert "Shop & Co" in text_of(message)  # the text body is not HTML-escaped
    assert "Shop &amp; Co" in text_of(message, "html")
    assert (request.status, request.attempts) == (OptInStatus.SENT, 1)
    assert request.sent_at is not None
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.PENDING


def test_following_the_link_subscribes_the_contact_with_double_opt_in(
    shop, smtp_server: SmtpServer, sync_tasks, django_capture_on_commit_callbacks, client
):
    with django_capture_on_commit_callbacks(execute=True):
        (contact,) = make_pending(shop, "ann@example.com")
    url = path_of(link_in(smtp_server.messages[0]))

    page = client.get(url)
    assert page.status_code == 200
    assert "Confirm my subscription" in page.content.decode()
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.PENDING  # a mail scanner's GET confirms nothing

    done = client.post(url)
    assert done.status_code == 200
    assert "You are subscribed to Shop &amp; Co" in done.content.decode()
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED
    assert contact.subscribe_method == SubscribeMethod.DOUBLE_OPT_IN == "Double Opt-In"
    assert contact.subscribed_at is not None
    assert contact.resubscribed_at is None
    subscribed = Activity.objects.get(contact=contact, kind=ActivityKind.SUBSCRIBED)
    assert subscribed.details == {"method": "Double Opt-In"}

    again = client.post(url)
    assert again.status_code == 200
    assert "You are already subscribed to Shop &amp; Co" in again.content.decode()
    assert "already subscribed" in client.get(url).content.decode()
    assert Activity.objects.filter(contact=contact, kind=ActivityKind.SUBSCRIBED).count() == 1


def test_the_confirmation_form_carries_a_csrf_token_that_lets_it_post(shop):
    (contact,) = make_pending(shop, "ann@example.com")
    url = f"/confirm/{make_token(contact)}/"
    browser = Client(enforce_csrf_checks=True)

    assert browser.post(url).status_code == 403  # no token: refused by CSRF protection
    page = browser.get(url).content.decode()
    (csrf,) = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert browser.post(url, {"csrfmiddlewaretoken": csrf}).status_code == 200
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED


def test_a_tampered_or_foreign_token_is_refused_and_confirms_nothing(shop, client):
    (contact,) = make_pending(shop, "ann@example.com")
    (other,) = make_pending(shop, "bob@example.com")
    token = make_token(contact)
    value, _, signature = token.rpartition(":")
    bad_tokens = [
        f"{value}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",  # altered signature
        f"{make_token(other).rpartition(':')[0]}:{signature}",  # another contact's payload
        "not-a-token",
        signing.dumps([contact.pk, contact.email_key], salt="something else"),
        signing.dumps([contact.pk, other.email_key], salt=SALT),  # the key does not match
        signing.dumps({"contact": contact.pk}, salt=SALT),  # not the shape we sign
        signing.dumps([other.pk + 1000, other.email_key], salt=SALT),  # no such contact
        "x" * 3000,
    ]
    for bad in bad_tokens:
        for response in (client.get(f"/confirm/{bad}/"), client.post(f"/confirm/{bad}/")):
            assert response.status_code == 404, bad
            assert "This confirmation link is not valid" in response.content.decode()
    assert client.put(f"/confirm/{token}/").status_code == 405
    assert set(Contact.objects.values_list("state", flat=True)) == {SubscriptionState.PENDING}


def test_running_the_send_task_twice_sends_one_email(shop, smtp_server: SmtpServer):
    (contact,) = make_pending(shop, "ann@example.com")
    request = only_request(contact)

    assert send_confirmations([request.pk]) == {"Sent": 1}
    assert send_confirmations([request.pk]) == {"Sent": 1}  # found done: nothing sent
    assert len(smtp_server.messages) == 1


def test_asking_again_before_the_email_goes_out_sends_one_email(
    shop, smtp_server: SmtpServer, sync_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        (contact,) = make_pending(shop, "ann@example.com")
        with transaction.atomic():
            request_confirmations(contacts=[contact, contact])

    assert OptInRequest.objects.filter(contact=contact).count() == 1
    assert len(smtp_server.messages) == 1

    # Once the email went out, asking again sends another (the API's "resend").
    with django_capture_on_commit_callbacks(execute=True):
        request_confirmations(contacts=[contact])
    assert OptInRequest.objects.filter(contact=contact).count() == 2
    assert len(smtp_server.messages) == 2


def test_only_pending_contacts_get_a_request(shop):
    results = subscribe_contacts(email_list=shop, emails=["sub@example.com"], method="API")
    request_confirmations(contacts=[r.contact for r in results])
    assert not OptInRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_sends_once_when_four_workers_race_for_the_same_request(smtp_server: SmtpServer):
    email_list = ListFactory()
    (contact,) = make_pending(email_list, "ann@example.com")
    request = only_request(contact)
    start_together = threading.Barrier(4)
    statuses: list[str | None] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start_together.wait()
            statuses.append(send_confirmation(request.pk))
        except BaseException as error:  # reported to the test, not swallowed
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(smtp_server.messages) == 1
    assert statuses.count(OptInStatus.SENT) >= 1  # the winner, and any loser finding it done
    request.refresh_from_db()
    assert (request.status, request.attempts) == (OptInStatus.SENT, 1)


def test_a_banned_address_gets_no_email(shop, smtp_server: SmtpServer):
    banned_by_service, banned_by_row = make_pending(shop, "ann@example.com", "bob@example.com")
    ban_address(email_list=shop, email="ann@example.com")  # unsubscribes the contact too
    Ban.objects.create(list=shop, email="bob@example.com")  # a ban the contact missed

    assert send_confirmation(only_request(banned_by_service).pk) == OptInStatus.SKIPPED
    assert send_confirmation(only_request(banned_by_row).pk) == OptInStatus.SKIPPED

    assert smtp_server.messages == []
    assert "no longer pending" in only_request(banned_by_service).reason
    assert only_request(banned_by_row).reason == "The address is banned from the list."


def test_a_suppressed_address_gets_no_email(shop, smtp_server: SmtpServer):
    (contact,) = make_pending(shop, "ann@example.com")
    Suppression.objects.create(email="ann@example.com")

    assert send_confirmation(only_request(contact).pk) == OptInStatus.SKIPPED
    assert smtp_server.messages == []
    assert only_request(contact).reason == "The address is suppressed."


def test_a_contact_unsubscribed_meanwhile_gets_no_email_and_its_link_confirms_nothing(
    shop, smtp_server: SmtpServer, client
):
    (contact,) = make_pending(shop, "ann@example.com")
    unsubscribe_contact(contact=contact, method=UnsubscribeMethod.ADMIN)

    assert send_confirmation(only_request(contact).pk) == OptInStatus.SKIPPED
    assert smtp_server.messages == []
    assert only_request(contact).reason == "The contact is no longer pending (Unsubscribed)."

    url = f"/confirm/{make_token(contact)}/"
    assert "can no longer be confirmed" in client.get(url).content.decode()
    assert "can no longer be confirmed" in client.post(url).content.decode()
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.UNSUBSCRIBED


def test_an_smtp_outage_leaves_the_request_for_the_sweep_which_sends_it_once_it_clears(
    shop, smtp_server: SmtpServer, sync_tasks, settings
):
    (contact,) = make_pending(shop, "ann@example.com")
    request = only_request(contact)
    settings.EMAIL_PORT = free_port()  # nothing listens there: connection refused

    assert send_confirmation(request.pk) == OptInStatus.WAITING
    request.refresh_from_db()
    assert (request.status, request.attempts) == (OptInStatus.WAITING, 1)
    assert "ConnectionRefusedError" in request.last_error
    assert resume_confirmations() == 0  # too recent: its own task may still come

    settings.EMAIL_PORT = smtp_server.port
    OptInRequest.objects.update(created_at=timezone.now() - datetime.timedelta(minutes=3))
    assert resume_confirmations() == 1

    assert len(smtp_server.messages) == 1
    request.refresh_from_db()
    assert (request.status, request.attempts) == (OptInStatus.SENT, 2)


def test_a_request_of_a_worker_that_died_is_sent_once_its_lease_runs_out(
    shop, smtp_server: SmtpServer, sync_tasks
):
    (contact,) = make_pending(shop, "ann@example.com")
    request = only_request(contact)
    now = timezone.now()
    OptInRequest.objects.update(
        status=OptInStatus.SENDING, lease_expires_at=now + datetime.timedelta(minutes=1)
    )

    assert send_confirmation(request.pk) == OptInStatus.SENDING  # the lease still holds
    assert resume_confirmations() == 0
    assert smtp_server.messages == []

    OptInRequest.objects.update(lease_expires_at=now - datetime.timedelta(seconds=1))
    assert resume_confirmations() == 1
    assert len(smtp_server.messages) == 1
    assert only_request(contact).status == OptInStatus.SENT


def test_an_address_the_mail_server_refuses_for_good_is_skipped(shop, smtp_server: SmtpServer):
    (contact,) = make_pending(shop, "ann@example.com")
    smtp_server.refuse("ann@example.com")

    assert send_confirmation(only_request(contact).pk) == OptInStatus.SKIPPED
    assert smtp_server.messages == []
    assert only_request(contact).reason.startswith("The mail server refused the address: 550")


@pytest.mark.parametrize(
    ("from_name", "from_email", "sender"),
    [
        ("Shop News", "news@shop.example", "Shop News <news@shop.example>"),
        ("", "news@shop.example", "news@shop.example"),
        ("Shop News", "", "Shop News <default@platform.example>"),
        ("", "", "Platform <default@platform.example>"),
    ],
)
def test_the_sender_is_the_lists_or_else_the_default(
    smtp_server: SmtpServer, settings, from_name, from_email, sender
):
    settings.DEFAULT_FROM_EMAIL = "Platform <default@platform.example>"
    email_list = ListFactory(from_name=from_name, from_email=from_email)
    (contact,) = make_pending(email_list, "ann@example.com")

    send_confirmation(only_request(contact).pk)

    (message,) = smtp_server.messages
    assert message["From"] == sender


def test_deleting_the_contact_deletes_its_request_and_the_task_then_does_nothing(
    shop, smtp_server: SmtpServer
):
    (contact,) = make_pending(shop, "ann@example.com")
    request_id = only_request(contact).pk
    contact.delete()

    assert send_confirmations([request_id]) == {"Gone": 1}
    assert smtp_server.messages == []


def test_migrate_leaves_one_schedule_sweeping_confirmations_every_minute():
    from django.core.management import call_command

    Schedule.objects.create(name=RESUME_CONFIRMATIONS_SCHEDULE, func="x.y")
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)

    schedule = Schedule.objects.get(name=RESUME_CONFIRMATIONS_SCHEDULE)
    assert schedule.func == RESUME_CONFIRMATIONS_FUNC == "contacts.optin.tasks.resume_confirmations"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        Schedule.MINUTES,
        1,
        -1,
    )


@pytest.mark.parametrize("value", ["mail.example.com", "ftp://mail.example.com", "https://"])
def test_a_bad_public_base_url_fails_at_start_naming_it(value):
    result = start(SECRET_KEY="x" * 50, PUBLIC_BASE_URL=value)
    assert result.returncode != 0
    assert f"PUBLIC_BASE_URL={value!r} is invalid: expected an http(s) URL" in result.stderr
