"""A conversation's report (the ConversationSummary figures per message),
against a hand-counted story of three contacts."""

from __future__ import annotations

import pytest

from conductor.models import Conversation
from conductor.reports import conversation_summary, message_summaries
from tests.tracking_helpers import engagement_story

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(shop, smtp_server, client, settings):
    return engagement_story(shop, smtp_server, client, settings)


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
