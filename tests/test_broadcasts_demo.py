"""``seed_demo`` shows broadcasts on a first visit: "Spring sale", sent two
days ago by the engine through the development mailbox, its report full of
opens, clicks and purchases; and "Summer preview", scheduled for 9:00
tomorrow in the list's time zone to the contacts with 300 loyalty points or
more. Running it again adds nothing."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from broadcasts.models import Broadcast, BroadcastStatus
from broadcasts.reports import deliveries, summary
from emails.models import DeliveryStatus

pytestmark = pytest.mark.django_db


def test_seed_demo_sends_the_spring_sale_two_days_ago_and_schedules_the_summer_preview(
    settings, client
):
    settings.DEBUG = True  # the tests' email backend keeps the emails in memory (mail.outbox)
    call_command("seed_demo", contacts=120)

    spring = Broadcast.objects.get(name="Spring sale")
    assert spring.status == BroadcastStatus.SENT
    assert spring.campaign is not None and spring.campaign.name == "Seasonal sales"
    figures = summary(spring)
    assert figures.sent == spring.recipients > 50
    assert figures.opened > 0 and figures.clicked > 0
    assert figures.converted > 0 and figures.revenue > 0
    assert not deliveries(spring).exclude(status=DeliveryStatus.SENT).exists()
    ago = timezone.now() - spring.finished_at
    assert datetime.timedelta(days=2) < ago < datetime.timedelta(days=3)
    spring_emails = [m for m in mail.outbox if m.subject == "The Spring sale: up to 40% off"]
    assert len(spring_emails) == figures.sent

    summer = Broadcast.objects.get(name="Summer preview")
    assert summer.status == BroadcastStatus.SCHEDULED
    local = timezone.localtime(summer.send_at, summer.list.zone)
    assert (local.date(), local.hour, local.minute) == (
        timezone.localdate(timezone=summer.list.zone) + datetime.timedelta(days=1),
        9,
        0,
    )
    assert summer.criteria["filters"][0]["compareType"] == "GreaterThanOrEqualTo"

    client.force_login(get_user_model().objects.get(username="demo"))
    page = client.get(reverse("admin:broadcasts_broadcast_change", args=[spring.pk]))
    assert "Progress · Sent" in page.content.decode()
    page = client.get(reverse("admin:broadcasts_broadcast_change", args=[summer.pk]))
    assert "Loyalty Points is at least 300" not in page.content.decode()  # rows, drawn by script
    assert "This broadcast reaches" in page.content.decode()

    before = (Broadcast.objects.count(), len(mail.outbox))
    call_command("seed_demo", contacts=120)
    assert (Broadcast.objects.count(), len(mail.outbox)) == before
