"""``{{ coupon }}``: the code a Set Coupon action of the conversation gave
the contact, a merge field of its own in the emails the conversation sends;
refused as ``{{ coupon.x }}``, and refused at publish in a conversation with
no Set Coupon action to give one."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from conductor.engine.batch import StepBatch, VersionSteps
from conductor.engine.step_coupons import coupons_of
from conductor.engine.tasks import run_due
from conductor.models import CouponKind, Enrollment, StepKind
from conductor.steps.context import VersionContext
from conductor.steps.unit import unit_of
from conductor.versions import publish, working_version
from contacts.models import Contact
from contacts.services import subscribe_contact, update_profile
from emails.models import Delivery, DeliveryStatus, Message
from lists.models import ProfileField
from tests.factories import (
    CouponFactory,
    CouponPoolFactory,
    MessageFactory,
    ProfileFieldFactory,
    conversation_with_steps,
)
from tests.staff import staff
from tests.tracking_helpers import text_of

pytestmark = pytest.mark.django_db

TERMINATE: tuple[str, dict[str, object]] = (StepKind.TERMINATE, {})


def coupon_field(shop, name: str = "Coupon code") -> ProfileField:
    group = ProfileField.objects.get(list=shop, name="First Name").group
    return ProfileFieldFactory.create(group=group, name=name)


def set_coupon(pool, field: ProfileField) -> tuple[str, dict[str, object]]:
    return (StepKind.ACTION, {"action": "SetCoupon", "pool": pool.pk, "field": field.pk})


def send(message: Message) -> tuple[str, dict[str, object]]:
    return (StepKind.MESSAGE, {"message": message.pk})


def code_message(shop, name: str = "Your code") -> Message:
    return MessageFactory.create(
        list=shop, name=name, subject="A gift", text_body="Your code: {{ coupon }}"
    )


def subscribe(shop, *addresses: str) -> list[Contact]:
    contacts = []
    for address in addresses:
        contact = subscribe_contact(email_list=shop, email=address, method="API").contact
        assert contact is not None, f"{address} was not subscribed"
        contacts.append(contact)
    return contacts


def texts_by_address(smtp_server) -> dict[str, str]:
    return {email["To"]: text_of(email).split("\n")[0].strip() for email in smtp_server.messages}


# --- Sending ----------------------------------------------------------------------


def test_each_contact_gets_the_unique_code_the_set_coupon_action_gave_them(shop, smtp_server):
    field = coupon_field(shop)
    pool = CouponPoolFactory(list=shop)
    for code in ("A1-GIFT", "B2-GIFT"):
        CouponFactory(pool=pool, code=code)
    conversation, _ = conversation_with_steps(
        shop, set_coupon(pool, field), send(code_message(shop)), TERMINATE
    )
    publish(conversation)
    ada, bob = subscribe(shop, "ada@example.com", "bob@example.com")
    run_due()
    given = {c.email: Contact.objects.get(pk=c.pk).profile[field.key] for c in (ada, bob)}
    assert sorted(given.values()) == ["A1-GIFT", "B2-GIFT"]
    assert texts_by_address(smtp_server) == {
        address: f"Your code: {code}" for address, code in given.items()
    }
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


def test_a_static_pool_gives_its_one_code(shop, smtp_server):
    field = coupon_field(shop)
    pool = CouponPoolFactory(list=shop, kind=CouponKind.STATIC, static_code="WELCOME10")
    conversation, _ = conversation_with_steps(
        shop, set_coupon(pool, field), send(code_message(shop)), TERMINATE
    )
    publish(conversation)
    subscribe(shop, "ada@example.com")
    run_due()  # the action and the message in one run: the code is found all the same
    assert texts_by_address(smtp_server) == {"ada@example.com": "Your code: WELCOME10"}


def test_the_set_coupon_action_passed_most_recently_gives_the_code(shop, smtp_server):
    first, second = coupon_field(shop, "First code"), coupon_field(shop, "Second code")
    unique = CouponPoolFactory(list=shop)
    CouponFactory(pool=unique, code="UNIQUE-1")
    static = CouponPoolFactory(list=shop, kind=CouponKind.STATIC, static_code="STATIC-2")
    conversation, _ = conversation_with_steps(
        shop,
        set_coupon(unique, first),
        set_coupon(static, second),
        send(code_message(shop)),
        TERMINATE,
    )
    publish(conversation)
    subscribe(shop, "ada@example.com")
    run_due()
    assert texts_by_address(smtp_server) == {"ada@example.com": "Your code: STATIC-2"}


def test_a_contact_who_has_not_passed_the_set_coupon_action_gets_no_code(shop, smtp_server):
    """The field may hold a value from elsewhere (an import, another
    conversation): only what this conversation gave counts."""
    field = coupon_field(shop)
    pool = CouponPoolFactory(list=shop, kind=CouponKind.STATIC, static_code="LATER")
    conversation, _ = conversation_with_steps(
        shop, send(code_message(shop)), set_coupon(pool, field), TERMINATE
    )
    publish(conversation)
    (ada,) = subscribe(shop, "ada@example.com")
    update_profile(contact=ada, values={"Coupon code": "FROM-AN-IMPORT"})
    run_due()
    assert texts_by_address(smtp_server) == {"ada@example.com": "Your code:"}
    assert Contact.objects.get(pk=ada.pk).profile[field.key] == "LATER"


# --- Checks -----------------------------------------------------------------------


def test_coupon_with_a_name_after_it_is_refused_at_save_in_words(shop):
    message = Message(list=shop, name="Code", subject="Code", text_body="Hi\n{{ coupon.code }}")
    with pytest.raises(ValidationError) as refused:
        message.full_clean()
    assert refused.value.message_dict == {
        "text_body": [
            "Line 2: {{ coupon.code }} is not a merge field: the coupon is one code, "
            "written {{ coupon }}."
        ]
    }
    message.text_body = "Hi\n{{ coupon }} {{ coupon|upper }}"
    message.full_clean()


def test_the_admin_refuses_coupon_with_a_name_after_it(shop):
    message = code_message(shop)
    editor = staff("emails.view_message", "emails.change_message")
    url = reverse("admin:emails_message_change", args=[message.pk])
    data = {
        "list": shop.pk,
        "name": message.name,
        "subject": message.subject,
        "html_body": "",
        "text_body": "{{ coupon.value }}",
        "from_name": "",
        "from_email": "",
    }
    response = editor.post(url, data)
    assert response.status_code == 200
    assert "{{ coupon.value }} is not a merge field: the coupon is one code" in (
        response.content.decode().replace("&#x27;", "'")
    )
    message.refresh_from_db()
    assert message.text_body == "Your code: {{ coupon }}"


def test_publishing_refuses_coupon_without_a_set_coupon_action_naming_the_step(shop):
    wait = (StepKind.WAIT, {"kind": "duration", "days": 1})
    conversation, _ = conversation_with_steps(
        shop, wait, send(code_message(shop, "Welcome")), TERMINATE
    )
    with pytest.raises(ValidationError) as refused:
        publish(conversation)
    assert refused.value.messages == [
        "Main step 2, Message: message “Welcome” uses {{ coupon }}, "
        "but this conversation has no Set Coupon action to give one."
    ]
    assert not working_version(conversation).is_published


def test_a_message_step_using_the_coupon_is_saved_before_its_set_coupon_action_exists(shop):
    """Only publishing needs the action: a marketer may add the Message step first."""
    conversation, steps = conversation_with_steps(
        shop, send(code_message(shop, "Welcome")), TERMINATE
    )
    version = working_version(conversation)
    saving = VersionContext(version=version, steps=list(steps))
    assert unit_of(steps[0]).check(steps[0], saving) == []


def test_a_coupon_set_by_a_with_tag_needs_no_set_coupon_action(shop):
    message = MessageFactory(
        list=shop, text_body='{% with coupon="SPRING" %}Code: {{ coupon }}{% endwith %}'
    )
    conversation, _ = conversation_with_steps(shop, send(message), TERMINATE)
    assert publish(conversation).is_published


def test_publishing_passes_once_the_conversation_has_a_set_coupon_action(shop):
    pool = CouponPoolFactory(list=shop, kind=CouponKind.STATIC, static_code="X")
    conversation, _ = conversation_with_steps(
        shop, set_coupon(pool, coupon_field(shop)), send(code_message(shop)), TERMINATE
    )
    assert publish(conversation).is_published


# --- The editor and the preview -----------------------------------------------------


def test_the_merge_field_picker_offers_the_coupon(shop, admin_client):
    message = code_message(shop)
    page = admin_client.get(reverse("admin:emails_message_change", args=[message.pk]))
    html = page.content.decode()
    assert 'data-merge-field="{{ coupon }}"' in html
    assert "The coupon code a Set Coupon action of the conversation gave the contact" in html


def test_the_preview_shows_a_sample_code_and_says_so(shop, admin_client):
    message = code_message(shop)
    subscribe(shop, "ada@example.com")
    url = reverse("admin:emails_message_preview", args=[message.pk])
    page = admin_client.get(url).content.decode()
    assert "Your code: SAMPLE-2024" in page
    assert "shows a sample code, “SAMPLE-2024”" in page
    plain = MessageFactory(list=shop, text_body="Hello")
    page = admin_client.get(reverse("admin:emails_message_preview", args=[plain.pk]))
    assert "SAMPLE-2024" not in page.content.decode()


# --- Cost -------------------------------------------------------------------------


def batch_at_message(shop, *steps: tuple[str, dict[str, object]]) -> StepBatch:
    """A batch of two contacts at the Message step of a published version of ``steps``."""
    conversation, made = conversation_with_steps(shop, *steps)
    version = publish(conversation)
    subscribe(shop, "ada@example.com", "bob@example.com")
    message_step = next(s for s in made if s.kind == StepKind.MESSAGE)
    enrollments = list(Enrollment.objects.filter(version=version).select_related("contact"))
    return StepBatch(
        step=message_step,
        enrollments=enrollments,
        steps=VersionSteps(version),
        now=timezone.now(),
    )


def test_finding_coupons_takes_no_query_without_a_set_coupon_step(shop):
    batch = batch_at_message(shop, send(MessageFactory(list=shop)), TERMINATE)
    with CaptureQueriesContext(connection) as captured:
        assert coupons_of(batch) == {}
    assert len(captured) == 0


def test_finding_coupons_takes_one_query_with_set_coupon_steps(shop):
    pool = CouponPoolFactory(list=shop, kind=CouponKind.STATIC, static_code="X")
    batch = batch_at_message(
        shop, set_coupon(pool, coupon_field(shop)), send(code_message(shop)), TERMINATE
    )
    with CaptureQueriesContext(connection) as captured:
        assert coupons_of(batch) == {}  # nobody has passed the action yet
    assert len(captured) == 1
