"""``seed_demo`` tells the story on a first visit: a published welcome series
entered through the shop's Footer and Pop-up subscription points, its email
tailored to the pop-up, and an abandoned-cart conversation, with a week of
history made by the engine itself; running it again (as ``make run`` does at
every start) adds nothing and keeps staff logged in."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from conductor.engine.tasks import run_due
from conductor.models import (
    Conversation,
    ConversationStatus,
    Enrollment,
    EnrollmentState,
    Step,
    StepKind,
)
from conductor.reports import conversation_summary
from conductor.versions import published_version
from contacts.models import Activity, ActivityKind, Contact
from emails.models import Delivery, DeliveryStatus, Message
from signups.models import Signup, SubscriptionPoint
from signups.services import sign_up

pytestmark = pytest.mark.django_db


def figures() -> tuple[int, ...]:
    return (
        Enrollment.objects.count(),
        Delivery.objects.count(),
        Activity.objects.count(),
        SubscriptionPoint.objects.count(),
        Signup.objects.count(),
    )


def test_seed_demo_publishes_two_conversations_with_a_week_of_history(settings, client):
    settings.DEBUG = True
    call_command("seed_demo", contacts=200)

    welcome = Conversation.objects.get(name="Welcome series")
    cart = Conversation.objects.get(name="Abandoned cart")
    assert {welcome.status, cart.status} == {ConversationStatus.PUBLISHED}
    states = set(Enrollment.objects.filter(conversation=welcome).values_list("state", flat=True))
    assert states == {EnrollmentState.ACTIVE, EnrollmentState.FINISHED}  # some still at the Wait
    assert not Delivery.objects.exclude(status=DeliveryStatus.SENT).exists()
    sent_days = {
        timezone.localtime(a.occurred_at).date()
        for a in Activity.objects.filter(kind=ActivityKind.EMAIL_SENT)
    }
    assert len(sent_days) >= 5  # spread over the past week, not all today
    assert min(sent_days) >= timezone.localdate() - datetime.timedelta(days=10)
    summary = conversation_summary(welcome)
    assert summary.sent > 100 and summary.opened > 0 and summary.clicked > 0
    assert summary.converted > 0 and summary.revenue > 0
    welcomes = Delivery.objects.filter(message__name__in=["Welcome", "Welcome (pop-up)"])
    codes = welcomes.values_list("merge_context", flat=True)
    assert len(codes) == 120
    assert all(str(context.get("coupon", "")).startswith("WELCOME-") for context in codes)

    client.force_login(get_user_model().objects.get(username="demo"))
    assert client.get(reverse("admin:index")).status_code == 200
    before = figures()
    call_command("seed_demo", contacts=200)
    assert figures() == before
    assert client.get(reverse("admin:index")).status_code == 200  # still logged in


def test_the_demo_welcome_series_is_entered_through_its_points_and_tailored_to_the_pop_up(
    settings,
):
    settings.DEBUG = True
    call_command("seed_demo", contacts=200)
    welcome = Conversation.objects.get(name="Welcome series")
    footer = SubscriptionPoint.objects.get(name="Footer")
    popup = SubscriptionPoint.objects.get(name="Pop-up")
    assert [(f.field.name, f.required) for f in footer.fields.all()] == [("First Name", False)]
    assert [(f.field.name, f.required) for f in popup.fields.all()] == [("First Name", True)]
    assert (popup.popup_opening, popup.popup_delay_seconds) == ("delay", 5)
    assert popup.origins == ["http://localhost:8080", "http://127.0.0.1:8080"]

    # Entered by the two points' events; the pop-up's contacts get its variant.
    triggers = {trigger.event_id: trigger for trigger in welcome.triggers.all()}
    assert set(triggers) == {footer.event_id, popup.event_id}
    by_popup = triggers[popup.event_id]
    step = Step.objects.get(
        version=published_version(welcome), kind=StepKind.MESSAGE, name="Send the welcome email"
    )
    variant = Message.objects.get(name="Welcome (pop-up)")
    assert step.settings["message"] == Message.objects.get(name="Welcome").pk
    assert step.settings["variants"] == [{"trigger": by_popup.pk, "message": variant.pk}]
    assert "10% off" in variant.subject

    # The history: a third joined through the pop-up and got its email, and
    # the points count their signups.
    assert Signup.objects.filter(point=popup).count() == 40
    assert Signup.objects.filter(point=footer).count() == 80
    variant_sent = Delivery.objects.filter(message=variant).values_list("contact", flat=True)
    from_popup = Enrollment.objects.filter(conversation=welcome, trigger=by_popup)
    assert set(variant_sent) == set(from_popup.values_list("contact", flat=True))
    assert len(variant_sent) == 40

    # A newcomer through the pop-up: subscribed (the first-ever subscription
    # first, then the event), in through the pop-up's trigger, its email sent.
    sign_up(point=popup, email="newcomer@example.com", values={}, consent=False)
    run_due()
    newcomer = Contact.objects.get(email="newcomer@example.com")
    assert Enrollment.objects.get(contact=newcomer, conversation=welcome).trigger == by_popup
    assert Delivery.objects.get(contact=newcomer).message == variant

    # A contact welcomed already, signing up again: no second welcome or code.
    done = Enrollment.objects.filter(conversation=welcome, state=EnrollmentState.FINISHED)
    welcomed = done.select_related("contact")[0].contact
    sent_before = Delivery.objects.filter(contact=welcomed).count()
    sign_up(point=footer, email=welcomed.email, values={}, consent=False)
    run_due()
    again = Enrollment.objects.filter(contact=welcomed, conversation=welcome).order_by("pk")
    assert [e.state for e in again] == [EnrollmentState.FINISHED] * 2  # in, and out at once
    assert Delivery.objects.filter(contact=welcomed).count() == sent_before


def test_seed_demo_makes_no_history_with_a_backend_that_would_really_send(settings, capsys):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    call_command("seed_demo", contacts=20)
    assert Conversation.objects.filter(status=ConversationStatus.PUBLISHED).count() == 2
    assert not Delivery.objects.exists()
    assert "No demo history" in capsys.readouterr().out
