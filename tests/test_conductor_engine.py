"""Contacts entering conversations by their triggers and passing every step
kind, run by the engine as the workers run it."""

from __future__ import annotations

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from conductor.engine.tasks import run_due
from conductor.models import (
    Conversation,
    Coupon,
    Enrollment,
    EnrollmentState,
    Step,
    StepKind,
    StepOutcome,
    StepRun,
    Trigger,
    TriggerKind,
)
from conductor.versions import publish, working_version
from contacts.models import ActivityKind, Contact
from contacts.services import (
    ban_address,
    change_address,
    fire_event,
    subscribe_contact,
    unsubscribe_contact,
    update_profile,
)
from emails.models import Delivery, DeliveryStatus, Message
from lists.models import ProfileField
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    CouponFactory,
    CouponPoolFactory,
    EventFactory,
    MessageFactory,
    TriggerFactory,
    add_step,
    conversation_with_steps,
    main_thread,
)

pytestmark = pytest.mark.django_db


def build(shop, *steps: tuple[str, dict], trigger: str = TriggerKind.SUBSCRIBE, event=None):
    """A published conversation of ``steps`` (kind, settings) on the main thread."""
    conversation, made = conversation_with_steps(shop, *steps, trigger=trigger, event=event)
    publish(conversation)
    return conversation, made


def field(shop, name: str) -> ProfileField:
    return ProfileField.objects.get(list=shop, name=name)


def enrollment_of(contact) -> Enrollment:
    return Enrollment.objects.get(contact=contact)


def make_due(enrollment: Enrollment) -> None:
    Enrollment.objects.filter(pk=enrollment.pk).update(due_at=timezone.now())


TERMINATE: tuple[str, dict[str, object]] = (StepKind.TERMINATE, {})


def test_a_first_subscription_enters_and_passes_actions_a_message_and_a_wait(shop, smtp_server):
    welcome = MessageFactory(
        list=shop,
        subject="Hello {{ profile.first_name }}",
        html_body="<p>Hi {{ profile.first_name }}</p>",
    )
    first_name = field(shop, "First Name")
    build(
        shop,
        (StepKind.ACTION, {"action": "SetValue", "field": first_name.pk, "value": "Friend"}),
        (StepKind.MESSAGE, {"message": welcome.pk}),
        (StepKind.WAIT, {"kind": "duration", "days": 2}),
        TERMINATE,
    )
    result = subscribe_contact(email_list=shop, email="ada@example.com", method="API")
    ada = result.contact
    assert enrollment_of(ada).state == EnrollmentState.ACTIVE
    assert run_due() == 2  # the action and the message; the wait is not over
    (email,) = smtp_server.messages
    assert email["To"] == "ada@example.com"
    assert email["Subject"] == "Hello Friend"
    enrollment = enrollment_of(ada)
    assert enrollment.step.kind == StepKind.WAIT
    assert enrollment.due_at > timezone.now() + datetime.timedelta(days=1, hours=23)
    assert Delivery.objects.get().status == DeliveryStatus.SENT
    assert ada.activities.filter(kind=ActivityKind.EMAIL_SENT).count() == 1

    make_due(enrollment)
    assert run_due() == 2  # the wait, then the terminate
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.FINISHED
    assert list(StepRun.objects.order_by("visit").values_list("visit", "outcome")) == [
        (1, StepOutcome.PASSED),
        (2, StepOutcome.PASSED),
        (3, StepOutcome.PASSED),
        (4, StepOutcome.TERMINATED),
    ]
    assert len(smtp_server.messages) == 1


def test_a_resubscription_does_not_trigger(shop):
    build(shop, TERMINATE)
    contact = subscribe_contact(email_list=shop, email="a@example.com", method="API").contact
    Enrollment.objects.all().delete()
    unsubscribe_contact(contact=contact, method="Admin")
    subscribe_contact(
        email_list=shop, email="a@example.com", method="API", override_unsubscribe=True
    )
    assert not Enrollment.objects.exists()


def test_an_external_event_enters_a_subscribed_contact_once_at_a_time(shop):
    cart = EventFactory(list=shop, name="Cart")
    conversation, _ = build(
        shop,
        (StepKind.WAIT, {"kind": "duration", "days": 1}),
        TERMINATE,
        trigger=TriggerKind.EXTERNAL_EVENT,
        event=cart,
    )
    contact = subscribe_contact(email_list=shop, email="a@example.com", method="API").contact
    assert not Enrollment.objects.exists()  # subscribing is not this trigger
    fire_event(event=cart, contact=contact, data={"total": 12})
    fire_event(event=cart, contact=contact)  # already inside: ignored
    enrollment = Enrollment.objects.get()
    assert enrollment.ignored_triggers == 1
    assert enrollment.trigger_kind == TriggerKind.EXTERNAL_EVENT
    assert enrollment.trigger_details["data"] == {"total": 12}
    assert enrollment.conversation == conversation


def test_a_profile_update_enters_by_the_segment_update_trigger(shop):
    build(shop, TERMINATE, trigger=TriggerKind.SEGMENT_UPDATE)
    contact = subscribe_contact(email_list=shop, email="a@example.com", method="API").contact
    assert not Enrollment.objects.exists()
    update_profile(contact=contact, values={"First Name": "Ada"})
    assert Enrollment.objects.get().contact == contact
    run_due()
    assert Enrollment.objects.get().state == EnrollmentState.FINISHED


def test_an_address_change_enters_the_new_address_and_terminates_the_old(shop):
    conversation, _ = build(
        shop,
        (StepKind.WAIT, {"kind": "duration", "days": 1}),
        TERMINATE,
        trigger=TriggerKind.ADDRESS_CHANGE,
    )
    TriggerFactory(conversation=conversation)
    old = subscribe_contact(email_list=shop, email="old@example.com", method="API").contact
    new = change_address(contact=old, new_email="new@example.com")
    assert enrollment_of(old).state == EnrollmentState.FINISHED
    assert enrollment_of(new).trigger_kind == TriggerKind.ADDRESS_CHANGE
    assert enrollment_of(new).trigger_details == {"old_email": "old@example.com"}


def test_go_to_sends_only_matching_contacts_to_its_target(shop):
    points = field(shop, "Points")
    conversation, steps = conversation_with_steps(
        shop,
        (StepKind.GO_TO, {}),
        (StepKind.WAIT, {"kind": "duration", "days": 1}),
        TERMINATE,
        (StepKind.WAIT, {"kind": "duration", "days": 5}),
        TERMINATE,
        name="Split",
    )
    criteria = {
        "segmentationFieldId": points.pk,
        "compareType": "GreaterThan",
        "values": [{"value": "9"}],
    }
    Step.objects.filter(pk=steps[0].pk).update(
        settings={"target": str(steps[3].key), "criteria": criteria}
    )
    publish(conversation)
    rich = ContactFactory(list=shop, email="rich@example.com", profile={points.key: "10"})
    poor = ContactFactory(list=shop, email="poor@example.com", profile={points.key: "9"})
    from conductor.engine.entry import enroll

    enroll(
        [
            (rich.pk, shop.pk, ActivityKind.SUBSCRIBED, {}),
            (poor.pk, shop.pk, ActivityKind.SUBSCRIBED, {}),
        ],
        list(Trigger.objects.all()),
    )
    run_due()
    assert enrollment_of(rich).step.settings["days"] == 5
    assert enrollment_of(poor).step.settings["days"] == 1


def test_every_step_run_of_a_claim_is_logged_with_its_visit_outcome_time_and_reason(shop):
    points = field(shop, "Points")
    _, steps = build(
        shop,
        (StepKind.ACTION, {"action": "SetValue", "field": points.pk, "value": "1"}),
        (StepKind.GO_TO, {"target": "end"}),
    )
    contacts = [
        subscribe_contact(email_list=shop, email=f"c{n}@example.com", method="API").contact
        for n in range(3)
    ]
    before = timezone.now()
    run_due()  # one claim: the three pass both steps in two rounds

    for contact in contacts:
        runs = list(enrollment_of(contact).runs.order_by("visit"))
        assert [(r.visit, r.step_id, r.outcome, r.details) for r in runs] == [
            (1, steps[0].pk, StepOutcome.PASSED, {}),
            (2, steps[1].pk, StepOutcome.TERMINATED, {"reason": "Went to the end of the thread."}),
        ]
        assert before <= runs[0].ran_at <= runs[1].ran_at <= timezone.now()
        assert enrollment_of(contact).state == EnrollmentState.FINISHED
    # The runs of one step and round share their time, to the microsecond.
    assert len({r.ran_at for r in StepRun.objects.filter(step=steps[0])}) == 1


def test_a_message_is_not_sent_to_a_contact_unsubscribed_or_banned_meanwhile(shop, smtp_server):
    welcome = MessageFactory(list=shop)
    build(
        shop,
        (StepKind.WAIT, {"kind": "duration", "days": 1}),
        (StepKind.MESSAGE, {"message": welcome.pk}),
        TERMINATE,
    )
    gone = subscribe_contact(email_list=shop, email="gone@example.com", method="API").contact
    banned = subscribe_contact(email_list=shop, email="banned@example.com", method="API").contact
    run_due()
    unsubscribe_contact(contact=gone, method="Admin")
    ban_address(email_list=shop, email="banned@example.com")
    Enrollment.objects.update(due_at=timezone.now())
    run_due()
    assert smtp_server.messages == []
    for contact in (gone, banned):
        enrollment = enrollment_of(contact)
        assert enrollment.state == EnrollmentState.FINISHED
        assert enrollment.runs.get(step__kind=StepKind.MESSAGE).outcome == StepOutcome.SKIPPED


def test_a_wait_on_a_missing_profile_date_holds_the_contact_with_the_reason(shop):
    birthday = field(shop, "Birthday")
    build(
        shop,
        (
            StepKind.WAIT,
            {"kind": "profile_date", "field_id": birthday.pk, "offset_days": 0, "time": "09:00"},
        ),
        TERMINATE,
    )
    contact = subscribe_contact(email_list=shop, email="a@example.com", method="API").contact
    run_due()
    enrollment = enrollment_of(contact)
    assert enrollment.state == EnrollmentState.HELD
    assert str(birthday.pk) in enrollment.held_reason


def test_date_and_split_test_actions_write_the_profile(shop):
    birthday, points = field(shop, "Birthday"), field(shop, "Points")
    build(
        shop,
        (StepKind.ACTION, {"action": "SetDate", "field": birthday.pk, "offset_days": 3}),
        (StepKind.ACTION, {"action": "SplitTest", "field": points.pk, "weights": [1, 1]}),
        TERMINATE,
    )
    contact = subscribe_contact(email_list=shop, email="a@example.com", method="API").contact
    run_due()
    contact.refresh_from_db()
    today = timezone.now().astimezone(shop.zone).date()
    assert contact.profile[birthday.key] == (today + datetime.timedelta(days=3)).isoformat()
    assert contact.profile[points.key] in {"1", "2"}


def test_unique_coupons_are_handed_out_once_and_an_empty_pool_holds(shop):
    code_field = field(shop, "First Name")
    pool = CouponPoolFactory(list=shop)
    for code in ("A1", "B2"):
        CouponFactory(pool=pool, code=code)
    build(
        shop,
        (StepKind.ACTION, {"action": "SetCoupon", "pool": pool.pk, "field": code_field.pk}),
        TERMINATE,
    )
    contacts = [
        subscribe_contact(email_list=shop, email=f"p{n}@example.com", method="API").contact
        for n in range(3)
    ]
    run_due()
    given = [Contact.objects.get(pk=c.pk).profile.get(code_field.key) for c in contacts]
    assert sorted(filter(None, given)) == ["A1", "B2"]
    held = Enrollment.objects.get(state=EnrollmentState.HELD)
    assert "no codes left" in held.held_reason
    assert Coupon.objects.filter(step_run__isnull=False).count() == 2
    assert len(set(Coupon.objects.values_list("step_run__enrollment", flat=True))) == 2


def test_firing_an_event_enters_another_conversation(shop):
    purchase = EventFactory(list=shop, name="Purchase")
    build(shop, TERMINATE, trigger=TriggerKind.EXTERNAL_EVENT, event=purchase)
    build(shop, (StepKind.ACTION, {"action": "FireEvent", "event": purchase.pk}), TERMINATE)
    subscribe_contact(email_list=shop, email="a@example.com", method="API")
    run_due()
    assert Enrollment.objects.filter(state=EnrollmentState.FINISHED).count() == 2


def test_an_event_enters_only_the_conversations_triggered_by_that_event(shop):
    purchase, shipped = EventFactory(list=shop, name="Purchase"), EventFactory(list=shop)
    on_purchase, _ = build(shop, TERMINATE, trigger=TriggerKind.EXTERNAL_EVENT, event=purchase)
    on_shipped, _ = build(shop, TERMINATE, trigger=TriggerKind.EXTERNAL_EVENT, event=shipped)
    fire = (StepKind.ACTION, {"action": "FireEvent", "event": shipped.pk})
    shipping, _ = build(shop, fire, TERMINATE)
    buyer = subscribe_contact(email_list=shop, email="a@example.com", method="API").contact
    run_due()  # the shipping flow fires "shipped" for the buyer
    fire_event(event=EventFactory(list=shop, name="Untriggered"), contact=buyer)
    run_due()
    entered = Enrollment.objects.filter(contact=buyer).values_list("conversation_id", flat=True)
    assert sorted(entered) == sorted([shipping.pk, on_shipped.pk])

    fire_event(event=purchase, contact=buyer)
    entered = Enrollment.objects.filter(contact=buyer).values_list("conversation_id", flat=True)
    assert sorted(entered) == sorted([shipping.pk, on_shipped.pk, on_purchase.pk])


def test_run_conductor_once_advances_everything_due_and_exits(shop):
    build(shop, TERMINATE)
    for n in range(5):
        subscribe_contact(email_list=shop, email=f"p{n}@example.com", method="API")
    call_command("run_conductor", "--once", "--batch", "2")
    assert Enrollment.objects.filter(state=EnrollmentState.FINISHED).count() == 5
    assert StepRun.objects.count() == 5


def test_contacts_inside_keep_their_version_when_a_new_one_is_published(shop):
    conversation, _ = build(shop, (StepKind.WAIT, {"kind": "duration", "days": 1}), TERMINATE)
    first = subscribe_contact(email_list=shop, email="first@example.com", method="API").contact
    run_due()
    working = working_version(conversation)
    Step.objects.filter(version=working, kind=StepKind.WAIT).update(
        settings={"kind": "duration", "days": 9}
    )
    publish(conversation)
    second = subscribe_contact(email_list=shop, email="second@example.com", method="API").contact
    run_due()
    assert enrollment_of(first).version.number == 1
    assert enrollment_of(second).version.number == 2
    assert enrollment_of(second).due_at > enrollment_of(first).due_at + datetime.timedelta(days=7)


def test_contacts_held_by_an_empty_pool_resume_when_codes_arrive(shop, admin_client):
    code_field = field(shop, "First Name")
    pool = CouponPoolFactory(list=shop)
    build(
        shop,
        (StepKind.ACTION, {"action": "SetCoupon", "pool": pool.pk, "field": code_field.pk}),
        TERMINATE,
    )
    contact = subscribe_contact(email_list=shop, email="a@example.com", method="API").contact
    run_due()
    assert enrollment_of(contact).state == EnrollmentState.HELD
    from conductor.admin.coupons import add_coupon_codes
    from conductor.forms.coupons import read_code_file

    add_coupon_codes(pool=pool, codes=read_code_file(b"Z9\n"))
    assert enrollment_of(contact).state == EnrollmentState.ACTIVE
    run_due()
    contact.refresh_from_db()
    assert contact.profile[code_field.key] == "Z9"
    assert enrollment_of(contact).state == EnrollmentState.FINISHED


@pytest.mark.parametrize(
    ("unit", "days_ago", "expected"),
    [("days", 40, "40"), ("weeks", 40, "5"), ("months", 40, "1")],
)
def test_days_between_writes_the_time_since_a_profile_date(shop, unit, days_ago, expected):
    birthday, points = field(shop, "Birthday"), field(shop, "Points")
    build(
        shop,
        (
            StepKind.ACTION,
            {"action": "DaysBetween", "field": points.pk, "other_field": birthday.pk, "unit": unit},
        ),
        TERMINATE,
    )
    today = timezone.now().astimezone(shop.zone).date()
    contact = subscribe_contact(email_list=shop, email="a@example.com", method="API").contact
    update_profile(
        contact=contact,
        values={"Birthday": (today - datetime.timedelta(days=days_ago)).isoformat()},
    )
    run_due()
    contact.refresh_from_db()
    assert contact.profile[points.key] == expected


def test_a_message_variant_is_chosen_by_the_trigger_that_brought_the_contact(shop, smtp_server):
    cart = EventFactory(list=shop, name="Cart")
    general = MessageFactory(list=shop, name="General", subject="General")
    for_carts = MessageFactory(list=shop, name="Carts", subject="Your cart")
    conversation = ConversationFactory(list=shop, name="Variants")
    subscribed = TriggerFactory(conversation=conversation)
    by_cart = TriggerFactory(conversation=conversation, event=cart)
    thread = main_thread(conversation)
    variants = [{"trigger": by_cart.pk, "message": for_carts.pk}]
    add_step(thread, StepKind.MESSAGE, message=general.pk, variants=variants)
    add_step(thread, StepKind.TERMINATE)
    publish(conversation)
    subscribe_contact(email_list=shop, email="new@example.com", method="API")
    Trigger.objects.filter(pk=subscribed.pk).delete()
    old = ContactFactory(list=shop, email="old@example.com")
    fire_event(event=cart, contact=old)
    run_due()
    subjects = {m["To"]: m["Subject"] for m in smtp_server.messages}
    assert subjects == {"new@example.com": "General", "old@example.com": "Your cart"}


def test_a_conversation_without_messages_runs_while_smtp_is_down(shop, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    build(shop, TERMINATE)
    subscribe_contact(email_list=shop, email="a@example.com", method="API")
    assert run_due() == 1
    assert Enrollment.objects.get().state == EnrollmentState.FINISHED


def test_a_refused_recipient_waits_for_the_next_run_and_the_others_are_sent(shop, smtp_server):
    from tests.tracking_helpers import publish_mailing

    publish_mailing(shop)
    smtp_server.refuse("bob@example.com", "450 4.2.1 Mailbox busy, try later")
    for address in ("ada@example.com", "bob@example.com", "cy@example.com"):
        subscribe_contact(email_list=shop, email=address, method="API")
    run_due()
    statuses = dict(Delivery.objects.values_list("contact__email", "status"))
    assert statuses == {
        "ada@example.com": DeliveryStatus.SENT,
        "bob@example.com": DeliveryStatus.PENDING,
        "cy@example.com": DeliveryStatus.SENT,
    }
    assert "450" in Delivery.objects.get(contact__email="bob@example.com").error
    assert sorted(m["To"] for m in smtp_server.messages) == ["ada@example.com", "cy@example.com"]


def test_lines_starting_with_a_dot_arrive_intact(shop, smtp_server):
    from tests.tracking_helpers import publish_mailing, text_of

    message = publish_mailing(shop)
    text = ".starts with a dot\n.\n..two dots\nlast line ends without a newline."
    Message.objects.filter(pk=message.pk).update(
        text_body=text + "{{ links.unsubscribe }}", html_body=""
    )
    publish(Conversation.objects.get(name="Welcome"))  # contacts get what was published
    subscribe_contact(email_list=shop, email="dot@example.com", method="API")
    run_due()
    (email,) = smtp_server.messages
    assert text_of(email).replace("\r\n", "\n").startswith(text)
    assert Delivery.objects.get().status == DeliveryStatus.SENT


def test_sending_takes_one_statement_per_group_of_connections_beyond_a_constant(
    shop, smtp_server, settings
):
    """Emails are marked Handed a group at a time (one per connection) just
    before the connections take them, with the answers that came in since
    (so a crash leaves only what is in flight uncertain): one small
    statement per group; everything else is per batch."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conductor.engine.claims import claim_due
    from conductor.engine.runner import run_claimed
    from emails.sending.delivery import send_deliveries
    from integrations.segment.outbox import forget_synced_lists
    from tests.tracking_helpers import publish_mailing

    # The process's copy of the Segment-synced lists is refreshed by a query
    # every SEGMENT_LIST_CACHE_SECONDS: not while this test counts.
    settings.SEGMENT_LIST_CACHE_SECONDS = 3600
    settings.EMAIL_CONNECTIONS = 3
    forget_synced_lists()
    publish_mailing(shop)
    queries = []
    for batch in (1, 2, 12):  # the first email also records the message's links
        for n in range(batch):
            subscribe_contact(email_list=shop, email=f"{batch}-{n}@example.com", method="API")
        while (token := claim_due(100)) is not None:
            run_claimed(token)
        with CaptureQueriesContext(connection) as captured:
            assert send_deliveries() == batch
        queries.append(len(captured))
    # Twelve emails are four groups of three, two emails one group.
    assert queries[2] - queries[1] == 4 - 1, queries
    assert len(smtp_server.messages) == 15
