"""``seed_demo`` tells the story on a first visit: a published welcome series
and an abandoned-cart conversation, with a week of history made by the
engine itself; running it again (as ``make run`` does at every start) adds
nothing and keeps staff logged in."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from conductor.models import Conversation, ConversationStatus, Enrollment, EnrollmentState
from conductor.reports import conversation_summary
from contacts.models import Activity, ActivityKind
from emails.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.django_db


def figures() -> tuple[int, int, int]:
    return Enrollment.objects.count(), Delivery.objects.count(), Activity.objects.count()


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
    codes = Delivery.objects.filter(message__name="Welcome").values_list("merge_context", flat=True)
    assert all(str(context.get("coupon", "")).startswith("WELCOME-") for context in codes)

    client.force_login(get_user_model().objects.get(username="demo"))
    assert client.get(reverse("admin:index")).status_code == 200
    before = figures()
    call_command("seed_demo", contacts=200)
    assert figures() == before
    assert client.get(reverse("admin:index")).status_code == 200  # still logged in


def test_seed_demo_makes_no_history_with_a_backend_that_would_really_send(settings, capsys):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    call_command("seed_demo", contacts=20)
    assert Conversation.objects.filter(status=ConversationStatus.PUBLISHED).count() == 2
    assert not Delivery.objects.exists()
    assert "No demo history" in capsys.readouterr().out
