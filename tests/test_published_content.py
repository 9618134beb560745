"""A published version sends its messages as they were when it was
published: editing a message reaches working versions, tests and the next
publication, never the contacts of a version already published. The
message's page says which published version sends which content."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from conductor.models import Conversation, Version
from conductor.versions import publish
from emails.models import Delivery, Message, MessageContent
from tests.staff import staff
from tests.tracking_helpers import html_of, links, path_of, publish_mailing, send_to

pytestmark = pytest.mark.django_db


def edit(message: Message, **changes: str) -> None:
    """What staff do in the admin: change the message and save it (checked)."""
    for name, value in changes.items():
        setattr(message, name, value)
    message.full_clean()
    message.save()


def test_editing_a_published_message_does_not_reach_that_versions_contacts(shop, smtp_server):
    message = publish_mailing(shop)
    edit(message, subject="Edited for {{ profile.first_name }}", text_body="Edited text.")

    _, email = send_to(shop, smtp_server, "ada@example.com")

    assert email["Subject"] == "Sale for Ada"  # as published, not as edited
    delivery = Delivery.objects.get()
    assert delivery.content is not None
    assert delivery.content.subject == "Sale for {{ profile.first_name }}"
    # Its browser version shows what was sent too.
    client = Client()
    (view,) = links(html_of(email), "v")
    assert "Hi Ada" in client.get(path_of(view)).content.decode()


def test_publishing_again_sends_the_edited_content_to_who_enters_after(shop, smtp_server):
    message = publish_mailing(shop)
    send_to(shop, smtp_server, "ada@example.com")
    edit(message, subject="Edited for {{ profile.first_name }}")

    publish(Conversation.objects.get(name="Welcome"))
    _, email = send_to(shop, smtp_server, "bob@example.com", "Bob")

    assert email["Subject"] == "Edited for Bob"
    assert MessageContent.objects.filter(message=message).count() == 2
    first, second = Version.objects.filter(published_at__isnull=False).order_by("number")
    assert first.message_contents != second.message_contents


def test_publishing_unchanged_messages_freezes_their_content_once(shop):
    message = publish_mailing(shop)
    publish(Conversation.objects.get(name="Welcome"))

    assert MessageContent.objects.filter(message=message).count() == 1
    # The working version sends the message as it is: it has frozen nothing.
    working = Version.objects.get(published_at__isnull=True)
    assert working.message_contents == {}


def test_the_message_page_says_which_published_version_sends_which_content(shop):
    message = publish_mailing(shop)
    url = reverse("admin:emails_message_change", args=[message.pk])
    client = staff("emails.view_message", "conductor.view_conversation")

    page = client.get(url).content.decode()
    assert "<h2>Published versions</h2>" in page
    assert "Welcome" in page
    assert "<td>Yes</td>" in page  # the draft is still what the version sends

    edit(message, subject="Edited")
    page = client.get(url).content.decode()
    assert "No: subject changed since" in page

    hidden = staff("emails.view_message").get(url).content.decode()
    assert "<h2>Published versions</h2>" not in hidden
