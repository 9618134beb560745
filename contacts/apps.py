from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db.models.signals import post_migrate

#: The django-q2 schedule that runs the import sweep (contacts.imports.tasks.resume_imports).
RESUME_IMPORTS_SCHEDULE = "resume-imports"
RESUME_IMPORTS_FUNC = "contacts.imports.tasks.resume_imports"
#: The schedule that re-queues lost confirmation emails (contacts.optin.tasks.resume_confirmations).
RESUME_CONFIRMATIONS_SCHEDULE = "resume-opt-in-confirmations"
RESUME_CONFIRMATIONS_FUNC = "contacts.optin.tasks.resume_confirmations"


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        post_migrate.connect(
            schedule_import_sweep, sender=self, dispatch_uid="contacts.schedule_import_sweep"
        )
        post_migrate.connect(
            schedule_confirmation_sweep,
            sender=self,
            dispatch_uid="contacts.schedule_confirmation_sweep",
        )


def schedule_import_sweep(*, using: str, apps: Apps = global_apps, **kwargs: Any) -> None:
    """After every migrate (and flush), leave exactly one schedule running the
    import sweep every minute; running it again changes nothing."""
    keep_one_schedule(
        name=RESUME_IMPORTS_SCHEDULE, func=RESUME_IMPORTS_FUNC, using=using, apps=apps
    )


def schedule_confirmation_sweep(*, using: str, apps: Apps = global_apps, **kwargs: Any) -> None:
    """After every migrate (and flush), leave exactly one schedule running the
    opt-in confirmation sweep every minute; running it again changes nothing."""
    keep_one_schedule(
        name=RESUME_CONFIRMATIONS_SCHEDULE, func=RESUME_CONFIRMATIONS_FUNC, using=using, apps=apps
    )


def keep_one_schedule(*, name: str, func: str, using: str, apps: Apps) -> None:
    """Leave exactly one django-q2 schedule ``name`` running ``func`` every minute."""
    from django_q.models import Schedule as LiveSchedule

    try:
        # The migrated state, not the live model: django_q's tables may not exist yet
        # (``migrate contacts`` on a fresh database does not migrate django_q).
        # ``flush`` sends no state: the live models then.
        Schedule = apps.get_model("django_q", "Schedule")
    except LookupError:
        return
    wanted = {
        "func": func,
        "schedule_type": LiveSchedule.MINUTES,
        "minutes": 1,
        "repeats": -1,
    }
    schedules = Schedule.objects.using(using).filter(name=name).order_by("pk")
    first = schedules.first()
    if first is None:
        Schedule.objects.using(using).create(name=name, **wanted)
        return
    # Two deployments migrating at once can each create one; keep the oldest.
    schedules.exclude(pk=first.pk).delete()
    Schedule.objects.using(using).filter(pk=first.pk).update(**wanted)
