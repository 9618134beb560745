from __future__ import annotations

from django.apps import AppConfig

from core.schedules import SweepSchedule

#: Starts broadcasts whose time has come, chooses recipients, sends what no
#: task sent, judges split tests, finishes sent broadcasts.
schedule_sweep = SweepSchedule(name="broadcasts", func="broadcasts.worker.sweep", minutes=1)


class BroadcastsConfig(AppConfig):
    name = "broadcasts"
    verbose_name = "Broadcasts"

    def ready(self) -> None:
        from broadcasts import activity_words, demo, sending
        from contacts.demo import add_to_demo
        from emails.signals import add_withdrawal

        schedule_sweep.connect(self)
        add_withdrawal("broadcasts", sending.cancelled_emails)  # nothing of a cancelled one goes
        activity_words.register()  # broadcasts and transactional messages in a contact's story
        add_to_demo(demo.seed)  # seed_demo's sent and scheduled broadcasts
