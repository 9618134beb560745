"""The demo's broadcasts, for ``seed_demo`` (``contacts.demo``):

- **Spring sale**, sent two days ago to every subscribed contact, in the
  campaign "Seasonal sales", with its report already full: the engine sends
  it through the development mailbox (as ``conductor.demo``'s history; with
  any other email backend it is left a draft), some contacts open it, click
  and buy through the tracking code's own functions, then its rows are moved
  back two days.
- **Summer preview**, scheduled for 9:00 tomorrow in the list's time zone,
  to the contacts with 300 loyalty points or more (conditions the filter
  builder shows as rows).

Running it again adds nothing.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from broadcasts.admin_display import when
from broadcasts.models import Broadcast, BroadcastStatus, Campaign
from broadcasts.reports import deliveries
from broadcasts.services import create_broadcast, schedule_broadcast
from broadcasts.worker import work
from conductor.demo import LOCAL_BACKENDS
from contacts.models import Activity
from contacts.services import fire_event
from emails.models import MailboxEmail, Message
from emails.tracking.engagement import Visitor, record_click, record_open
from lists.models import Event, List, ProfileField

SPRING_SALE = "Spring sale"
SUMMER_PREVIEW = "Summer preview"
SPRING_HTML = """<h1>The Spring sale is on, {{ profile.first_name|default:"friend" }}!</h1>
<p>Up to 40% off linen shirts, walking boots and rain jackets, this week only.</p>
<p><a href="https://demo-store.example/spring-sale">Shop the sale</a></p>
<p>Or see <a href="https://demo-store.example/new-arrivals">what's new</a>.</p>
<p><a href="{{ links.unsubscribe }}">Unsubscribe</a></p>
"""
SUMMER_HTML = """<h1>A first look at summer, {{ profile.first_name|default:"friend" }}</h1>
<p>As one of our best customers, you see the summer range a week before anyone else.</p>
<p><a href="https://demo-store.example/summer">See the summer range</a></p>
<p><a href="{{ links.unsubscribe }}">Unsubscribe</a></p>
"""
#: How long ago the Spring sale went out.
SENT_AGO = datetime.timedelta(days=2, hours=3)

Say = Callable[[str], None]


def seed(email_list: List, say: Say) -> None:
    """The two broadcasts on ``email_list``, once."""
    if Broadcast.objects.filter(list=email_list, name=SUMMER_PREVIEW).exists():
        return
    with transaction.atomic():  # both, or neither (then the next run makes them)
        spring = _spring_sale(email_list)
        summer = _summer_preview(email_list)
    say(f"Broadcast “{summer}” is scheduled for {when(summer.send_at, email_list)}.")
    if settings.EMAIL_BACKEND not in LOCAL_BACKENDS:
        say(
            f"Broadcast “{spring}” is left a draft: EMAIL_BACKEND {settings.EMAIL_BACKEND} "
            "would really send it."
        )
        return
    _history(spring, random.Random(2027))
    say(f"Broadcast “{spring}” was sent two days ago; its report is on its page.")


def _message(email_list: List, name: str, subject: str, html: str) -> Message:
    message = Message(list=email_list, name=name, subject=subject, html_body=html)
    message.full_clean()  # the template checks a marketer's message passes
    message.save()
    return message


def _spring_sale(email_list: List) -> Broadcast:
    campaign, _ = Campaign.objects.get_or_create(list=email_list, name="Seasonal sales")
    message = _message(email_list, SPRING_SALE, "The Spring sale: up to 40% off", SPRING_HTML)
    return create_broadcast(
        email_list=email_list, name=SPRING_SALE, message=message, campaign=campaign
    )


def _summer_preview(email_list: List) -> Broadcast:
    message = _message(
        email_list, SUMMER_PREVIEW, "A first look at summer, just for you", SUMMER_HTML
    )
    points = ProfileField.objects.filter(list=email_list, name__iexact="Loyalty Points").first()
    criteria = (
        {
            "filters": [
                {
                    "segmentationFieldId": points.pk,
                    "compareType": "GreaterThanOrEqualTo",
                    "values": [{"value": "300"}],
                }
            ]
        }
        if points is not None
        else {}
    )
    broadcast = create_broadcast(
        email_list=email_list, name=SUMMER_PREVIEW, message=message, criteria=criteria
    )
    zone = email_list.zone
    tomorrow = timezone.localdate(timezone=zone) + datetime.timedelta(days=1)
    nine = datetime.datetime.combine(tomorrow, datetime.time(9), zone)
    return schedule_broadcast(broadcast=broadcast, send_at=nine)


def _history(broadcast: Broadcast, rng: random.Random) -> None:
    """Send it now through the engine, engage some of its contacts, and
    date everything it wrote ``SENT_AGO`` earlier."""
    started = timezone.now()
    schedule_broadcast(broadcast=broadcast)
    while work(budget=30):
        pass  # until every email of it is out
    purchase = Event.objects.filter(list=broadcast.list, name__iexact="Purchase").first()
    phone = Visitor(user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)")
    sent = deliveries(broadcast).select_related("contact", "message").order_by("pk")
    for delivery in sent:
        if rng.random() < 0.48:
            record_open(delivery, phone)
            if rng.random() < 0.4:
                links = list(delivery.message.links.order_by("pk"))
                record_click(delivery, phone, link=links[0] if rng.random() < 0.75 else links[-1])
                if purchase is not None and rng.random() < 0.35:
                    total = rng.randrange(2500, 18000) / 100
                    fire_event(event=purchase, contact=delivery.contact, data={"orderTotal": total})
    _move_back(broadcast, SENT_AGO, since=started)


def _move_back(broadcast: Broadcast, ago: datetime.timedelta, *, since: datetime.datetime) -> None:
    """Date what ``broadcast``'s sending wrote since ``since`` ``ago`` earlier."""
    broadcast.refresh_from_db()
    deliveries(broadcast).update(created_at=F("created_at") - ago, sent_at=F("sent_at") - ago)
    Activity.objects.filter(list=broadcast.list, occurred_at__gte=since).update(
        occurred_at=F("occurred_at") - ago
    )
    MailboxEmail.objects.filter(created_at__gte=since).update(created_at=F("created_at") - ago)
    Broadcast.objects.filter(pk=broadcast.pk, status=BroadcastStatus.SENT).update(
        send_at=F("send_at") - ago,
        started_at=F("started_at") - ago,
        finished_at=F("finished_at") - ago,
        created_at=F("created_at") - ago,
    )
