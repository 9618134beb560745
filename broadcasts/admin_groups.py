"""A split test's groups as its page shows them: each group's message, share
of the audience, emails sent and opened / clicked rates (shares of the
group's sent emails, as the judging counts them), the leader or winner
marked, the decision in words ("Group B won with 12.4% clicks against
8.1%; sent to the remaining 8,000 contacts.") and the remainder's progress."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils import timezone

from broadcasts.admin_display import count, duration, percent, when
from broadcasts.admin_progress import Progress, is_due, progress
from broadcasts.audiences import REMAINDER
from broadcasts.models import Broadcast, BroadcastStatus, SplitTest, SplitTestStatus
from broadcasts.reports import summary

#: How often the page asks again, in seconds: while emails go, and while
#: only the judging is awaited.
SENDING_REFRESH, WAITING_REFRESH = 3, 30


@dataclass
class GroupRow:
    letter: str
    url: str
    message: str
    message_url: str
    share: str
    status: str
    recipients: str
    sent: int
    opened: str
    clicked: str
    rate: float
    mark: str  # "Winner", "Leading" or ""

    @property
    def sent_shown(self) -> str:
        return f"{self.sent:,}"


def groups_context(split_test: SplitTest, now: datetime.datetime | None = None) -> dict[str, Any]:
    """What ``groups.html`` shows of ``split_test``, counted now."""
    now = now or timezone.now()
    broadcasts = list(
        split_test.broadcasts.select_related("list", "message").order_by("split_group", "pk")
    )
    groups = [b for b in broadcasts if b.split_group != REMAINDER]
    remainder = next((b for b in broadcasts if b.split_group == REMAINDER), None)
    rows = [_row(split_test, group, len(groups)) for group in groups]
    _mark(split_test, rows)
    sending = any(b.status == BroadcastStatus.SENDING or is_due(b, now) for b in broadcasts)
    refresh = 0
    if split_test.status in (SplitTestStatus.TESTING, SplitTestStatus.SENDING_WINNER) or (
        split_test.status == SplitTestStatus.SCHEDULED
        and split_test.send_at is not None
        and split_test.send_at <= now
    ):
        refresh = SENDING_REFRESH if sending else WAITING_REFRESH
    return {
        "rows": rows,
        "metric": split_test.get_winner_metric_display().lower(),
        "share_words": _share_words(split_test, len(groups)),
        "decision": decision(split_test, rows, remainder),
        "waiting": _waiting(split_test, groups, now),
        "remainder": remainder,
        "remainder_progress": _remainder_progress(remainder),
        "remainder_url": (
            reverse("admin:broadcasts_broadcast_change", args=[remainder.pk]) if remainder else ""
        ),
        "refresh_seconds": refresh,
    }


def _row(split_test: SplitTest, group: Broadcast, groups: int) -> GroupRow:
    figures = summary(group)
    judged = figures.clicked if split_test.winner_metric == "Clicks" else figures.opened
    share = split_test.test_share / groups if groups else 0
    return GroupRow(
        letter=group.split_group,
        url=reverse("admin:broadcasts_broadcast_change", args=[group.pk]),
        message=group.message.name,
        message_url=reverse("admin:emails_message_change", args=[group.message_id]),
        share=f"{share:.3g}%",
        status=group.get_status_display(),
        recipients=f"{group.recipients:,}" if group.started_at else "—",
        sent=figures.sent,
        opened=percent(figures.opened, figures.sent),
        clicked=percent(figures.clicked, figures.sent),
        rate=judged / figures.sent if figures.sent else -1.0,
        mark="",
    )


def _mark(split_test: SplitTest, rows: list[GroupRow]) -> None:
    """The winner once chosen; before, the leader, as the judging would
    choose now (the larger rate; on a tie, the earlier group)."""
    winner = split_test.winner
    if winner is not None:
        for row in rows:
            if row.letter == winner.split_group:
                row.mark = "Winner"
        return
    sent = [row for row in rows if row.sent]
    if sent and split_test.status not in (SplitTestStatus.CANCELLED, SplitTestStatus.DRAFT):
        best = max(sent, key=lambda row: (row.rate, -ord(row.letter[0])))
        best.mark = "Leading"


def decision(split_test: SplitTest, rows: list[GroupRow], remainder: Broadcast | None) -> str:
    """The winner and what became of the rest of the audience, in words."""
    if split_test.winner_id is None:
        if split_test.status == SplitTestStatus.CANCELLED and split_test.started_at:
            return "Cancelled before a winner was chosen."
        return ""
    metric = "clicks" if split_test.winner_metric == "Clicks" else "opens"
    winner = next((row for row in rows if row.mark == "Winner"), None)
    if winner is None:
        return ""
    others = [row for row in rows if row is not winner]
    rate = winner.clicked if metric == "clicks" else winner.opened
    if len(others) == 1:
        against = others[0].clicked if metric == "clicks" else others[0].opened
    else:
        against = " and ".join(
            f"{row.clicked if metric == 'clicks' else row.opened} (group {row.letter})"
            for row in others
        )
    said = f"Group {winner.letter} won with {rate} {metric} against {against}"
    return f"{said}; {_rest(split_test, remainder)}."


def _rest(split_test: SplitTest, remainder: Broadcast | None) -> str:
    if remainder is None:
        if split_test.test_share >= 100:
            return "the groups were the whole audience, so no one else gets it"
        return "the rest of the audience gets it next"
    status = remainder.status
    if status == BroadcastStatus.SENT:
        return f"sent to the remaining {count(remainder.recipients, 'contact')}"
    if status == BroadcastStatus.CANCELLED:
        return "sending it to the rest was cancelled"
    if status == BroadcastStatus.SENDING:
        chosen = "" if remainder.chosen_all else " so far"
        return f"being sent to the remaining {count(remainder.recipients, 'contact')}{chosen}"
    return "it is about to be sent to the rest of the audience"


def _share_words(split_test: SplitTest, groups: int) -> str:
    if not groups:
        return ""
    each = split_test.test_share / groups
    if split_test.test_share >= 100:
        return f"Each of the {groups} groups gets {each:.3g}% of the audience; there is no rest."
    return (
        f"Each of the {groups} groups gets {each:.3g}% of the audience; the other "
        f"{100 - split_test.test_share}% get the winner."
    )


def _waiting(split_test: SplitTest, groups: list[Broadcast], now: datetime.datetime) -> str:
    """When the winner is chosen, while that is still to come."""
    if split_test.winner_id is not None or split_test.decide_at is None:
        return ""
    if split_test.status not in (SplitTestStatus.SCHEDULED, SplitTestStatus.TESTING):
        return ""
    metric = split_test.get_winner_metric_display().lower()
    at = when(split_test.decide_at, split_test.list)
    if split_test.decide_at > now:
        left = duration(split_test.decide_at - now)
        return f"The winner is chosen by {metric} at {at} (in {left})."
    if any(g.status not in (BroadcastStatus.SENT, BroadcastStatus.CANCELLED) for g in groups):
        return f"The winner is chosen by {metric} once every group's emails are out."
    return f"The winner is chosen by {metric} within a minute."


def _remainder_progress(remainder: Broadcast | None) -> Progress | None:
    if remainder is None or (remainder.started_at is None and not is_due(remainder)):
        return None
    return progress(remainder)
