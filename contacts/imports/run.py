"""Running an import: claim it, process it in one transaction, record the outcome.

Safe with many workers: a worker claims an import by a compare-and-swap on
its status, under a lease; everything the import writes, and its completion,
commit together. A worker that dies mid-import leaves nothing behind, and once
its lease has run out another worker takes the import over from the start.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.imports.models import SUMMARY_COUNTS, ImportStatus, ListImport
from contacts.imports.portable import PortableImport
from contacts.imports.rows import uses_profile
from contacts.imports.source import ImportFileError, Layout, check_text, plan_layout, read_header

logger = logging.getLogger(__name__)


class ImportTakenOver(RuntimeError):
    """Another worker claimed this import after our lease ran out."""


def lease() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.IMPORT_LEASE_SECONDS)


def claim(import_id: int) -> str | None:
    """Take the import for this worker; returns the claim token, or None when
    it is done or another worker holds a live lease on it."""
    token = uuid.uuid4().hex
    now = timezone.now()
    taken = ListImport.objects.filter(
        Q(status=ImportStatus.DATA_UPLOADED)
        | Q(status=ImportStatus.PROCESSING_DATA, lease_expires_at__lt=now),
        pk=import_id,
    ).update(
        status=ImportStatus.PROCESSING_DATA,
        claim_token=token,
        started_at=now,
        lease_expires_at=now + lease(),
        error="",
    )
    return token if taken else None


def layout_for(list_import: ListImport, header: list[str]) -> Layout:
    """The columns this import will read from a file with ``header``; raises
    ImportFileError naming a column or field that cannot be resolved."""
    return plan_layout(
        email_list=list_import.list,
        header=header,
        has_header=list_import.has_header,
        email_column=list_import.email_column,
        field_map=list_import.field_map,
        event_map=list_import.event_map,
        use_profile=uses_profile(list_import.import_type),
    )


def run_import(
    import_id: int,
    *,
    progress: Callable[[int], object] | None = None,
    engine: str | None = None,
) -> ListImport:
    """Process one import if this worker can claim it; returns it as it stands
    afterwards. ``engine`` forces ``"portable"`` or ``"postgres"``."""
    token = claim(import_id)
    if token is None:
        return ListImport.objects.get(pk=import_id)
    list_import = ListImport.objects.select_related("list").get(pk=import_id)
    try:
        with transaction.atomic():
            tally = _process(list_import, progress, engine)
            _complete(list_import, token, tally)
    except ImportFileError as error:
        _fail(list_import, token, str(error))
    except ImportTakenOver:
        logger.warning(
            "Import %s was taken over by another worker; its work was rolled back.", import_id
        )
    except Exception as error:
        logger.exception("Import %s failed", import_id)
        _fail(list_import, token, f"The import failed unexpectedly and wrote nothing: {error}")
        raise
    list_import.refresh_from_db()
    return list_import


def _process(list_import: ListImport, progress, engine: str | None):
    path = Path(list_import.file.path)
    if not path.is_file():
        raise ImportFileError(
            f"The uploaded file {list_import.file.name} is gone from MEDIA_ROOT; upload it again."
        )
    check_text(path)
    header = read_header(path, delimiter=list_import.delimiter)
    layout = layout_for(list_import, header)
    engine = engine or ("postgres" if connection.vendor == "postgresql" else "portable")
    if engine == "postgres":
        from contacts.imports.postgres import PostgresImport

        return PostgresImport(list_import, layout, path, progress).run()
    return PortableImport(list_import, layout, path, progress).run()


def _complete(list_import: ListImport, token: str, tally) -> None:
    counts = {column: tally.get(result, 0) for result, column in SUMMARY_COUNTS.items()}
    finished = ListImport.objects.filter(pk=list_import.pk, claim_token=token).update(
        status=ImportStatus.PROCESSING_COMPLETED,
        finished_at=timezone.now(),
        lease_expires_at=None,
        processed_count=sum(counts.values()),
        invalid_value_count=tally.get("invalid_values", 0),
        **counts,
    )
    if not finished:
        raise ImportTakenOver(list_import.pk)


def _fail(list_import: ListImport, token: str, message: str) -> None:
    # Only while still processing: an error raised after the import committed
    # (by an on-commit callback) must not relabel its written contacts "failed".
    ListImport.objects.filter(
        pk=list_import.pk, claim_token=token, status=ImportStatus.PROCESSING_DATA
    ).update(
        status=ImportStatus.PROCESSING_FAILED,
        finished_at=timezone.now(),
        lease_expires_at=None,
        error=message,
    )
