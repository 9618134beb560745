"""``manage.py import_conversation FILE``: a new, unpublished conversation from
a document written by ``export_conversation`` (format in ``conductor.transfer``)."""

from __future__ import annotations

import json as json_module
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from conductor.transfer import TransferError, import_document


class Command(BaseCommand):
    help = "Import a conversation from a JSON file written by export_conversation."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--list", dest="list_id", type=int, help="The list to import into (default: by name)."
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, file: Path, list_id: int | None, json: bool, **options) -> None:
        try:
            document = json_module.loads(file.read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"{file}: {error.strerror}.") from None
        except (UnicodeDecodeError, json_module.JSONDecodeError) as error:
            raise CommandError(f"{file}: not a JSON document: {error}.") from None
        try:
            result = import_document(document, list_id=list_id)
        except TransferError as error:
            raise CommandError(f"{file}: nothing imported:\n{error}") from None
        conversation = result.conversation
        if json:
            self.stdout.write(
                json_module.dumps(
                    {"conversation_id": conversation.pk, "problems": result.problems},
                    sort_keys=True,
                )
            )
            return
        for note in result.notes:
            self.stdout.write(note)
        self.stdout.write(
            f"Created conversation {conversation.pk} ({conversation.name!r}, Unpublished) "
            f"on list {conversation.list.name!r}."
        )
        for problem in result.problems:
            self.stdout.write(self.style.WARNING(f"Warning: {problem}"))
