"""The conversation page warns when a Message step's variant for an external
event can never be sent because the First-ever subscription trigger brings
the same new subscribers in first (a signup form subscribes, then fires its
event); and the engine shows why: such a subscriber gets the default."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from conductor.engine.tasks import run_due
from conductor.models import Enrollment, StepKind, TriggerKind
from conductor.trigger_warnings import variant_warnings
from conductor.versions import publish
from emails.models import Delivery
from signups.models import SubscriptionPoint
from signups.services import save_point, sign_up
from tests.factories import (
    ConversationFactory,
    MessageFactory,
    TriggerFactory,
    add_step,
    main_thread,
)

pytestmark = pytest.mark.django_db


def welcome_with_popup_variant(shop, *, first_ever: bool):
    popup = save_point(SubscriptionPoint(list=shop, name="Pop-up"))
    conversation = ConversationFactory.create(list=shop, name="Welcome")
    if first_ever:
        TriggerFactory(conversation=conversation, kind=TriggerKind.SUBSCRIBE)
    on_popup = TriggerFactory.create(
        conversation=conversation, kind=TriggerKind.EXTERNAL_EVENT, event=popup.event
    )
    default = MessageFactory.create(list=shop, name="Welcome")
    coupon = MessageFactory.create(list=shop, name="Welcome, 10% off")
    main = main_thread(conversation)
    add_step(
        main,
        StepKind.MESSAGE,
        "Say hello",
        message=default.pk,
        variants=[{"trigger": on_popup.pk, "message": coupon.pk}],
    )
    add_step(main, StepKind.TERMINATE, "Done")
    return conversation, popup, default, coupon


def test_a_variant_the_first_ever_subscription_would_always_beat_is_warned_of(admin_client, shop):
    conversation, *_ = welcome_with_popup_variant(shop, first_ever=True)

    (warning,) = variant_warnings(conversation)

    assert warning.startswith(
        "Main step 1, Message (Say hello) has a variant for “External event: Signup: Pop-up”, "
        "but this conversation also starts on “First-ever subscription”."
    )
    page = admin_client.get(
        reverse("admin:conductor_conversation_change", args=[conversation.pk])
    ).content.decode()
    assert f'<p class="conversation-warning trigger-warning">{html.escape(warning)}</p>' in page


def test_without_the_first_ever_subscription_there_is_no_warning_and_the_variant_is_sent(
    shop, settings
):
    settings.SIGNUP_MIN_FILL_SECONDS = 0
    conversation, popup, _default, coupon = welcome_with_popup_variant(shop, first_ever=False)
    assert variant_warnings(conversation) == []
    publish(conversation)

    sign_up(point=popup, email="ann@example.com", values={})
    run_due()

    assert Enrollment.objects.get().trigger.event == popup.event
    assert Delivery.objects.get().message == coupon


def test_with_it_the_subscriber_enters_by_the_subscription_and_gets_the_default(shop):
    conversation, popup, default, _coupon = welcome_with_popup_variant(shop, first_ever=True)
    publish(conversation)

    sign_up(point=popup, email="ann@example.com", values={})
    run_due()

    assert Enrollment.objects.get().trigger_kind == TriggerKind.SUBSCRIBE
    assert Delivery.objects.get().message == default
