"""Imports as django-q2 background work."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts.apps import RESUME_IMPORTS_SCHEDULE
from contacts.imports.models import ImportStatus, ListImport
from contacts.imports.run import run_import
from contacts.queueing import enqueue_now

#: An upload not picked up by its own task this long after it arrived is
#: taken by the sweep (its task was lost, say with a Redis restart).
FORGOTTEN_AFTER = datetime.timedelta(minutes=2)


def process_import(import_id: int) -> str:
    """The django-q2 task: process one import (a no-op if another worker has it)."""
    return run_import(import_id).status


def _queue(import_id: int) -> str | None:
    # An import may run as long as its lease; the broker may hand the task to a
    # second worker meanwhile, which then finds the import claimed and returns.
    return enqueue_now(
        process_import,
        import_id,
        task_name=f"import-{import_id}",
        sweep=RESUME_IMPORTS_SCHEDULE,
        timeout=settings.IMPORT_LEASE_SECONDS,
    )


def enqueue_import(list_import: ListImport) -> None:
    """Queue the import once the transaction that created it commits."""
    transaction.on_commit(lambda: _queue(list_import.pk))


def resume_imports() -> int:
    """The scheduled sweep: queue imports whose task was lost or whose worker
    died (its lease ran out), one task each. Returns how many it queued."""
    now = timezone.now()
    waiting = list(
        ListImport.objects.filter(
            Q(status=ImportStatus.DATA_UPLOADED, created_at__lt=now - FORGOTTEN_AFTER)
            | Q(status=ImportStatus.PROCESSING_DATA, lease_expires_at__lt=now)
        ).values_list("pk", flat=True)
    )
    queued = 0
    for import_id in waiting:
        if _queue(import_id) is None:
            break  # the broker is down: the next sweep queues the rest
        queued += 1
    return queued
