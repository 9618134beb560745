"""``manage.py add_segment_integration --name N --write-key K --list ID[:FIELD] ...``"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from integrations.models import DEFAULT_ENDPOINT, SegmentIntegration
from integrations.segment.backfill import backfill_list_sync
from integrations.segment.services import create_integration, sync_list, validate_endpoint
from lists.models import List, ProfileField


class Command(BaseCommand):
    help = (
        "Create a Segment integration syncing the given lists (LIST_ID, or LIST_ID:FIELD_ID to "
        "send that profile field's value as userId), then identify every contact of those "
        "lists, in this process. Every id is checked first; nothing is written when one is wrong."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--write-key", required=True, help="Stored; never printed.")
        parser.add_argument(
            "--endpoint",
            default=DEFAULT_ENDPOINT,
            help="https://api.segment.io (default), https://events.eu1.segmentapis.com, or an "
            "origin SEGMENT_ALLOWED_HOSTS allows.",
        )
        parser.add_argument(
            "--list",
            dest="lists",
            action="append",
            required=True,
            metavar="LIST_ID[:USER_ID_FIELD_ID]",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name:
            raise CommandError("--name must not be blank.")
        if not options["write_key"].strip():
            raise CommandError("--write-key must not be blank.")
        if SegmentIntegration.objects.filter(name=name).exists():
            raise CommandError(f"A Segment integration named {name!r} already exists.")
        try:
            endpoint = validate_endpoint(options["endpoint"])
        except ValidationError as refused:
            raise CommandError(f"--endpoint: {' '.join(refused.messages)}") from None
        wanted = [self._parse(spec) for spec in options["lists"]]
        seen: set[int] = set()
        for email_list, _ in wanted:
            if email_list.pk in seen:
                raise CommandError(f"List {email_list.pk} is given twice.")
            seen.add(email_list.pk)

        with transaction.atomic():
            integration = create_integration(
                name=name, write_key=options["write_key"], endpoint=endpoint
            )
            syncs = [
                sync_list(
                    integration=integration,
                    email_list=email_list,
                    user_id_field=field,
                    backfill=False,
                )
                for email_list, field in wanted
            ]
        self.stdout.write(f"Created Segment integration {name!r} (id {integration.pk}).")
        # Once committed: a backfill cut short here is resumed by the ``segment`` schedule.
        for sync in syncs:
            written, _ = backfill_list_sync(sync_id=sync.pk)
            self.stdout.write(f"List {sync.list_id}: {written} contacts identified.")

    def _parse(self, spec: str) -> tuple[List, ProfileField | None]:
        list_part, _, field_part = spec.partition(":")
        try:
            list_id = int(list_part)
            field_id = int(field_part) if field_part else None
        except ValueError:
            raise CommandError(
                f"--list {spec!r}: expected LIST_ID or LIST_ID:USER_ID_FIELD_ID (numbers)."
            ) from None
        email_list = List.objects.filter(pk=list_id).first()
        if email_list is None:
            raise CommandError(f"--list {spec!r}: there is no list {list_id}.")
        if field_id is None:
            return email_list, None
        field = ProfileField.objects.filter(pk=field_id).first()
        if field is None:
            raise CommandError(f"--list {spec!r}: there is no profile field {field_id}.")
        if field.list_id != email_list.pk:
            raise CommandError(
                f"--list {spec!r}: profile field {field_id} ({field.name}) is not on list "
                f"{list_id} ({email_list.name})."
            )
        return email_list, field
