"""Reads of contacts and what belongs to them: the contacts of a list by
subscription state and date, one contact by address or key, the profile fields
and events a request names, a list's imports and their rows.

Selectors take plain values (ids, states, moments), never request parameters:
whoever reads a request (the API) parses it first and refuses bad input there.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TypeVar

from django.db.models import Model, QuerySet
from django.db.models.functions import Coalesce

from contacts.imports.models import ImportRowResult, ListImport
from contacts.models import Contact, SubscriptionState
from lists.models import Event, List, ProfileField

M = TypeVar("M", bound=Model)


def within(
    rows: QuerySet[M],
    *,
    column: str,
    start: datetime.datetime | None,
    end: datetime.datetime | None,
) -> QuerySet[M]:
    """``rows`` whose ``column`` lies between ``start`` and ``end``, both
    inclusive; a bound left out (None) does not limit."""
    if start is not None:
        rows = rows.filter(**{f"{column}__gte": start})
    if end is not None:
        rows = rows.filter(**{f"{column}__lte": end})
    return rows


def list_contacts(
    *,
    email_list: List,
    state: str,
    external_contact_id: str = "",
    start: datetime.datetime | None = None,
    end: datetime.datetime | None = None,
    use_original_subscribe_date: bool = True,
) -> QuerySet[Contact]:
    """The contacts of ``email_list`` in subscription ``state``, with
    ``external_contact_id`` when one is given.

    ``start`` and ``end`` bound the date of their state: the unsubscribe date
    of unsubscribed contacts; of subscribed ones the original subscribe date,
    or with ``use_original_subscribe_date=False`` the latest (the resubscribe
    date where there is one)."""
    contacts = Contact.objects.filter(list=email_list, state=state)
    if external_contact_id:
        contacts = contacts.filter(external_contact_id=external_contact_id)
    if start is None and end is None:
        return contacts
    if state == SubscriptionState.UNSUBSCRIBED:
        column = "unsubscribed_at"
    elif use_original_subscribe_date:
        column = "subscribed_at"
    else:
        contacts = contacts.annotate(latest_subscribe=Coalesce("resubscribed_at", "subscribed_at"))
        column = "latest_subscribe"
    return within(contacts, column=column, start=start, end=end)


def contact_by_identifier(*, email_list: List, identifier: str) -> Contact | None:
    """The contact of ``email_list`` whose address (any case) or email key is
    ``identifier``: an address has an ``@``, a key never does. One only ever
    sent transactional email is not a contact of the list to its readers."""
    contacts = Contact.objects.filter(list=email_list).exclude(
        state=SubscriptionState.NEVER_SUBSCRIBED
    )
    if "@" in identifier:
        return contacts.filter(email=identifier.lower()).first()
    return contacts.filter(email_key=identifier).first()


def profile_fields_by_id(*, email_list: List, ids: Iterable[int]) -> dict[int, ProfileField]:
    """``{id: field}`` for those of ``ids`` that are profile fields of ``email_list``."""
    return {f.pk: f for f in ProfileField.objects.filter(list=email_list, pk__in=ids)}


def events_by_id(*, email_list: List, ids: Iterable[int]) -> dict[int, Event]:
    """``{id: event}`` for those of ``ids`` that are events of ``email_list``."""
    ids = list(ids)
    if not ids:  # most API writes name none: no query
        return {}
    return {e.pk: e for e in Event.objects.filter(list=email_list, pk__in=ids)}


def list_imports(
    *,
    email_list: List,
    created_from: datetime.datetime | None = None,
    created_to: datetime.datetime | None = None,
) -> QuerySet[ListImport]:
    """The imports of ``email_list``, oldest first, created between
    ``created_from`` and ``created_to`` (inclusive) when given."""
    imports = ListImport.objects.filter(list=email_list)
    imports = within(imports, column="created_at", start=created_from, end=created_to)
    return imports.order_by("created_at", "id")


def import_rows(*, list_import: ListImport) -> QuerySet[ImportRowResult]:
    """What happened to each row of ``list_import``'s file, in file order."""
    return ImportRowResult.objects.filter(list_import=list_import).order_by("row_number")
