"""``manage.py deliver_segment [--once] [--poll S]``: send the Segment outbox."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from config.workers import Backoff, freeze_start_up
from integrations.segment.delivery import Deliverer

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    # A worker is started often and by the dozen; the system checks belong to
    # deployment (``migrate``, ``check --deploy``), not to every start.
    requires_system_checks: list[str] = []
    help = (
        "Send the Segment outbox. With --once, exit when nothing is due (messages waiting for "
        "a retry are left to later runs); otherwise keep polling. Safe to run on many machines "
        "at once: each shard of the outbox is leased by one worker at a time."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Exit when nothing is due.")
        parser.add_argument("--poll", type=float, default=1.0, help="Seconds between polls.")

    def handle(self, *args: Any, **options: Any) -> None:
        deliverer = Deliverer()
        freeze_start_up(self)
        # A database or broker restart is waited out, not the end of the worker.
        backoff = Backoff(logger=logger)
        total = 0
        try:
            while True:
                delivered = backoff.run(deliverer.run)
                total += delivered
                if options["once"]:
                    break
                if not delivered:
                    time.sleep(options["poll"])
        finally:
            deliverer.close()
        self.stdout.write(f"{total} Segment messages delivered.")
