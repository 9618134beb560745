"""A conversation's report (the ConversationSummary figures per message),
against a hand-counted story of three contacts."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from conductor.reports import conversation_summary, link_clicks, message_summaries
from conductor.selectors import conversation_email_activity
from tests.factories import ConversationFactory
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
    other = ConversationFactory(list=shop)
    assert message_summaries(other) == {}


def test_the_conversation_page_shows_the_report(story, admin_client):
    _, conversation = story
    page = admin_client.get(f"/admin/conductor/conversation/{conversation.pk}/change/")
    html = page.content.decode()
    assert '<table class="conductor-report">' in html
    assert "<th>All messages</th>" in html
    assert '<td class="revenue rc-number">50.00</td>' in html


if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):

    def test_the_activity_queries_can_read_only_their_conversations_rows(story):
        """The partial expression index (migration conductor.0005) matches how
        the ORM spells the report's filter: with millions of a list's email
        activities, a report reads its own conversation's rows only."""
        message, conversation = story
        with CaptureQueriesContext(connection) as queries:
            message_summaries(conversation)
            link_clicks(conversation, message.pk)
        reads = [q["sql"] for q in queries if '"contacts_activity"' in q["sql"]]
        assert len(reads) == 2
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # the test tables are tiny
            for sql in reads:
                cursor.execute(f"EXPLAIN {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
                assert "activity_conversation" in plan, plan
            # The REST report resources filter the same way.
            assert (
                "activity_conversation"
                in conversation_email_activity(conversation=conversation).explain()
            )
