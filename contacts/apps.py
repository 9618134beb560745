from __future__ import annotations

from django.apps import AppConfig

from core.schedules import SweepSchedule

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


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        from contacts import own_activity_words

        schedule_import_sweep.connect(self)
        schedule_confirmation_sweep.connect(self)
        own_activity_words.register()  # its activity in words, on the contact's page
