"""A conversation's report (the ConversationSummary figures per message),
against a hand-counted story of three contacts."""

from __future__ import annotations

import json

import pytest

from conductor.models import Conversation
from conductor.reports import conversation_summary, message_summaries
from contacts.services import fire_event
from tests.factories import EventFactory
from tests.tracking_helpers import html_of, links, path_of, publish_mailing, send_to

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(shop, smtp_server, client, settings):
    """Ada opens twice, clicks and buys for 50; Bob bounces hard; Cy views it
    in the browser."""
    settings.EMAIL_FEEDBACK_SECRET = "r" * 32
    message = publish_mailing(shop)
    emails = {}
    for address in ("ada@example.com", "bob@example.com", "cy@example.com"):
        contact, email = send_to(shop, smtp_server, address)
        emails[address] = (contact, email)
    ada, ada_email = emails["ada@example.com"]
    client.get(path_of(links(html_of(ada_email), "o")[0]))
    client.get(path_of(links(html_of(ada_email), "o")[0]))
    client.get(path_of(links(html_of(ada_email), "c")[0]))
    fire_event(event=EventFactory(list=shop, name="Purchase"), contact=ada, data={"orderTotal": 50})
    bob, bob_email = emails["bob@example.com"]
    client.post(
        "/webhooks/email-feedback/",
        data=json.dumps(
            {"email": bob.email, "message_id": bob_email["Message-ID"], "kind": "hard_bounce"}
        ),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {'r' * 32}",
    )
    _, cy_email = emails["cy@example.com"]
    client.get(path_of(links(html_of(cy_email), "v")[0]))
    return message, Conversation.objects.get(name="Welcome")


def test_the_figures_per_message_match_the_story(story):
    message, conversation = story
    summary = message_summaries(conversation)[message.pk]
    assert (summary.sent, summary.delivered, summary.bounced) == (3, 2, 1)
    assert (summary.opened, summary.clicked, summary.unsubscribed) == (1, 2, 1)
    assert (summary.converted, summary.revenue, summary.average_order_value) == (1, 50.0, 50.0)
    total = conversation_summary(conversation)
    assert (total.sent, total.opened, total.converted, total.revenue) == (3, 1, 1, 50.0)


def test_another_conversations_activity_is_not_counted(story, shop):
    other = Conversation.objects.create(list=shop, name="Other")
    assert message_summaries(other) == {}


def test_the_conversation_page_shows_the_report(story, admin_client):
    _, conversation = story
    page = admin_client.get(f"/admin/conductor/conversation/{conversation.pk}/change/")
    html = page.content.decode()
    assert '<table class="conductor-report">' in html
    assert "<th>All messages</th>" in html
    assert '<td class="revenue">50.0</td>' in html
