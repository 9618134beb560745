"""``manage.py import_contacts FILE --list ID``: the command-line door of the importer."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from contacts.imports.models import ImportStatus, ImportType, ListImport, SegmentationImportType
from contacts.imports.run import run_import
from contacts.imports.source import parse_mapping
from lists.models import List


def _pairs(values: list[str], option: str, target: str) -> dict[str, str]:
    try:
        return parse_mapping("\n".join(values), target=target)
    except ValidationError as error:
        raise CommandError(f"{option}: " + " ".join(error.messages)) from None


class Command(BaseCommand):
    help = "Import contacts from a CSV file into a list (Listrak's import rules)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--list", dest="list_id", type=int, required=True)
        parser.add_argument(
            "--type",
            dest="import_type",
            choices=ImportType.values,
            default=ImportType.ADD_SUBSCRIBERS_AND_SEGMENTATION_DATA,
        )
        parser.add_argument(
            "--segmentation-type",
            choices=SegmentationImportType.values,
            default=SegmentationImportType.UPDATE,
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help="Map a column (name or 0-based index) to a profile field (name or id).",
        )
        parser.add_argument(
            "--event-column",
            action="append",
            default=[],
            metavar="COLUMN=EVENT",
            help="A non-blank cell in COLUMN fires EVENT (name or id) for the row's contact.",
        )
        parser.add_argument(
            "--email-column", default="", help="The address column (found by name by default)."
        )
        parser.add_argument("--delimiter", default=",")
        parser.add_argument(
            "--no-header", action="store_true", help="The first line is data, not column names."
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the summary as JSON on the last line."
        )

    def handle(self, *args, **options) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        delimiter = "\t" if options["delimiter"] in ("\\t", "tab") else options["delimiter"]
        if len(delimiter) != 1:
            raise CommandError(f"--delimiter must be one character, not {options['delimiter']!r}.")
        email_list = List.objects.filter(pk=options["list_id"]).first()
        if email_list is None:
            raise CommandError(f"There is no list {options['list_id']}.")
        list_import = ListImport(
            list=email_list,
            file_name=path.name,
            import_type=options["import_type"],
            segmentation_type=options["segmentation_type"],
            delimiter=delimiter,
            has_header=not options["no_header"],
            field_map=_pairs(options["map"], "--map", "FIELD"),
            event_map=_pairs(options["event_column"], "--event-column", "EVENT"),
            email_column=options["email_column"],
        )
        with open(path, "rb") as stream:
            list_import.file.save(path.name, File(stream), save=True)

        bar = tqdm(unit=" rows", unit_scale=True, disable=not sys.stderr.isatty(), desc="Importing")
        with bar:
            done = run_import(list_import.pk, progress=bar.update)
        if done.status != ImportStatus.PROCESSING_COMPLETED:
            raise CommandError(f"Import {done.pk} failed: {done.error}")
        summary = done.summary()
        for key, value in summary.items():
            self.stdout.write(f"{key}: {value}")
        if done.invalid_value_count:
            self.stdout.write(
                f"refused values: {done.invalid_value_count} (see the import's rejected rows)"
            )
        self.stdout.write(f"import id: {done.pk}")
        if options["json"]:
            self.stdout.write(json.dumps({"importId": done.pk, **summary}))
