"""Pausing, resuming, closing and reopening a conversation, with Listrak's
meaning of its statuses (SPEC section 4):

- Published: new contacts enter by its triggers; those inside move on.
- Paused: no new contact enters and none inside moves. Their due times
  keep: they go on when it is resumed, and a contact whose Wait ended while
  it was paused moves at once then. Emails written before the pause are
  still sent (a contact waiting for one then waits at its next step).
- Closed: no new contact enters; those inside finish as usual. Reopening
  lets new contacts in again.

Entry (``conductor.engine.entry``) takes only published conversations, and
the claims (``conductor.engine.claims``, re-checked by the runner) leave out
paused ones. Publishing a new version keeps a paused or closed conversation
as it is (``conductor.versions.publish``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from conductor.engine.tasks import queue_run
from conductor.models import Conversation, ConversationStatus

UNPUBLISHED = ConversationStatus.UNPUBLISHED
PUBLISHED = ConversationStatus.PUBLISHED
PAUSED = ConversationStatus.PAUSED
CLOSED = ConversationStatus.CLOSED

#: What each status means, in a sentence, for the admin.
MEANINGS: dict[str, str] = {
    UNPUBLISHED: "Not published yet: no contact enters. Publish it to let contacts in.",
    PUBLISHED: "New contacts enter by its triggers; contacts inside move on.",
    PAUSED: (
        "No new contact enters and no contact inside moves: their due times keep, and they go "
        "on when it is resumed. Emails already queued are still sent."
    ),
    CLOSED: "No new contact enters; contacts inside finish as usual.",
}


def pause(conversation: Conversation) -> Conversation:
    """Stop a published conversation from taking contacts and from moving
    those inside; a claim already running finishes."""
    return _change(
        conversation,
        PAUSED,
        refusals={
            UNPUBLISHED: "“{name}” is not published: publish it before pausing it.",
            PAUSED: "“{name}” is already paused.",
            CLOSED: "“{name}” is closed: reopen it before pausing it.",
        },
    )


def resume(conversation: Conversation) -> Conversation:
    """Let a paused conversation take contacts and move them again; those
    whose due time passed while it was paused move at once."""
    return _change(
        conversation,
        PUBLISHED,
        refusals={
            UNPUBLISHED: "“{name}” is not paused: it is not published yet.",
            PUBLISHED: "“{name}” is not paused: its contacts are already moving.",
            CLOSED: "“{name}” is closed, not paused: reopen it to let new contacts in.",
        },
    )


def close(conversation: Conversation) -> Conversation:
    """Take no new contacts; those inside finish as usual (a paused one's
    move again)."""
    return _change(
        conversation,
        CLOSED,
        refusals={
            UNPUBLISHED: "“{name}” is not published: no contact is inside, there is nothing to "
            "close.",
            CLOSED: "“{name}” is already closed.",
        },
    )


def reopen(conversation: Conversation) -> Conversation:
    """Let new contacts into a closed conversation again."""
    return _change(
        conversation,
        PUBLISHED,
        refusals={
            UNPUBLISHED: "“{name}” is not closed: it is not published yet.",
            PUBLISHED: "“{name}” is not closed: it already takes new contacts.",
            PAUSED: "“{name}” is paused, not closed: resume it instead.",
        },
    )


def _change(conversation: Conversation, to: str, *, refusals: dict[str, str]) -> Conversation:
    """Set ``to`` unless the status now in the database is one of ``refusals``
    (raised as a ValidationError in words). Contacts due in a conversation
    that was paused are run once this commits, not at the next sweep."""
    with transaction.atomic():
        # The row lock orders status changes and publishing of one conversation.
        current = Conversation.objects.select_for_update().get(pk=conversation.pk)
        refusal = refusals.get(current.status)
        if refusal is not None:
            raise ValidationError(refusal.format(name=current.name), code="status_change_refused")
        now = timezone.now()
        Conversation.objects.filter(pk=current.pk).update(status=to, updated_at=now)
        if current.status == PAUSED:
            transaction.on_commit(queue_run)
    conversation.status, conversation.updated_at = to, now
    return conversation
