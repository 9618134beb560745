"""A contact's story: its activity in words, newest first, a page at a time,
with the lines other apps add (the conversations it entered).

Pages are cut by activity, not by number: the next page starts before the
last activity shown (its time, then its id), so the thousandth page of a
contact with 100,000 activities is as quick as the first (one range of the
``activity_contact_recent`` index, never an OFFSET).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q

from contacts.activity_words import StoryLine, sentences, story_sources
from contacts.models import Activity, Contact

#: Activities on the contact's own page; the story's own pages show more.
RECENT = 50
PAGE = 100


@dataclass(frozen=True)
class StoryPage:
    lines: list[StoryLine]
    #: The last activity shown, from which the next (older) page starts; None at the oldest.
    older_than: Activity | None


def story_page(
    *,
    contact: Contact,
    user: User | AnonymousUser,
    before: Activity | None = None,
    size: int = PAGE,
) -> StoryPage:
    """Up to ``size`` activities of ``contact`` older than ``before`` (the
    newest when None), in words, with the other apps' lines of the same
    stretch of time that ``user`` may see."""
    rows = contact.activities.order_by("-occurred_at", "-id")
    if before is not None:
        # The first condition alone is the index range; the second cuts the
        # activities of the same moment already shown.
        rows = rows.filter(occurred_at__lte=before.occurred_at).filter(
            Q(occurred_at__lt=before.occurred_at)
            | Q(occurred_at=before.occurred_at, id__lt=before.pk)
        )
    page = list(rows[: size + 1])
    more = len(page) > size
    page = page[:size]
    lines = [
        StoryLine(at=activity.occurred_at, text=text)
        for activity, text in zip(page, sentences(page), strict=True)
    ]
    # The other lines of the stretch this page covers: up to where the newer
    # page stopped, and back to this page's oldest activity (or to the start).
    until = before.occurred_at if before is not None else None
    after = page[-1].occurred_at if more else None
    for source in story_sources():
        if user.has_perm(source.permission):
            lines.extend(source.lines(contact, after, until))
    lines.sort(key=lambda line: line.at, reverse=True)  # stable: same-time activities keep order
    return StoryPage(lines=lines, older_than=page[-1] if more else None)
