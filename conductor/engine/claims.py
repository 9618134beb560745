"""Claiming due enrollments in batches that no two workers share."""

from __future__ import annotations

import datetime
import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conductor.models import Conversation, ConversationStatus, Enrollment, EnrollmentState
from core.claims import in_index_order, lease


def paused_conversations():
    """The ids of paused conversations: their contacts keep their due times
    and are not claimed until the conversation is resumed."""
    return Conversation.objects.filter(status=ConversationStatus.PAUSED).values("pk")


def _due(now: datetime.datetime):
    # ``NOT IN (paused ids)`` rather than a join: PostgreSQL computes the
    # handful of paused ids once (a hashed subplan) and still walks the
    # ``enrollment_due`` index in due order; a join would also make
    # ``FOR UPDATE`` lock the conversation row, and workers skip each other.
    # The cost: a claim steps over the paused conversations' contacts whose
    # time has come (about a microsecond each), until they are resumed.
    return (
        Enrollment.objects.filter(state=EnrollmentState.ACTIVE, due_at__lte=now)
        .filter(Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lt=now))
        .exclude(conversation_id__in=paused_conversations())
    )


def any_due() -> bool:
    """Whether any enrollment of a conversation not paused is due and unclaimed."""
    # In due order, as the claim walks: PostgreSQL then reads the due part of
    # the ``enrollment_due`` index. A bare EXISTS lets it guess that due rows
    # are plentiful and scan the whole table, which finds nothing when the
    # only due contacts are paused ones.
    return _due(timezone.now()).order_by("due_at").values_list("pk", flat=True).first() is not None


def claim_due(limit: int) -> str | None:
    """Claim up to ``limit`` due enrollments, oldest first, leaving out those
    of paused conversations; returns the claim's token, or None when nothing
    is due.

    On PostgreSQL, ``SKIP LOCKED`` lets workers claim side by side, and the
    claim is re-checked on the locked row, so two never take the same
    enrollment. SQLite runs one writing transaction at a time (IMMEDIATE).
    """
    now = timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        # Along the ``enrollment_due`` index, stopping at the limit, also when
        # an import has just entered a million contacts the statistics
        # do not know of yet (``in_index_order``).
        with in_index_order(Enrollment):
            ids = list(
                _due(now)
                .order_by("due_at")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:limit]
            )
        if not ids:
            return None
        Enrollment.objects.filter(pk__in=ids).update(
            claim_token=token, claim_expires_at=now + lease()
        )
    return token
