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
        from broadcasts import activity_words, demo
        from contacts.demo import add_to_demo

        schedule_sweep.connect(self)
        activity_words.register()  # broadcasts and transactional messages in a contact's story
        add_to_demo(demo.seed)  # seed_demo's sent and scheduled broadcasts
