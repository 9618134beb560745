"""Running imports in tests, on every import path the database has."""

from __future__ import annotations

from django.conf import settings
from django.core.files.base import ContentFile

from contacts.imports.models import ImportRowResult, ListImport
from contacts.imports.run import run_import


def engines() -> list[str]:
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return ["portable", "postgres"]
    return ["portable"]


def do_import(email_list, content: str | bytes, *, engine: str, **options) -> ListImport:
    data = content.encode() if isinstance(content, str) else content
    list_import = ListImport(list=email_list, file_name="contacts.csv", **options)
    list_import.file.save("contacts.csv", ContentFile(data), save=True)
    return run_import(list_import.pk, engine=engine)


def results(list_import: ListImport) -> list[tuple[int, str, str, str]]:
    return list(
        ImportRowResult.objects.filter(list_import=list_import)
        .order_by("row_number")
        .values_list("row_number", "email", "result", "reason")
    )
