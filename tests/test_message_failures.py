"""A message that fails at run time holds its contact with the reason in
words, and an email that cannot go out is Skipped with the reason: never
sent later on its own, after its moment has passed.

Run by the engine and sent to a real SMTP server, as the workers do."""

from __future__ import annotations

import smtplib

import pytest
from aiosmtpd.controller import Controller
from django.urls import reverse
from django.utils import timezone

from conductor.engine.claims import claim_due
from conductor.engine.email_outcomes import STRANDED_AFTER, settle_stranded
from conductor.engine.holds import resume_held
from conductor.engine.runner import run_claimed
from conductor.engine.tasks import run_due
from conductor.models import Enrollment, EnrollmentState, StepKind, StepOutcome
from conductor.versions import publish
from contacts.services import fire_event, subscribe_contact
from emails.models import Delivery, DeliveryStatus, Message
from emails.sending.delivery import refused_for_good, refused_for_now, send_deliveries
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    EventFactory,
    MessageFactory,
    TriggerFactory,
    add_step,
    conversation_with_steps,
    main_thread,
)
from tests.smtp import HOST, CollectingHandler, SmtpServer, free_port
from tests.tracking_helpers import publish_mailing, published_before_contents_were_frozen

pytestmark = pytest.mark.django_db

TERMINATE: tuple[str, dict[str, object]] = (StepKind.TERMINATE, {})
UNCLOSED_IF = "<p>Hi</p>\n{% if profile.vip %}<p>VIP</p>\n"
HELD_FOR_UNCLOSED_IF = (
    "Not sent: message “Welcome” cannot be rendered: the HTML body: Unclosed tag on line 2: "
    "'if'. Looking for one of: elif, else, endif. Fix the message, then resume the contact."
)


def welcome_conversation(shop) -> Message:
    """A published conversation sending "Welcome" to each new subscriber."""
    welcome = MessageFactory.create(
        list=shop, name="Welcome", subject="Welcome", html_body="<p>Hi</p>", text_body="Hi"
    )
    conversation, _ = conversation_with_steps(
        shop, (StepKind.MESSAGE, {"message": welcome.pk}), TERMINATE
    )
    publish(conversation)
    return welcome


def subscribe(shop, address: str):
    return subscribe_contact(email_list=shop, email=address, method="API").contact


def statuses() -> dict[str, tuple[str, str]]:
    return {
        email: (status, error)
        for email, status, error in Delivery.objects.values_list(
            "contact__email", "status", "error"
        )
    }


def test_a_message_that_does_not_compile_holds_its_contact_until_fixed_and_resumed(
    shop, smtp_server, admin_client
):
    welcome = welcome_conversation(shop)
    published_before_contents_were_frozen()
    Message.objects.filter(pk=welcome.pk).update(html_body=UNCLOSED_IF)  # edited after publishing
    ada = subscribe(shop, "ada@example.com")

    run_due()
    enrollment = Enrollment.objects.get(contact=ada)
    assert enrollment.state == EnrollmentState.HELD
    assert enrollment.step.kind == StepKind.MESSAGE
    assert enrollment.held_reason == HELD_FOR_UNCLOSED_IF
    assert not Delivery.objects.exists()
    assert smtp_server.messages == []
    assert not enrollment.runs.exists()  # the visit runs again when resumed
    held = admin_client.get(
        reverse("admin:conductor_enrollment_changelist"), {"state__exact": "Held"}
    ).content.decode()
    assert "Unclosed tag on line 2" in held
    assert "Fix the message, then resume the contact." in held

    Message.objects.filter(pk=welcome.pk).update(html_body="<p>Hi</p>")
    run_due()  # fixed, but held until staff resume it
    assert Enrollment.objects.get(contact=ada).state == EnrollmentState.HELD
    assert smtp_server.messages == []

    response = admin_client.post(
        reverse("admin:conductor_enrollment_changelist"),
        {"action": "resume_held_enrollments", "_selected_action": [enrollment.pk]},
    )
    assert response.status_code == 302
    run_due()
    run_due()
    (email,) = smtp_server.messages
    assert (email["To"], email["Subject"]) == ("ada@example.com", "Welcome")
    assert statuses() == {"ada@example.com": (DeliveryStatus.SENT, "")}
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.FINISHED
    assert enrollment.runs.get(step__kind=StepKind.MESSAGE).outcome == StepOutcome.PASSED


def test_contacts_getting_another_message_go_on_while_those_of_the_broken_one_are_held(
    shop, smtp_server
):
    cart = EventFactory(list=shop, name="Cart")
    general = MessageFactory(list=shop, name="General", subject="General")
    for_carts = MessageFactory(list=shop, name="Carts", subject="Your cart")
    conversation = ConversationFactory(list=shop, name="Variants")
    TriggerFactory(conversation=conversation)
    by_cart = TriggerFactory(conversation=conversation, event=cart)
    thread = main_thread(conversation)
    variants = [{"trigger": by_cart.pk, "message": for_carts.pk}]
    add_step(thread, StepKind.MESSAGE, message=general.pk, variants=variants)
    add_step(thread, StepKind.TERMINATE)
    publish(conversation)
    published_before_contents_were_frozen()
    Message.objects.filter(pk=general.pk).update(subject="Hi {{ profile.first_name|nope }}")
    new = subscribe(shop, "new@example.com")
    old = ContactFactory(list=shop, email="old@example.com")
    fire_event(event=cart, contact=old)

    run_due()  # both in one batch at the Message step
    assert [m["Subject"] for m in smtp_server.messages] == ["Your cart"]
    assert statuses() == {"old@example.com": (DeliveryStatus.SENT, "")}
    held = Enrollment.objects.get(contact=new)
    assert held.state == EnrollmentState.HELD
    assert held.held_reason == (
        "Not sent: message “General” cannot be rendered: the subject: Invalid filter: 'nope'. "
        "Fix the message, then resume the contact."
    )
    assert Enrollment.objects.get(contact=old).state == EnrollmentState.FINISHED


@pytest.mark.parametrize(
    ("text_body", "reason"),
    [
        # Edited into a broken state after the step wrote the delivery.
        ("Hi\n{{ profile.first_name|nope }}", "the text body, line 2: Invalid filter: 'nope'"),
        # Compiles, but a filter fails on the contact's value when rendered.
        ("Hi {{ 10|divisibleby:0 }}", "integer modulo by zero"),
    ],
)
def test_an_email_that_cannot_be_rendered_holds_its_contact_and_is_never_sent_later(
    shop, smtp_server, text_body, reason
):
    welcome = welcome_conversation(shop)
    published_before_contents_were_frozen()
    ada = subscribe(shop, "ada@example.com")
    token = claim_due(100)
    assert token is not None
    run_claimed(token)  # the step writes the delivery; the contact waits for it
    assert statuses() == {"ada@example.com": (DeliveryStatus.PENDING, "")}
    waiting = Enrollment.objects.get(contact=ada)
    assert (waiting.state, waiting.step.kind) == (EnrollmentState.SENDING, StepKind.TERMINATE)
    Message.objects.filter(pk=welcome.pk).update(text_body=text_body)

    send_deliveries()
    why = f"Not sent: the message could not be rendered: {reason}"
    assert statuses() == {"ada@example.com": (DeliveryStatus.SKIPPED, why)}
    assert smtp_server.messages == []
    held = Enrollment.objects.get(contact=ada)
    assert (held.state, held.step.kind) == (EnrollmentState.HELD, StepKind.MESSAGE)
    assert held.held_reason == (
        f"Email “Welcome”: {why.rstrip('.')}. Correct the address or the message, "
        "then resume the contact: the step sends the email again."
    )
    failed_run = held.runs.get(step__kind=StepKind.MESSAGE)
    assert (failed_run.outcome, failed_run.details["reason"]) == (StepOutcome.SKIPPED, why)

    Message.objects.filter(pk=welcome.pk).update(text_body="Hi")
    send_deliveries()
    run_due()  # fixed, but nothing goes out until staff resume the contact
    assert statuses() == {"ada@example.com": (DeliveryStatus.SKIPPED, why)}
    assert smtp_server.messages == []

    assert resume_held(Enrollment.objects.filter(pk=held.pk)) == 1
    run_due()
    assert [m["To"] for m in smtp_server.messages] == ["ada@example.com"]
    assert sorted(Delivery.objects.values_list("status", flat=True)) == [
        DeliveryStatus.SENT,
        DeliveryStatus.SKIPPED,
    ]
    assert Enrollment.objects.get(contact=ada).state == EnrollmentState.FINISHED


def test_a_permanent_refusal_holds_the_contact_at_its_message_step_until_resumed(
    shop, smtp_server, admin_client
):
    publish_mailing(shop)
    smtp_server.refuse("bob@example.com")  # 550: no such user
    ada, bob = (subscribe(shop, address) for address in ("ada@example.com", "bob@example.com"))

    run_due()
    refused = (
        DeliveryStatus.SKIPPED,
        "Not sent: the mail server refused it: 550 5.1.1 No such user here",
    )
    assert statuses() == {
        "ada@example.com": (DeliveryStatus.SENT, ""),
        "bob@example.com": refused,
    }
    assert Enrollment.objects.get(contact=ada).state == EnrollmentState.FINISHED
    held = Enrollment.objects.get(contact=bob)
    assert (held.state, held.step.kind) == (EnrollmentState.HELD, StepKind.MESSAGE)
    reason = (
        "Email “Sale”: Not sent: the mail server refused it: 550 5.1.1 No such user here. "
        "Correct the address or the message, then resume the contact: the step sends the "
        "email again."
    )
    assert held.held_reason == reason
    page = admin_client.get(
        reverse("admin:conductor_enrollment_changelist"), {"state__exact": "Held"}
    ).content.decode()
    assert "550 5.1.1 No such user here" in page

    smtp_server.accept("bob@example.com")
    send_deliveries()
    run_due()  # the refused email is never tried again on its own
    assert statuses()["bob@example.com"] == refused
    assert [m["To"] for m in smtp_server.messages] == ["ada@example.com"]

    response = admin_client.post(
        reverse("admin:conductor_enrollment_changelist"),
        {"action": "resume_held_enrollments", "_selected_action": [held.pk]},
    )
    assert response.status_code == 302
    run_due()
    assert [m["To"] for m in smtp_server.messages] == ["ada@example.com", "bob@example.com"]
    bobs = Delivery.objects.filter(contact=bob).order_by("pk")
    assert [d.status for d in bobs] == [DeliveryStatus.SKIPPED, DeliveryStatus.SENT]
    held.refresh_from_db()
    assert held.state == EnrollmentState.FINISHED
    outcomes = list(
        held.runs.filter(step__kind=StepKind.MESSAGE).order_by("visit").values_list("outcome")
    )
    assert outcomes == [(StepOutcome.SKIPPED,), (StepOutcome.PASSED,)]


def test_a_temporary_refusal_is_tried_again_later_and_goes_once_the_server_accepts(
    shop, smtp_server
):
    publish_mailing(shop)
    smtp_server.refuse("bob@example.com", "451 4.3.0 Try again later")
    bob = subscribe(shop, "bob@example.com")

    run_due()
    run_due()  # not tried again before its time
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    assert delivery.error == (
        "Not sent yet: the mail server answered 451 4.3.0 Try again later. "
        "Trying again in 1 minute (try 2 of 5)."
    )
    assert delivery.retry_at > delivery.created_at
    assert Enrollment.objects.get(contact=bob).state == EnrollmentState.SENDING

    Delivery.objects.update(retry_at=timezone.now())  # its minute has passed
    run_due()
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.error.endswith("Trying again in 4 minutes (try 3 of 5).")
    assert smtp_server.messages == []

    smtp_server.accept("bob@example.com")
    Delivery.objects.update(retry_at=timezone.now())
    run_due()
    assert statuses() == {"bob@example.com": (DeliveryStatus.SENT, "")}
    assert [m["To"] for m in smtp_server.messages] == ["bob@example.com"]
    assert Enrollment.objects.get(contact=bob).state == EnrollmentState.FINISHED


def test_a_temporary_refusal_that_outlasts_its_retries_holds_the_contact(
    shop, smtp_server, settings
):
    settings.EMAIL_TEMPORARY_RETRIES = 1
    publish_mailing(shop)
    smtp_server.refuse("bob@example.com", "452 4.2.2 Mailbox full")
    bob = subscribe(shop, "bob@example.com")

    run_due()
    Delivery.objects.update(retry_at=timezone.now())
    run_due()
    assert statuses() == {
        "bob@example.com": (
            DeliveryStatus.SKIPPED,
            "Not sent: the mail server refused it 2 times, the last time with: "
            "452 4.2.2 Mailbox full",
        )
    }
    held = Enrollment.objects.get(contact=bob)
    assert (held.state, held.step.kind) == (EnrollmentState.HELD, StepKind.MESSAGE)
    assert "refused it 2 times, the last time with: 452 4.2.2 Mailbox full" in held.held_reason
    Delivery.objects.update(retry_at=timezone.now())
    smtp_server.accept("bob@example.com")
    run_due()
    assert smtp_server.messages == []  # held: staff decide


def test_a_contact_waits_at_the_next_wait_while_its_email_is_on_its_way(shop, smtp_server):
    welcome = MessageFactory.create(list=shop, name="Welcome", subject="Welcome")
    conversation, _ = conversation_with_steps(
        shop,
        (StepKind.MESSAGE, {"message": welcome.pk}),
        (StepKind.WAIT, {"kind": "duration", "days": 2}),
        TERMINATE,
    )
    publish(conversation)
    ada = subscribe(shop, "ada@example.com")
    token = claim_due(100)
    assert token is not None
    run_claimed(token)
    waiting = Enrollment.objects.get(contact=ada)
    assert (waiting.state, waiting.step.kind) == (EnrollmentState.SENDING, StepKind.WAIT)
    due = waiting.due_at
    assert due is not None and due > timezone.now()

    send_deliveries()
    waiting.refresh_from_db()
    assert (waiting.state, waiting.step.kind) == (EnrollmentState.ACTIVE, StepKind.WAIT)
    assert waiting.due_at == due  # the Wait's two days, not sooner


def test_the_sweep_settles_a_contact_whose_email_ended_without_word(shop, smtp_server):
    publish_mailing(shop)
    ada, bob = (subscribe(shop, address) for address in ("ada@example.com", "bob@example.com"))
    token = claim_due(100)
    assert token is not None
    run_claimed(token)
    assert set(Enrollment.objects.values_list("state", flat=True)) == {EnrollmentState.SENDING}
    # As if the words were lost: the emails end without telling their sources.
    Delivery.objects.filter(contact=ada).update(status=DeliveryStatus.SENT)
    Delivery.objects.filter(contact=bob).update(
        status=DeliveryStatus.SKIPPED, error="Not sent: the mail server refused it: 550 Gone"
    )
    Enrollment.objects.update(step_entered_at=timezone.now() - STRANDED_AFTER * 2)

    assert settle_stranded() == 2
    assert settle_stranded() == 0
    run_due()
    assert Enrollment.objects.get(contact=ada).state == EnrollmentState.FINISHED
    held = Enrollment.objects.get(contact=bob)
    assert (held.state, held.step.kind) == (EnrollmentState.HELD, StepKind.MESSAGE)
    assert "550 Gone" in held.held_reason


class RefusingData(CollectingHandler):
    """Refuses the data of emails to ``spam_for`` with a 554, after reading it."""

    def __init__(self) -> None:
        super().__init__()
        self.spam_for: set[str] = set()

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.spam_for & {a.lower() for a in envelope.rcpt_tos}:
            return "554 5.7.1 Message rejected as spam"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def refusing_data(settings):
    handler = RefusingData()
    controller = Controller(handler, hostname=HOST, port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = HOST, controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield SmtpServer(controller, handler)
    finally:
        controller.stop()


def test_an_email_whose_data_is_refused_for_good_is_skipped_and_holds_its_contact(
    shop, refusing_data
):
    publish_mailing(shop)
    refusing_data.handler.spam_for.add("bob@example.com")
    for address in ("ada@example.com", "bob@example.com"):
        subscribe(shop, address)

    run_due()
    run_due()
    assert statuses() == {
        "ada@example.com": (DeliveryStatus.SENT, ""),
        "bob@example.com": (
            DeliveryStatus.SKIPPED,
            "Not sent: the mail server refused it: 554 5.7.1 Message rejected as spam",
        ),
    }
    assert [m["To"] for m in refusing_data.messages] == ["ada@example.com"]
    assert Enrollment.objects.get(contact__email="bob@example.com").state == EnrollmentState.HELD


@pytest.mark.parametrize(
    ("error", "final"),
    [
        (smtplib.SMTPRecipientsRefused({"b@example.com": (550, b"5.1.1 No such user")}), True),
        (smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"), True),
        # A refused sender or login is the platform's settings: every email waits for the fix.
        (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "a@shop.example"), False),
        (smtplib.SMTPSenderRefused(530, b"5.7.0 Authentication required", "a@x.example"), False),
        (smtplib.SMTPSenderRefused(451, b"4.7.1 Greylisted", "a@shop.example"), False),
        (smtplib.SMTPRecipientsRefused({"b@example.com": (452, b"4.2.2 Mailbox full")}), False),
        (smtplib.SMTPDataError(421, b"4.7.0 Too many messages"), False),
        # About the server's settings, not this email: every email waits for them.
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"), False),
        (ConnectionRefusedError(111, "Connection refused"), False),
        (TimeoutError("timed out"), False),
    ],
)
def test_only_a_5xx_answer_about_the_email_itself_is_final(error, final):
    assert (refused_for_good(error) is not None) == final


@pytest.mark.parametrize(
    ("error", "for_now"),
    [
        (smtplib.SMTPRecipientsRefused({"b@example.com": (452, b"4.2.2 Mailbox full")}), True),
        (smtplib.SMTPDataError(451, b"4.7.1 Greylisted"), True),
        (smtplib.SMTPRecipientsRefused({"b@example.com": (550, b"5.1.1 No such user")}), False),
        # The sender or the server: every email waits for them, none uses up its tries.
        (smtplib.SMTPSenderRefused(451, b"4.7.1 Greylisted", "a@shop.example"), False),
        (ConnectionRefusedError(111, "Connection refused"), False),
    ],
)
def test_only_a_4xx_answer_about_the_email_itself_uses_up_its_tries(error, for_now):
    assert (refused_for_now(error) is not None) == for_now
