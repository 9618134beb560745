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
        from conductor import activity_words
        from conductor.demo import seed
        from conductor.engine import child_threads, email_outcomes, entry  # noqa: F401 - receivers
        from conductor.steps.built_in import register_built_in
        from contacts.demo import add_to_demo

        register_built_in()
        add_to_demo(seed)  # seed_demo's conversations
        activity_words.register()  # conversations in a contact's story
        schedule_conductor.connect(self)
