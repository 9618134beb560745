from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db.models.signals import post_migrate

#: The django-q2 schedule that advances due contacts every minute.
CONDUCTOR_SCHEDULE = "conductor"
CONDUCTOR_FUNC = "conductor.engine.tasks.sweep"


class ConductorConfig(AppConfig):
    """Workflows ("conversations"). It learns of contact activity through
    ``contacts.hooks.activities_recorded`` (conductor.engine.entry)."""

    name = "conductor"
    verbose_name = "Conductor"

    def ready(self) -> None:
        from conductor.engine import child_threads, entry  # noqa: F401 - connect receivers
        from conductor.steps.built_in import register_built_in

        register_built_in()
        from conductor.tracking import conversions  # noqa: F401 - connects the conversion receiver

        post_migrate.connect(
            schedule_conductor, sender=self, dispatch_uid="conductor.schedule_conductor"
        )


def schedule_conductor(*, using: str, apps: Apps = global_apps, **kwargs: Any) -> None:
    """After every migrate, leave exactly one ``conductor`` schedule (idempotent)."""
    from contacts.apps import keep_one_schedule

    keep_one_schedule(name=CONDUCTOR_SCHEDULE, func=CONDUCTOR_FUNC, using=using, apps=apps)
