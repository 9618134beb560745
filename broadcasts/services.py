"""Writing broadcasts and split tests: every write the admin and the API make
goes through these, so both apply the same rules. Bad input raises a
``ValidationError`` naming the problem and changes nothing."""

from __future__ import annotations

import datetime
import re
import string
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape

from broadcasts.audiences import BUCKETS, check_criteria
from broadcasts.models import (
    Broadcast,
    BroadcastStatus,
    Campaign,
    SavedAudience,
    SavedMessage,
    SplitTest,
    SplitTestMetric,
    SplitTestStatus,
)
from broadcasts.sending import cancel_sending, queue_sending
from emails.models import CONTENT_FIELDS, Message
from emails.template_checks import described_problems, merge_fields_used
from lists.models import List, ProfileField

#: Merge fields a broadcast cannot fill: no conversation brings its contacts
#: in (``trigger``) or gives them a coupon.
NOT_IN_A_BROADCAST = {
    "trigger": "{{ trigger }} (what brought a contact into a conversation)",
    "coupon": "{{ coupon }} (given by a conversation's Set Coupon action)",
}
MAX_GROUPS = 5
CHANGEABLE = (BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED)


def create_broadcast(
    *,
    email_list: List,
    name: str,
    message: Message,
    criteria: dict[str, Any] | None = None,
    saved_audience: SavedAudience | None = None,
    campaign: Campaign | None = None,
    external_campaign_id: str = "",
    google_analytics_campaign_name: str = "",
    created_by: Any = None,
) -> Broadcast:
    """A Draft broadcast of ``message`` to the list's subscribed contacts, or
    to those ``criteria`` or ``saved_audience`` choose."""
    _check_parts(email_list, message=message, saved_audience=saved_audience, campaign=campaign)
    if criteria and saved_audience is not None:
        raise ValidationError(
            {"criteria": "Choose the audience with criteria or a saved audience, not both."}
        )
    broadcast = Broadcast(
        list=email_list,
        name=name.strip() or message.name,
        message=message,
        criteria=_criteria(email_list, criteria),
        saved_audience=saved_audience,
        campaign=campaign,
        external_campaign_id=external_campaign_id.strip(),
        google_analytics_campaign_name=google_analytics_campaign_name.strip(),
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    broadcast.full_clean(exclude=["message", "list", "saved_audience", "campaign"])
    broadcast.save()
    return broadcast


def update_broadcast(
    *,
    broadcast: Broadcast,
    name: str,
    message: Message,
    criteria: dict[str, Any] | None = None,
    saved_audience: SavedAudience | None = None,
    campaign: Campaign | None = None,
    external_campaign_id: str = "",
    google_analytics_campaign_name: str = "",
) -> bool:
    """Change a broadcast that has not started (Draft or Scheduled); a
    scheduled one only to a message it can send. Returns False, changing
    nothing, when a worker started it (or staff cancelled it) meanwhile."""
    email_list = broadcast.list
    _check_parts(email_list, message=message, saved_audience=saved_audience, campaign=campaign)
    if criteria and saved_audience is not None:
        raise ValidationError(
            {"criteria": "Choose the audience with criteria or a saved audience, not both."}
        )
    if broadcast.status == BroadcastStatus.SCHEDULED:
        check_sendable(message)
    changed = Broadcast.objects.filter(pk=broadcast.pk, status__in=CHANGEABLE).update(
        name=name.strip() or message.name,
        message=message,
        criteria=_criteria(email_list, criteria),
        saved_audience=saved_audience,
        campaign=campaign,
        external_campaign_id=external_campaign_id.strip(),
        google_analytics_campaign_name=google_analytics_campaign_name.strip(),
    )
    broadcast.refresh_from_db()
    return bool(changed)


def schedule_broadcast(
    *, broadcast: Broadcast, send_at: datetime.datetime | None = None
) -> Broadcast:
    """Send ``broadcast`` at ``send_at`` (now when not given): Scheduled.
    Refused, naming the problem, when its message cannot be sent as a
    broadcast or it was already started or cancelled."""
    send_at = send_at or timezone.now()
    if timezone.is_naive(send_at):
        raise ValidationError({"send_at": "The send time needs a time zone."})
    check_sendable(broadcast.message)
    _criteria(broadcast.list, broadcast.criteria)
    if broadcast.saved_audience is not None:
        _criteria(broadcast.list, broadcast.saved_audience.criteria)
    with transaction.atomic():
        changed = Broadcast.objects.filter(pk=broadcast.pk, status__in=CHANGEABLE).update(
            status=BroadcastStatus.SCHEDULED, send_at=send_at
        )
        if not changed:
            broadcast.refresh_from_db(fields=["status"])
            raise ValidationError(
                f"“{broadcast}” is {broadcast.get_status_display().lower()}: "
                "only a draft or scheduled broadcast can be scheduled."
            )
        if send_at <= timezone.now() + datetime.timedelta(seconds=1):
            transaction.on_commit(queue_sending)
    broadcast.refresh_from_db()
    return broadcast


def unschedule_broadcast(*, broadcast: Broadcast) -> Broadcast:
    """A Scheduled broadcast back to Draft (not started yet)."""
    changed = Broadcast.objects.filter(pk=broadcast.pk, status=BroadcastStatus.SCHEDULED).update(
        status=BroadcastStatus.DRAFT, send_at=None
    )
    if not changed:
        broadcast.refresh_from_db(fields=["status"])
        raise ValidationError(
            f"“{broadcast}” is {broadcast.get_status_display().lower()}: "
            "only a scheduled broadcast goes back to draft."
        )
    broadcast.refresh_from_db()
    return broadcast


def cancel_broadcast(*, broadcast: Broadcast) -> int:
    """Cancel ``broadcast``: before it starts, nothing is sent; while it
    sends, the emails still waiting are not sent (those a worker already
    holds may still go). Returns how many waiting emails were stopped."""
    with transaction.atomic():
        changed = Broadcast.objects.filter(
            pk=broadcast.pk,
            status__in=[*CHANGEABLE, BroadcastStatus.SENDING],
        ).update(status=BroadcastStatus.CANCELLED, cancelled_at=timezone.now())
        if not changed:
            broadcast.refresh_from_db(fields=["status"])
            raise ValidationError(
                f"“{broadcast}” is {broadcast.get_status_display().lower()}: "
                "it can no longer be cancelled."
            )
        stopped = cancel_sending(broadcast)
    broadcast.refresh_from_db()
    return stopped


def check_sendable(message: Message) -> None:
    """Refuse, in words, a message a broadcast cannot send: one whose
    templates have problems, or that uses a merge field only a conversation
    fills."""
    fields = ProfileField.objects.filter(list_id=message.list_id)
    problems = described_problems(message, fields)
    used = merge_fields_used(message)
    problems += [
        f"It uses {words}, which a broadcast cannot fill."
        for name, words in NOT_IN_A_BROADCAST.items()
        if name in used
    ]
    if problems:
        raise ValidationError([f"Message “{message}”: {p}" for p in problems])


def copy_message(message: Message, *, name: str | None = None, preheader: str = "") -> Message:
    """A new message of the same list with ``message``'s content; with
    ``preheader``, that text first in its HTML body, hidden: what mail clients
    show after the subject (a text body starts with it too)."""
    content = {field: getattr(message, field) for field in CONTENT_FIELDS}
    if preheader.strip():
        content["html_body"] = with_preheader(content["html_body"], preheader.strip())
        if content["text_body"].strip():
            content["text_body"] = f"{preheader.strip()}\n\n{content['text_body']}"
    return Message.objects.create(
        list_id=message.list_id,
        name=name or message.name,
        reply_email=message.reply_email,
        **content,
    )


_BODY_START = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


def with_preheader(html: str, preheader: str) -> str:
    """``html`` with ``preheader`` as a hidden block at the start of its body."""
    if not html.strip():
        return html
    hidden = (
        '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">'
        f"{escape(preheader)}</div>"
    )
    found = _BODY_START.search(html)
    if found is None:
        return hidden + html
    return html[: found.end()] + hidden + html[found.end() :]


def send_saved_message(
    *,
    saved_message: SavedMessage,
    send_at: datetime.datetime | None = None,
    criteria: dict[str, Any] | None = None,
    saved_audience: SavedAudience | None = None,
    created_by: Any = None,
) -> Broadcast:
    """Send a saved message as a new broadcast (its own copy of the message,
    so editing the saved message later changes nothing sent)."""
    check_sendable(saved_message.message)
    with transaction.atomic():
        broadcast = create_broadcast(
            email_list=saved_message.list,
            name=saved_message.name,
            message=copy_message(saved_message.message, preheader=saved_message.preheader),
            criteria=criteria,
            saved_audience=saved_audience,
            campaign=saved_message.campaign,
            external_campaign_id=saved_message.external_campaign_id,
            created_by=created_by,
        )
        return schedule_broadcast(broadcast=broadcast, send_at=send_at)


# --- Split tests ----------------------------------------------------------------


def create_split_test(
    *,
    email_list: List,
    name: str,
    messages: Sequence[Message],
    test_share: int,
    winner_metric: str,
    decide_after: datetime.timedelta,
    criteria: dict[str, Any] | None = None,
    saved_audience: SavedAudience | None = None,
    campaign: Campaign | None = None,
    created_by: Any = None,
) -> SplitTest:
    """A Draft split test of two to five messages: group A, B… each a Draft
    broadcast of one message to an equal part of ``test_share`` percent of
    the audience."""
    messages = list(messages)
    if not 2 <= len(messages) <= MAX_GROUPS:
        raise ValidationError(
            {"messages": f"A split test has 2 to {MAX_GROUPS} messages, not {len(messages)}."}
        )
    if len({m.pk for m in messages}) != len(messages):
        raise ValidationError({"messages": "Each group needs a message of its own."})
    if not 1 <= int(test_share) <= 100:
        raise ValidationError({"test_share": "The test share is a percentage, 1 to 100."})
    if winner_metric not in SplitTestMetric.values:
        raise ValidationError(
            {"winner_metric": f"The winner is judged by {' or '.join(SplitTestMetric.values)}."}
        )
    if decide_after < datetime.timedelta(minutes=1):
        raise ValidationError({"decide_after": "Judge the groups at least a minute after."})
    with transaction.atomic():
        split_test = SplitTest.objects.create(
            list=email_list,
            name=name.strip() or messages[0].name,
            campaign=campaign,
            criteria=_criteria(email_list, criteria),
            saved_audience=saved_audience,
            test_share=int(test_share),
            winner_metric=winner_metric,
            decide_after=decide_after,
        )
        share = BUCKETS * int(test_share) // 100
        for index, message in enumerate(messages):
            group = create_broadcast(
                email_list=email_list,
                name=f"{split_test.name}: group {string.ascii_uppercase[index]}",
                message=message,
                criteria=criteria,
                saved_audience=saved_audience,
                campaign=campaign,
                created_by=created_by,
            )
            Broadcast.objects.filter(pk=group.pk).update(
                split_test=split_test,
                split_group=string.ascii_uppercase[index],
                bucket_from=share * index // len(messages),
                bucket_to=share * (index + 1) // len(messages),
            )
    return split_test


def schedule_split_test(
    *, split_test: SplitTest, send_at: datetime.datetime | None = None
) -> SplitTest:
    """Send the split test's groups at ``send_at`` (now when not given); the
    winner goes to the rest ``decide_after`` later."""
    send_at = send_at or timezone.now()
    with transaction.atomic():
        changed = SplitTest.objects.filter(
            pk=split_test.pk, status__in=[SplitTestStatus.DRAFT, SplitTestStatus.SCHEDULED]
        ).update(
            status=SplitTestStatus.SCHEDULED,
            send_at=send_at,
            decide_at=send_at + split_test.decide_after,
        )
        if not changed:
            raise ValidationError(
                f"“{split_test}” is {split_test.get_status_display().lower()}: "
                "only a draft or scheduled split test can be scheduled."
            )
        for group in split_test.broadcasts.all():
            schedule_broadcast(broadcast=group, send_at=send_at)
    split_test.refresh_from_db()
    return split_test


def cancel_split_test(*, split_test: SplitTest) -> None:
    """Cancel the split test and every group (and remainder) not yet sent."""
    with transaction.atomic():
        changed = SplitTest.objects.filter(
            pk=split_test.pk,
            status__in=[
                SplitTestStatus.DRAFT,
                SplitTestStatus.SCHEDULED,
                SplitTestStatus.TESTING,
                SplitTestStatus.SENDING_WINNER,
            ],
        ).update(status=SplitTestStatus.CANCELLED, finished_at=timezone.now())
        if not changed:
            split_test.refresh_from_db(fields=["status"])
            raise ValidationError(
                f"“{split_test}” is {split_test.get_status_display().lower()}: "
                "it can no longer be cancelled."
            )
        for group in split_test.broadcasts.filter(
            status__in=[*CHANGEABLE, BroadcastStatus.SENDING]
        ):
            cancel_broadcast(broadcast=group)
    split_test.refresh_from_db()


# --- Checks -----------------------------------------------------------------------


def _criteria(email_list: List, criteria: Any) -> dict[str, Any]:
    try:
        return check_criteria(email_list, criteria)
    except ValidationError as error:
        raise ValidationError({"criteria": error.messages}) from None


def _check_parts(
    email_list: List,
    *,
    message: Message,
    saved_audience: SavedAudience | None,
    campaign: Campaign | None,
) -> None:
    problems: dict[str, str] = {}
    if message.list_id != email_list.pk:
        problems["message"] = f"Message “{message}” is of another list."
    if saved_audience is not None and saved_audience.list_id != email_list.pk:
        problems["saved_audience"] = f"Saved audience “{saved_audience}” is of another list."
    if campaign is not None and campaign.list_id != email_list.pk:
        problems["campaign"] = f"Campaign “{campaign}” is of another list."
    if problems:
        raise ValidationError(problems)
