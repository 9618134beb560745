"""A split test sends each of its messages to an equal part of a test share
of the audience, then, once its time to decide has come, sends the message
whose emails got more clicks (or opens) to everyone else, chosen by itself.
Clicks here are real: contacts follow the tracked links of the emails the
real SMTP server received."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from broadcasts.audiences import BUCKET_STRIDE, BUCKETS, REMAINDER
from broadcasts.models import BroadcastStatus, SplitTestStatus
from broadcasts.services import cancel_split_test, create_split_test, schedule_split_test
from broadcasts.split_tests import decide_due
from broadcasts.worker import work
from emails.models import Delivery
from tests.factories import ContactFactory, MessageFactory
from tests.tracking_helpers import html_of, links, path_of

pytestmark = pytest.mark.django_db


def version(shop, name: str):
    return MessageFactory(
        list=shop,
        name=name,
        subject=f"{name}: spring sale",
        html_body=f'<p>{name}</p><a href="https://shop.example/{name.lower()}">Shop</a>',
        text_body="",
    )


def in_buckets(shop, start: int, end: int) -> set[str]:
    """The addresses of the contacts whose bucket is in [start, end)."""
    return {c.email for c in shop.contacts.all() if start <= c.pk * BUCKET_STRIDE % BUCKETS < end}


def click_through(email) -> None:
    (link,) = links(html_of(email), "c")
    assert Client().get(path_of(link)).status_code == 302


def test_the_version_with_more_clicks_goes_to_everyone_else(shop, smtp_server):
    for n in range(100):
        ContactFactory(list=shop, email=f"c{n:03}@example.com")
    a, b = version(shop, "Calm"), version(shop, "Bold")
    split = create_split_test(
        email_list=shop,
        name="Spring subject",
        messages=[a, b],
        test_share=40,
        winner_metric="Clicks",
        decide_after=datetime.timedelta(hours=4),
    )
    schedule_split_test(split_test=split)
    work(budget=30)

    by_subject: dict[str, list] = {"Calm: spring sale": [], "Bold: spring sale": []}
    for email in smtp_server.messages:
        by_subject[email["Subject"]].append(email)
    # Each group is the contacts whose bucket is in its fifth of the
    # 10,000 buckets (40 % of the audience, shared by two groups).
    assert {m["To"] for m in by_subject["Calm: spring sale"]} == in_buckets(shop, 0, 2000)
    assert {m["To"] for m in by_subject["Bold: spring sale"]} == in_buckets(shop, 2000, 4000)
    tested = len(smtp_server.messages)
    assert 36 <= tested <= 44
    # Five of Bold's contacts click, two of Calm's.
    for email in by_subject["Bold: spring sale"][:5]:
        click_through(email)
    for email in by_subject["Calm: spring sale"][:2]:
        click_through(email)

    assert decide_due(now=timezone.now()) == 0  # not yet its time
    assert decide_due(now=timezone.now() + datetime.timedelta(hours=5)) == 1
    split.refresh_from_db()
    assert split.status == SplitTestStatus.SENDING_WINNER
    assert split.winner is not None and split.winner.message == b
    work(budget=30)

    received = [m["To"] for m in smtp_server.messages]
    assert len(received) == 100 and len(set(received)) == 100  # everyone, once
    remainder = split.broadcasts.get(split_group=REMAINDER)
    assert remainder.status == BroadcastStatus.SENT
    assert remainder.recipients == 100 - tested
    assert {m["Subject"] for m in smtp_server.messages[tested:]} == {"Bold: spring sale"}
    split.refresh_from_db()
    assert split.status == SplitTestStatus.FINISHED
    assert Delivery.objects.count() == 100


def test_opens_can_decide_and_a_draw_goes_to_the_first_group(shop, smtp_server):
    for n in range(20):
        ContactFactory(list=shop, email=f"c{n:02}@example.com")
    split = create_split_test(
        email_list=shop,
        name="Draw",
        messages=[version(shop, "One"), version(shop, "Two")],
        test_share=100,
        winner_metric="Opens",
        decide_after=datetime.timedelta(minutes=30),
    )
    schedule_split_test(split_test=split)
    work(budget=30)
    assert len(smtp_server.messages) == 20
    decide_due(now=timezone.now() + datetime.timedelta(hours=1))
    split.refresh_from_db()
    # A test of the whole audience has no remainder: decided, and finished.
    assert split.status == SplitTestStatus.FINISHED
    assert split.winner is not None and split.winner.split_group == "A"
    assert not split.broadcasts.filter(split_group=REMAINDER).exists()


def test_two_workers_deciding_at_once_send_the_winner_once(shop, smtp_server):
    for n in range(10):
        ContactFactory(list=shop, email=f"c{n:02}@example.com")
    split = create_split_test(
        email_list=shop,
        name="Twice",
        messages=[version(shop, "One"), version(shop, "Two")],
        test_share=20,
        winner_metric="Clicks",
        decide_after=datetime.timedelta(minutes=1),
    )
    schedule_split_test(split_test=split)
    work(budget=30)
    later = timezone.now() + datetime.timedelta(hours=1)
    assert decide_due(now=later) + decide_due(now=later) == 1
    work(budget=30)
    assert split.broadcasts.filter(split_group=REMAINDER).count() == 1
    assert len({m["To"] for m in smtp_server.messages}) == len(smtp_server.messages) == 10


def test_a_split_test_needs_two_to_five_messages_and_a_share(shop):
    one = version(shop, "One")
    with pytest.raises(ValidationError, match="2 to 5 messages"):
        create_split_test(
            email_list=shop,
            name="Alone",
            messages=[one],
            test_share=20,
            winner_metric="Clicks",
            decide_after=datetime.timedelta(hours=1),
        )
    with pytest.raises(ValidationError, match="percentage"):
        create_split_test(
            email_list=shop,
            name="Too much",
            messages=[one, version(shop, "Two")],
            test_share=120,
            winner_metric="Clicks",
            decide_after=datetime.timedelta(hours=1),
        )


def test_cancelling_a_scheduled_split_test_sends_nothing(shop, smtp_server):
    ContactFactory(list=shop, email="ada@example.com")
    split = create_split_test(
        email_list=shop,
        name="Never",
        messages=[version(shop, "One"), version(shop, "Two")],
        test_share=100,
        winner_metric="Clicks",
        decide_after=datetime.timedelta(hours=1),
    )
    schedule_split_test(split_test=split, send_at=timezone.now() + datetime.timedelta(hours=1))
    cancel_split_test(split_test=split)
    work(budget=5)
    assert smtp_server.messages == []
    assert set(split.broadcasts.values_list("status", flat=True)) == {BroadcastStatus.CANCELLED}
