from __future__ import annotations

from django.apps import AppConfig

from core.schedules import SweepSchedule

#: The django-q2 schedule that advances due contacts every minute.
CONDUCTOR_SCHEDULE = "conductor"
CONDUCTOR_FUNC = "conductor.engine.sweep.sweep"

schedule_conductor = SweepSchedule(name=CONDUCTOR_SCHEDULE, func=CONDUCTOR_FUNC, minutes=1)


class ConductorConfig(AppConfig):
    """Workflows ("conversations"). It learns of contact activity through
    ``contacts.hooks.activities_recorded`` (conductor.engine.entry); its
    Message steps send through the emails app."""

    name = "conductor"
    verbose_name = "Conductor"

    def ready(self) -> None:
        from conductor.engine import child_threads, email_outcomes, entry  # noqa: F401 - receivers
        from conductor.steps.built_in import register_built_in

        register_built_in()
        schedule_conductor.connect(self)
