"""Judging split tests: once ``decide_at`` has come and every group has been
sent, the group whose emails were opened (or clicked) by the larger share of
their contacts wins, and a remainder broadcast sends its message, as it was
sent to its group, to the rest of the audience. A compare-and-swap on the
split test's status lets one worker judge it, however many run the sweep."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from broadcasts.audiences import REMAINDER
from broadcasts.models import (
    Broadcast,
    BroadcastStatus,
    SplitTest,
    SplitTestMetric,
    SplitTestStatus,
)
from broadcasts.reports import engaged_share
from broadcasts.sending import queue_sending
from contacts.models import ActivityKind

METRIC_KINDS = {
    SplitTestMetric.OPENS: ActivityKind.EMAIL_OPENED,
    SplitTestMetric.CLICKS: ActivityKind.EMAIL_CLICKED,
}
ENDED = (BroadcastStatus.SENT, BroadcastStatus.CANCELLED)


def decide_due(now: datetime.datetime | None = None) -> int:
    """Judge every split test whose time has come; returns how many."""
    now = now or timezone.now()
    SplitTest.objects.filter(status=SplitTestStatus.SCHEDULED, send_at__lte=now).update(
        status=SplitTestStatus.TESTING, started_at=now
    )
    decided = 0
    due = SplitTest.objects.filter(status=SplitTestStatus.TESTING, decide_at__lte=now)
    for pk in due.values_list("pk", flat=True):
        decided += decide(pk, now=now)
    return decided


def scores(split_test: SplitTest) -> list[tuple[Broadcast, int, int]]:
    """Each group with its engaged contacts and its sent emails, by group."""
    kind = METRIC_KINDS[SplitTestMetric(split_test.winner_metric)]
    groups = split_test.broadcasts.exclude(split_group=REMAINDER).order_by("split_group")
    return [(group, *engaged_share(group, kind)) for group in groups]


def decide(pk: int, *, now: datetime.datetime) -> int:
    """Judge split test ``pk`` if it is still Testing and its groups have all
    been sent: 1 when this call judged it."""
    with transaction.atomic():
        split_test = (
            SplitTest.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, status=SplitTestStatus.TESTING)
            .first()
        )
        if split_test is None:
            return 0  # another worker judges it
        groups = list(split_test.broadcasts.exclude(split_group=REMAINDER))
        if any(group.status not in ENDED for group in groups):
            return 0  # a group still sends: judged once every email of the test is out
        ranked = [
            (engaged / sent if sent else 0.0, -index, group)
            for index, (group, engaged, sent) in enumerate(scores(split_test))
            if group.status == BroadcastStatus.SENT
        ]
        if not ranked:
            split_test.status = SplitTestStatus.CANCELLED
            split_test.finished_at = now
            split_test.save(update_fields=["status", "finished_at"])
            return 1
        winner = max(ranked, key=lambda item: (item[0], item[1]))[2]
        split_test.winner = winner
        if split_test.test_share < 100:
            Broadcast.objects.create(
                list_id=split_test.list_id,
                name=f"{split_test.name}: the winner (group {winner.split_group}) to the rest",
                message_id=winner.message_id,
                content_id=winner.content_id,
                campaign_id=split_test.campaign_id,
                # The audience its groups were chosen from, as they froze it.
                criteria=min(groups, key=lambda g: g.split_group).criteria,
                saved_audience_id=split_test.saved_audience_id,
                split_test=split_test,
                split_group=REMAINDER,
                status=BroadcastStatus.SCHEDULED,
                send_at=timezone.now(),  # now, whatever moment the decision was judged at
                created_by_id=winner.created_by_id,
            )
            split_test.status = SplitTestStatus.SENDING_WINNER
            transaction.on_commit(queue_sending)
        else:
            split_test.status = SplitTestStatus.FINISHED
            split_test.finished_at = now
        split_test.save(update_fields=["winner", "status", "finished_at"])
    return 1


def finish_split_tests() -> int:
    """Split tests whose remainder has ended: Finished."""
    return SplitTest.objects.filter(
        status=SplitTestStatus.SENDING_WINNER,
        broadcasts__split_group=REMAINDER,
        broadcasts__status__in=ENDED,
    ).update(status=SplitTestStatus.FINISHED, finished_at=timezone.now())
