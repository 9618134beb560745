"""Writes of folders, which group lists for staff to find (Listrak's
``Folder``). The API and the admin both write through these.

A folder's name is unique among folders whatever its case; a clash is
:class:`FolderNameTaken`. Deleting a folder leaves its lists in none. Which
folder a list is in is a setting of the list (``lists.services.update_list``).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from lists.models import Folder
from lists.services import Refusal


class FolderNameTaken(Refusal):
    code = "folder_name_taken"
    about = "name"

    def __init__(self, *, name: str) -> None:
        self.name = name
        super().__init__()

    def worded(self) -> str:
        return f"There is already a folder named {self.name!r} (names ignore case)."


def check_folder_name_free(*, name: str, folder: Folder | None = None) -> None:
    """Refuse (:class:`FolderNameTaken`) a name another folder has."""
    others = Folder.objects.filter(name__iexact=name)
    if folder is not None and folder.pk is not None:
        others = others.exclude(pk=folder.pk)
    if others.exists():
        raise FolderNameTaken(name=name)


def create_folder(*, name: str) -> Folder:
    """Add a folder named ``name``."""
    check_folder_name_free(name=name)
    try:
        with transaction.atomic():
            return Folder.objects.create(name=name)
    except IntegrityError:  # the same name, created meanwhile
        raise FolderNameTaken(name=name) from None


def rename_folder(*, folder: Folder, name: str) -> None:
    """Rename ``folder``; a folder deleted meanwhile is ``Folder.DoesNotExist``."""
    check_folder_name_free(name=name, folder=folder)
    try:
        with transaction.atomic():
            if not Folder.objects.filter(pk=folder.pk).update(name=name):
                raise Folder.DoesNotExist(f"Folder {folder.pk} is gone.")
    except IntegrityError:
        raise FolderNameTaken(name=name) from None
    folder.name = name


def delete_folder(*, folder: Folder) -> None:
    """Delete ``folder``; its lists stay, in no folder."""
    folder.delete()
