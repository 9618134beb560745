"""The list's Message (broadcasts) and its reports, SavedMessage and
SplitTest operations of the permission table
(``tests/test_security_api_permissions.py``): each a ``(method, path, body,
success status)`` that succeeds with a token holding every scope."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from api.broadcast_writes import create_saved_message
from broadcasts.services import create_broadcast, create_split_test, schedule_broadcast
from emails.models import Message
from emails.tracking.links import link_ids
from lists.models import List

HTML = '<p>Spring</p><a href="https://shop.example/spring">Shop</a>'


def message_operations(shop: List) -> list[tuple[Any, ...]]:
    """What the routes name is made here, in ``shop``."""
    spring = Message.objects.create(list=shop, name="Spring", subject="Spring", html_body=HTML)
    link = next(iter(link_ids(spring).values()))
    broadcast = create_broadcast(email_list=shop, name="Spring", message=spring)
    schedule_broadcast(broadcast=broadcast, send_at=timezone.now() + datetime.timedelta(days=1))
    fields = {"subject": "Weekly", "from_name": "Shop", "from_email": "news@shop.example"}
    saved = create_saved_message(
        email_list=shop, name="Weekly", message_fields={**fields, "text_body": "Hello"}
    )
    split_test = create_split_test(
        email_list=shop,
        name="Subjects",
        messages=[
            Message.objects.create(list=shop, name=n, subject=n, text_body="Hi") for n in "AB"
        ],
        test_share=20,
        winner_metric="Opens",
        decide_after=datetime.timedelta(hours=4),
    )
    lst = f"List/{shop.pk}"
    one = f"{lst}/Message/{broadcast.pk}"
    new_message = {
        "subject": "Summer",
        "fromEmail": "news@shop.example",
        "fromName": "Shop",
        "bodyText": "Summer is here",
    }
    new_saved = {
        "savedMessageName": "Monthly",
        "subject": "Monthly",
        "fromName": "Shop",
        "fromEmail": "news@shop.example",
        "bodyText": "This month",
    }
    return [
        ("GET", f"{lst}/Message"),
        ("POST", f"{lst}/Message", new_message, 201),
        ("GET", one),
        ("GET", f"{one}/Status"),
        ("GET", f"{one}/Summary"),
        ("GET", f"{one}/Activity"),
        ("GET", f"{one}/Link"),
        ("GET", f"{one}/Link/{link}"),
        ("GET", f"{one}/Link/{link}/Clicker"),
        ("GET", f"{lst}/SavedMessage"),
        ("POST", f"{lst}/SavedMessage", new_saved, 201),
        ("GET", f"{lst}/SavedMessage/{saved.pk}"),
        ("PUT", f"{lst}/SavedMessage/{saved.pk}", {**new_saved, "savedMessageName": "Weekly"}),
        ("POST", f"{lst}/SavedMessage/{saved.pk}/Message", {}, 201),
        ("GET", f"{lst}/SplitTest"),
        ("GET", f"{lst}/SplitTest/{split_test.pk}"),
        ("GET", f"{lst}/SplitTest/{split_test.pk}/Message"),
    ]
