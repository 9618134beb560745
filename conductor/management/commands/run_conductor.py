"""``manage.py run_conductor [--once] [--batch N]``: advance every contact that is due."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from conductor.engine.tasks import BATCH, advance
from config.workers import Backoff, freeze_start_up

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    # A worker is started often and by the dozen; the system checks belong to
    # deployment (``migrate``, ``check --deploy``), not to every start.
    requires_system_checks: list[str] = []
    help = (
        "Advance every enrollment that is due and send its emails. With --once, exit when "
        "nothing is due; otherwise keep polling. Safe to run on many machines at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Exit when nothing is due.")
        parser.add_argument("--batch", type=int, default=BATCH, help="Enrollments per claim.")
        parser.add_argument("--poll", type=float, default=1.0, help="Seconds between polls.")

    def handle(self, *args: Any, **options: Any) -> None:
        freeze_start_up(self)
        # A database restart is waited out, not the end of the worker.
        backoff = Backoff(logger=logger)
        steps = emails = 0
        while True:
            done = backoff.run(lambda: advance(batch=options["batch"], budget=float("inf")))
            steps, emails = steps + done.steps, emails + done.emails
            if options["once"] and not done.steps and not done.emails:
                # Emails still unsent are the sweep's (their sender may be busy);
                # those sent let their contacts go on, so a round follows them.
                break
            if not done.steps:
                time.sleep(options["poll"])
        # Read by the benchmarks, which print each worker's share of the work.
        self.stdout.write(f"{steps} step visits run, {emails} emails sent.")
