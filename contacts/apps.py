from __future__ import annotations

import logging
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from core.schedules import SweepSchedule

logger = logging.getLogger(__name__)
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's error code for a lock_timeout

#: The django-q2 schedule that runs the import sweep (contacts.imports.tasks.resume_imports).
RESUME_IMPORTS_SCHEDULE = "resume-imports"
RESUME_IMPORTS_FUNC = "contacts.imports.tasks.resume_imports"
#: The schedule that re-queues lost confirmation emails (contacts.optin.tasks.resume_confirmations).
RESUME_CONFIRMATIONS_SCHEDULE = "resume-opt-in-confirmations"
RESUME_CONFIRMATIONS_FUNC = "contacts.optin.tasks.resume_confirmations"

schedule_import_sweep = SweepSchedule(
    name=RESUME_IMPORTS_SCHEDULE, func=RESUME_IMPORTS_FUNC, minutes=1
)
schedule_confirmation_sweep = SweepSchedule(
    name=RESUME_CONFIRMATIONS_SCHEDULE, func=RESUME_CONFIRMATIONS_FUNC, minutes=1
)
#: The schedule that keeps the activity log's monthly partitions (contacts.partitions).
ACTIVITY_PARTITIONS_SCHEDULE = "activity-partitions"
ACTIVITY_PARTITIONS_FUNC = "contacts.partitions.maintain"
schedule_activity_partitions = SweepSchedule(
    name=ACTIVITY_PARTITIONS_SCHEDULE, func=ACTIVITY_PARTITIONS_FUNC, minutes=60
)


def ensure_activity_partitions(*, using: str, **kwargs: Any) -> None:
    """After every migrate: a new database has its months' partitions at once."""
    from django.db import OperationalError

    from contacts.partitions import ensure_partitions

    try:
        ensure_partitions(using=using)
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        # The table was busy past the lock timeout: the hourly task makes them;
        # rows meanwhile wait in the DEFAULT partition.
        logger.warning("The activity log's partitions were not made after migrate: %s", error)


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        from contacts import own_activity_words

        schedule_import_sweep.connect(self)
        schedule_confirmation_sweep.connect(self)
        schedule_activity_partitions.connect(self)
        post_migrate.connect(
            ensure_activity_partitions, sender=self, dispatch_uid="contacts.activity_partitions"
        )
        own_activity_words.register()  # its activity in words, on the contact's page
