"""``manage.py run_broadcasts [--once]``: start, choose and send broadcasts."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from broadcasts.worker import nothing_left, work
from config.workers import Backoff, freeze_start_up

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    # Started often and by the dozen: the system checks belong to deployment.
    requires_system_checks: list[str] = []
    help = (
        "Start the broadcasts that are due, choose their recipients and send their emails. "
        "With --once, exit when nothing is left to do; otherwise keep polling. Safe to run "
        "on many machines at once (the django-q2 cluster does the same work through its tasks)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Exit when nothing is left.")
        parser.add_argument("--poll", type=float, default=1.0, help="Seconds between polls.")

    def handle(self, *args: Any, **options: Any) -> None:
        freeze_start_up(self)
        backoff = Backoff(logger=logger)  # a database restart is waited out
        sent = 0
        while True:
            done = backoff.run(lambda: work(budget=30.0))
            sent += done
            if not done:
                # Another worker may still be choosing recipients: wait for them.
                if options["once"] and backoff.run(nothing_left):
                    break
                time.sleep(options["poll"] if not options["once"] else 0.05)
        # Read by the benchmarks, which print each worker's share.
        self.stdout.write(f"{sent} emails sent.")
