from __future__ import annotations

from django.apps import AppConfig

from core.schedules import SweepSchedule

#: Forgets the rate-limit windows that have ended (``signups.throttle``).
schedule_throttle_sweep = SweepSchedule(
    name="forget-signup-rate-windows", func="signups.throttle.forget_old_windows", minutes=60
)


class SignupsConfig(AppConfig):
    name = "signups"
    verbose_name = "Subscription points"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled

        from contacts.demo import add_to_demo
        from contacts.hooks import activities_recorded
        from signups import cors, demo, hooks

        activities_recorded.connect(hooks.fire_confirmed_signups, dispatch_uid="signups.confirmed")
        check_request_enabled.connect(cors.origin_allowed, dispatch_uid="signups.cors")
        schedule_throttle_sweep.connect(self)
        add_to_demo(demo.seed)  # seed_demo's Footer and Pop-up points
