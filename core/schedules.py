"""The django-q2 schedules that sweep up background work every minute.

A task is only ever a shortcut (``contacts.queueing``): each app's background
work is also done by a sweep schedule. An app declares its sweep once, as a
:class:`SweepSchedule`, and connects it in its ``ready()``; after every
``migrate`` (and ``flush``) exactly one schedule of that name is left, as
declared, however often it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db.models.signals import post_migrate


@dataclass(frozen=True)
class SweepSchedule:
    """A django-q2 schedule ``name`` running ``func`` (a dotted path) every
    ``minutes``. Called as a ``post_migrate`` receiver, it keeps exactly one."""

    name: str
    func: str
    minutes: int = 1

    def connect(self, app_config: AppConfig) -> None:
        """Keep the schedule after every migrate of ``app_config``'s app."""
        post_migrate.connect(
            self,
            sender=app_config,
            weak=False,  # held by the signal, even when declared in ``ready()`` only
            dispatch_uid=f"{app_config.label}.schedule.{self.name}",
        )

    def __call__(self, *, using: str, apps: Apps = global_apps, **kwargs: Any) -> None:
        """Leave exactly one schedule as declared (idempotent)."""
        keep_one_schedule(
            name=self.name, func=self.func, minutes=self.minutes, using=using, apps=apps
        )


def keep_one_schedule(*, name: str, func: str, minutes: int, using: str, apps: Apps) -> None:
    """Leave exactly one django-q2 schedule ``name`` running ``func`` every ``minutes``."""
    from django_q.models import Schedule as LiveSchedule  # not importable while apps load

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
        "minutes": minutes,
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
