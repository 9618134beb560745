"""Claiming due enrollments in batches that no two workers share."""

from __future__ import annotations

import datetime
import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conductor.models import Enrollment, EnrollmentState
from core.claims import lease


def _due(now: datetime.datetime):
    return Enrollment.objects.filter(state=EnrollmentState.ACTIVE, due_at__lte=now).filter(
        Q(claim_expires_at__isnull=True) | Q(claim_expires_at__lt=now)
    )


def any_due() -> bool:
    """Whether any enrollment is due and unclaimed."""
    return _due(timezone.now()).exists()


def claim_due(limit: int) -> str | None:
    """Claim up to ``limit`` due enrollments, oldest first; returns the claim's
    token, or None when nothing is due.

    On PostgreSQL, ``SKIP LOCKED`` lets workers claim side by side, and the
    claim is re-checked on the locked row, so two never take the same
    enrollment. SQLite runs one writing transaction at a time (IMMEDIATE).
    """
    now = timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
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
