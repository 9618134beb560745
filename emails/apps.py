from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings

from config.env import import_dotted_path
from core.schedules import SweepSchedule

#: The django-q2 schedule that sends the emails no task has sent, every minute.
EMAILS_SCHEDULE = "emails"
EMAILS_FUNC = "emails.sending.tasks.sweep"

schedule_emails = SweepSchedule(name=EMAILS_SCHEDULE, func=EMAILS_FUNC, minutes=1)


class EmailsConfig(AppConfig):
    """Email: messages, their rendering and sending, deliveries, tracked
    links, feedback and conversions, for whatever sends (Conductor's Message
    steps today). It uses ``contacts`` and ``lists`` and knows no sender."""

    name = "emails"
    verbose_name = "Emails"

    def ready(self) -> None:
        from anymail.signals import tracking

        from emails import (
            activity_words,
            conversions,  # noqa: F401 - connects the conversion receiver
        )
        from emails.anymail_feedback import record_tracking_event

        activity_words.register()  # emails sent, opened, clicked… in words on a contact's page

        # Bounces and complaints from an email service's webhooks.
        tracking.connect(record_tracking_event, dispatch_uid="emails.anymail_feedback")
        schedule_emails.connect(self)
        # The class EMAIL_BACKEND names, imported now (settings could only
        # check its module): a wrong name stops the start, not every send.
        import_dotted_path("EMAIL_BACKEND", settings.EMAIL_BACKEND)
