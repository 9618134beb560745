"""Deleting a list, and clearing or deleting a profile field's values.

These touch every contact of a list, which may be millions: rows are deleted
and updated in set-based statements or keyset batches, never all loaded, and
never through Django's cascading ``delete()`` (its collector reads every row it
deletes).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import models, router, transaction
from django.db.models.deletion import Collector, get_candidate_relations_to_delete
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.utils import timezone

from contacts.hooks import record_activities
from contacts.imports.models import ImportRowResult, ImportStatus, ListImport
from contacts.models import Activity, ActivityKind, Ban, Contact
from contacts.services.common import activity_for
from contacts.services.profile import UpdateType
from core.bulk import update_rows
from lists.models import Event, List, ProfileField

if TYPE_CHECKING:
    from django.db.models.options import Options

BATCH = 5000  # contacts per locked batch when clearing a field's values
IN_PROGRESS = (ImportStatus.DATA_UPLOADED, ImportStatus.PROCESSING_DATA)
# Listrak's code for "something still uses this"; the API passes it through.
RESOURCE_DEPENDENCY = "ERROR_RESOURCE_DEPENDENCY"


def delete_list(*, email_list: List) -> None:
    """Delete a list with everything on it: contacts, their activity, imports
    and their row results, bans, profile fields and events.

    Refused with a ValidationError (code ``ERROR_RESOURCE_DEPENDENCY``) while
    an import of the list is waiting or running. Each table is emptied of the
    list's rows by one set-based statement, in one transaction. The import
    files are removed from storage once the transaction commits.
    """
    using = router.db_for_write(List)
    with transaction.atomic(using=using):
        # Lock the list before looking at its imports: an import or contact
        # inserted meanwhile (its foreign key takes a share lock on this row)
        # waits for us and then fails, instead of outliving its list.
        locked = List.objects.using(using).select_for_update().filter(pk=email_list.pk).first()
        if locked is None:
            return  # deleted by a concurrent request
        busy = list(
            ListImport.objects.using(using)
            .filter(list=locked, status__in=IN_PROGRESS)
            .values_list("file_name", flat=True)[:5]
        )
        if busy:
            raise ValidationError(
                "List '%(list)s' has an import in progress (%(files)s); delete the list "
                "once the import has finished.",
                code=RESOURCE_DEPENDENCY,
                params={"list": locked.name, "files": ", ".join(busy)},
            )
        files = [
            name
            for name in ListImport.objects.using(using)
            .filter(list=locked)
            .values_list("file", flat=True)
            if name
        ]
        _delete_rows_of_other_apps(locked, using)
        imports = ListImport.objects.using(using).filter(list_id=locked.pk)
        # Activity has no database foreign keys, so nothing but this removes it.
        _raw_delete(Activity.objects.using(using).filter(list_id=locked.pk), using)
        _raw_delete(
            ImportRowResult.objects.using(using).filter(list_import_id__in=imports.values("pk")),
            using,
        )
        _raw_delete(imports, using)
        _raw_delete(Contact.objects.using(using).filter(list_id=locked.pk), using)
        _raw_delete(Ban.objects.using(using).filter(list_id=locked.pk), using)
        # Rows of other apps that go with the list (a subscription point, a
        # Segment sync) go before its events, which they may name (PROTECT).
        _delete_list_rows_of_other_apps(locked, using)
        # Events first: Event.group is PROTECT, which would stop the cascade
        # from the list through its event groups.
        Event.objects.using(using).filter(list_id=locked.pk).delete()
        # What is left is small (field groups, fields, event groups).
        locked.delete()
        transaction.on_commit(lambda: _delete_files(files), using=using)


def clear_field_values(*, field: ProfileField) -> int:
    """Remove ``field``'s value from every contact of its list; returns how
    many contacts held one.

    Each changed contact gets a ``profile_updated`` activity (``update_type``
    Overwrite, ``changes`` ``{key: {old, new: None}}``) through
    :func:`contacts.hooks.record_activities`, batch by batch, all in one
    transaction.
    """
    key = field.key
    now = timezone.now()
    cleared = 0
    last_email = ""
    with transaction.atomic():
        while True:
            # Keyset batches along the (list, email) unique index: each batch
            # reads only this list's rows from where the last one stopped.
            # Rows are locked, so a concurrent profile write queues behind us
            # instead of being undone.
            batch = list(
                Contact.objects.select_for_update()
                .filter(list_id=field.list_id, email__gt=last_email, profile__has_key=key)
                .order_by("email")[:BATCH]
            )
            if not batch:
                return cleared
            last_email = batch[-1].email
            activities = []
            for contact in batch:
                old = contact.profile.pop(key)
                contact.updated_at = now
                activities.append(
                    activity_for(
                        contact,
                        ActivityKind.PROFILE_UPDATED,
                        now,
                        update_type=str(UpdateType.OVERWRITE),
                        changes={key: {"old": old, "new": None}},
                    )
                )
            update_rows(batch, ["profile", "updated_at"])
            record_activities(activities)
            cleared += len(batch)


def delete_field(*, field: ProfileField) -> int:
    """Delete a profile field and its values (see :func:`clear_field_values`);
    returns how many contacts held a value."""
    with transaction.atomic():
        cleared = clear_field_values(field=field)
        field.delete()
    return cleared


def _raw_delete(rows: models.QuerySet, using: str) -> None:
    # One DELETE … WHERE statement: no rows read, no signals, no cascade.
    rows._raw_delete(using)


def _delete_rows_of_other_apps(email_list: List, using: str) -> None:
    """Rows of other models that point at the list's contacts (Activity
    aside) get their own ``on_delete`` applied set-based, before the contacts
    go: their cascades run, SET_NULL becomes one UPDATE, and a PROTECT or
    RESTRICT relation that is in use refuses the deletion."""
    collector = Collector(using=using, origin=email_list)
    # The stubs take any model's options (Options is invariant) and call the
    # reverse relations it gives fields.
    relations = get_candidate_relations_to_delete(cast("Options[models.Model]", Contact._meta))
    for relation in cast(Iterable[ForeignObjectRel], relations):
        if relation.related_model is Activity:
            continue
        rows = relation.related_model._base_manager.using(using).filter(
            **{f"{relation.field.name}__list_id": email_list.pk}
        )
        if relation.on_delete in (models.PROTECT, models.RESTRICT):
            if rows.exists():
                raise ValidationError(
                    "Contacts of list '%(list)s' are still used by %(what)s.",
                    code=RESOURCE_DEPENDENCY,
                    params={
                        "list": email_list.name,
                        "what": relation.related_model._meta.verbose_name_plural,
                    },
                )
            continue
        assert relation.on_delete is not None  # a ForeignKey's, as every candidate is
        relation.on_delete(collector, relation.field, rows, using)
    collector.delete()


def _delete_list_rows_of_other_apps(email_list: List, using: str) -> None:
    """Delete the rows of apps above this one that hang on the list with
    CASCADE (their own cascades run); PROTECT relations (conversations,
    messages) are left to refuse the list's deletion."""
    for relation in List._meta.related_objects:
        model = relation.related_model
        if (
            model._meta.app_label in ("lists", "contacts")
            or relation.on_delete is not models.CASCADE
        ):
            continue
        model._base_manager.using(using).filter(**{relation.field.name: email_list}).delete()


def _delete_files(names: list[str]) -> None:
    for name in names:
        # A file already gone or unreadable must not fail a committed deletion.
        with contextlib.suppress(OSError):
            default_storage.delete(name)
