"""``manage.py export_conversation ID``: a conversation's version as a portable
JSON document (format in ``conductor.transfer``)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from conductor.models import Conversation, Version
from conductor.transfer import TransferError, dump, export_version
from conductor.versions import working_version


class Command(BaseCommand):
    help = "Export a conversation (its working version, or --version N) as JSON."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        # --version means the conversation's version here, not Django's: let ours win.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser) -> None:
        parser.add_argument("conversation_id", type=int)
        parser.add_argument(
            "--version", dest="number", type=int, help="The version number (default: working)."
        )
        parser.add_argument("--output", type=Path, help="Write the document to FILE.")
        parser.add_argument(
            "--json", action="store_true", help="Print the document even with --output."
        )

    def handle(self, *args, conversation_id: int, number: int | None, output: Path | None,
               json: bool, **options) -> None:  # fmt: skip
        version = self.version(conversation_id, number)
        try:
            text = dump(export_version(version))
        except TransferError as error:
            raise CommandError(f"Cannot export {version}:\n{error}") from None
        if output is None or json:
            self.stdout.write(text, ending="")
        if output is not None:
            output.write_text(text, encoding="utf-8")
            if not json:
                self.stdout.write(f"Exported {version} to {output}.")

    def version(self, conversation_id: int, number: int | None) -> Version:
        conversation = Conversation.objects.filter(pk=conversation_id).first()
        if conversation is None:
            raise CommandError(f"There is no conversation {conversation_id}.")
        if number is None:
            return working_version(conversation)
        found = Version.objects.filter(conversation=conversation, number=number).first()
        if found is None:
            raise CommandError(f"Conversation {conversation_id} has no version {number}.")
        return found
