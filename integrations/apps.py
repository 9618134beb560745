from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db.models.signals import post_migrate

#: What the ``segment`` schedule (``integrations.segment.queueing.SEGMENT_SCHEDULE``)
#: runs: it delivers the Segment outbox and resumes backfills.
SEGMENT_FUNC = "integrations.segment.tasks.sweep"


class IntegrationsConfig(AppConfig):
    """Outbound integrations (Segment). It learns of contact activity through
    ``contacts.hooks.activities_recorded`` (integrations.segment.outbox)."""

    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from integrations.models import SegmentIntegration, SegmentListSync
        from integrations.segment import outbox  # connects the outbox receiver

        for model in (SegmentIntegration, SegmentListSync):
            for name, signal in (("saved", post_save), ("deleted", post_delete)):
                signal.connect(
                    outbox.forget_synced_lists,
                    sender=model,
                    dispatch_uid=f"integrations.forget_synced_lists.{model.__name__}.{name}",
                )

        post_migrate.connect(
            schedule_segment, sender=self, dispatch_uid="integrations.schedule_segment"
        )


def schedule_segment(*, using: str, apps: Apps = global_apps, **kwargs: Any) -> None:
    """After every migrate, leave exactly one ``segment`` schedule (idempotent)."""
    from contacts.apps import keep_one_schedule
    from integrations.segment.queueing import SEGMENT_SCHEDULE

    keep_one_schedule(name=SEGMENT_SCHEDULE, func=SEGMENT_FUNC, using=using, apps=apps)
