from __future__ import annotations

from django.apps import AppConfig

from core.schedules import SweepSchedule

#: What the ``segment`` schedule runs: it delivers the Segment outbox and resumes backfills.
SEGMENT_FUNC = "integrations.segment.tasks.sweep"

# Named as ``integrations.segment.queueing.SEGMENT_SCHEDULE``, which cannot be
# imported while the apps load (it imports django-q2's models).
schedule_segment = SweepSchedule(name="segment", func=SEGMENT_FUNC, minutes=1)


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

        schedule_segment.connect(self)
