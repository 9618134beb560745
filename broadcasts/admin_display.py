"""Times, durations and statuses of broadcasts and split tests in words, as
the admin shows them: a send time in the list's own time zone ("Tue 9 Dec
09:00 Europe/London"), a wait ("1 hour 30 minutes"), what a status means."""

from __future__ import annotations

import datetime

from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from broadcasts.models import BroadcastStatus, SplitTestStatus
from lists.models import List

BROADCAST_MEANINGS = {
    BroadcastStatus.DRAFT: "Written, not yet scheduled: send it now or at a time of your choice.",
    BroadcastStatus.SCHEDULED: "Waiting for its send time.",
    BroadcastStatus.SENDING: "Its recipients are being chosen and their emails sent.",
    BroadcastStatus.SENT: "Every email has ended: sent, or not sent for the reason given.",
    BroadcastStatus.CANCELLED: "No email that was still waiting was sent.",
}
SPLIT_TEST_MEANINGS = {
    SplitTestStatus.DRAFT: "Written, not yet scheduled: send it now or at a time of your choice.",
    SplitTestStatus.SCHEDULED: "Waiting for its send time.",
    SplitTestStatus.TESTING: "Its groups were sent; the winner is chosen at the time set.",
    SplitTestStatus.SENDING_WINNER: "The winning message is being sent to the rest.",
    SplitTestStatus.FINISHED: "The groups' and the winner's emails have all ended.",
    SplitTestStatus.CANCELLED: "No email still waiting was sent, nor a winner to the rest.",
}


def when(moment: datetime.datetime | None, email_list: List) -> str:
    """``moment`` in ``email_list``'s time zone: "Tue 9 Dec 09:00
    Europe/London" (with the year when it is not this one)."""
    if moment is None:
        return "—"
    zone = email_list.zone
    local = timezone.localtime(moment, zone)
    this_year = timezone.localtime(timezone.now(), zone).year
    year = "" if local.year == this_year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year} {local:%H:%M} {email_list.time_zone}"


def short_when(moment: datetime.datetime, email_list: List) -> SafeString:
    """``moment`` for a list's column: "Tue 9 Dec 09:00 GMT", the zone's
    full name on hover."""
    local = timezone.localtime(moment, email_list.zone)
    year = (
        ""
        if local.year == timezone.localtime(timezone.now(), email_list.zone).year
        else f" {local.year}"
    )
    return format_html(
        '<span title="{}">{}</span>',
        when(moment, email_list),
        f"{local:%a} {local.day} {local:%b}{year} {local:%H:%M} {local.tzname()}",
    )


def duration(span: datetime.timedelta) -> str:
    """``span`` in words, to the minute: "2 days 4 hours", "45 minutes"."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if n
    ]
    return " ".join(parts) or "less than a minute"


def count(n: int, thing: str) -> str:
    """ "1 contact", "8,000 contacts"."""
    return f"{n:,} {thing}{'' if n == 1 else 's'}"


def percent(part: int, whole: int) -> str:
    """``part`` as a share of ``whole``, "12.4%"; "—" when there is no whole."""
    return f"{part / whole:.1%}" if whole else "—"
