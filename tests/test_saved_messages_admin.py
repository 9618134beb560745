"""Saved messages in the admin: kept for a list with the message editor's
message, and sent as a broadcast: a draft with its own copy of the message,
opened for staff to choose who gets it and when. Every page and write checks
its permission."""

from __future__ import annotations

import pytest

from broadcasts.models import Broadcast, BroadcastStatus, SavedMessage
from emails.models import Message
from tests.factories import ContactFactory
from tests.staff import staff

pytestmark = pytest.mark.django_db

ADD = "/admin/broadcasts/savedmessage/add/"
WRITERS = (
    "broadcasts.view_savedmessage",
    "broadcasts.add_savedmessage",
    "broadcasts.change_savedmessage",
    "broadcasts.add_broadcast",
    "broadcasts.change_broadcast",
    "broadcasts.view_broadcast",
    "emails.view_message",
    "emails.add_message",
)


def weekly(shop, **fields) -> Message:
    body = {"subject": "This week", "html_body": "<p>Hello</p>", **fields}
    return Message.objects.create(list=shop, name="Weekly", **body)


def test_staff_keep_one_and_send_it_as_a_draft_broadcast_of_a_copy(shop):
    client = staff(*WRITERS)
    message = weekly(shop)
    response = client.post(
        f"{ADD}?list={shop.pk}",
        {
            "name": "Weekly letter",
            "message": message.pk,
            "preheader": "New this week",
            "campaign": "",
            "external_campaign_id": "",
        },
    )
    assert response.status_code == 302, response.text
    saved = SavedMessage.objects.get()
    page = client.get(f"/admin/broadcasts/savedmessage/{saved.pk}/change/")
    assert "Send as a broadcast" in page.text

    sent = client.post(f"/admin/broadcasts/savedmessage/{saved.pk}/send/", follow=True)

    broadcast = Broadcast.objects.get()
    assert sent.redirect_chain[-1][0] == f"/admin/broadcasts/broadcast/{broadcast.pk}/change/"
    assert "is a draft with its own copy of the message" in sent.text
    assert broadcast.status == BroadcastStatus.DRAFT
    assert broadcast.message != message
    assert "New this week" in broadcast.message.html_body
    assert "New this week" not in Message.objects.get(pk=message.pk).html_body


def test_a_message_a_broadcast_cannot_send_is_refused_in_words(shop):
    client = staff(*WRITERS)
    saved = SavedMessage.objects.create(
        list=shop, name="Codes", message=weekly(shop, subject="Code {{ coupon }}")
    )
    answer = client.post(f"/admin/broadcasts/savedmessage/{saved.pk}/send/", follow=True)
    assert "Not sent: Message “Weekly”: It uses {{ coupon }}" in answer.text
    assert not Broadcast.objects.exists()


def test_without_the_permissions_every_page_and_the_send_are_refused(shop):
    ContactFactory(list=shop)
    saved = SavedMessage.objects.create(list=shop, name="Weekly", message=weekly(shop))
    nobody = staff()
    assert nobody.get("/admin/broadcasts/savedmessage/").status_code == 403
    assert nobody.get(f"{ADD}?list={shop.pk}").status_code == 403
    assert nobody.get(f"/admin/broadcasts/savedmessage/{saved.pk}/change/").status_code == 403
    # May see and change saved messages, but not write broadcasts: no sending.
    editor = staff("broadcasts.view_savedmessage", "broadcasts.change_savedmessage")
    page = editor.get(f"/admin/broadcasts/savedmessage/{saved.pk}/change/")
    assert page.status_code == 200 and "Send as a broadcast" not in page.text
    assert editor.post(f"/admin/broadcasts/savedmessage/{saved.pk}/send/").status_code == 403
    assert not Broadcast.objects.exists()
    assert editor.get(f"/admin/broadcasts/savedmessage/{saved.pk}/send/").status_code == 405
