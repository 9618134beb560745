"""Pieces shared by the contact services: results, address parsing, locking."""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction

from contacts.addresses import normalise_email
from contacts.models import Activity, Ban, Contact, Suppression
from lists.models import List

T = TypeVar("T")

CHUNK = 5000  # addresses per IN (...) query


class Outcome(enum.StrEnum):
    """What a batch service did with one address (Listrak's import results,
    plus the outcomes imports never see)."""

    SUBSCRIBED = "Subscribed"  # first-ever subscription
    RESUBSCRIBED = "Resubscribed"
    PENDING = "Pending"
    ALREADY_SUBSCRIBED = "AlreadySubscribed"
    ALREADY_PENDING = "AlreadyPending"
    PREVIOUSLY_UNSUBSCRIBED = "PreviouslyUnsubscribed"
    UNSUBSCRIBED = "UnSubscribed"
    ALREADY_UNSUBSCRIBED = "AlreadyUnSubscribed"
    ADDRESS_CHANGED = "AddressChanged"
    NOT_ON_LIST = "NotOnList"
    BANNED = "Banned"
    SUPPRESSED = "Suppressed"
    INVALID = "Invalid"
    SKIPPED = "Skipped"


@dataclass
class ContactResult:
    """One address's result. ``error`` is set when nothing was done because
    of the input; the single-contact services raise it."""

    email: str
    outcome: Outcome
    contact: Contact | None = None
    error: ValidationError | None = None
    #: The contact did not exist before, or only to receive transactional email.
    created: bool = False

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def parse_addresses(raw: Sequence[object]) -> tuple[list[ContactResult | None], dict[str, int]]:
    """Normalise a batch of addresses.

    Returns one slot per input (filled for invalid and repeated addresses, left
    ``None`` for the caller to fill) and ``{address: index}`` of the first
    occurrence of each valid address.
    """
    results: list[ContactResult | None] = [None] * len(raw)
    first: dict[str, int] = {}
    for index, value in enumerate(raw):
        try:
            email = normalise_email(value)
        except ValidationError as error:
            results[index] = ContactResult(str(value), Outcome.INVALID, error=error)
            continue
        if email in first:
            results[index] = ContactResult(email, Outcome.SKIPPED)
        else:
            first[email] = index
    return results, first


def chunks(items: Sequence[T] | Iterable[T], size: int = CHUNK) -> Iterable[list[T]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def blocked_results(
    email_list: List, emails: Iterable[str], *, new: bool = False
) -> dict[str, ContactResult]:
    """The addresses among ``emails`` that may not be subscribed to the list,
    with the reason (suppression wins over a ban)."""
    emails = list(emails)
    banned: set[str] = set()
    suppressed: set[str] = set()
    for part in chunks(emails):
        for email, kind in _bans_and_suppressions(email_list, part):
            (banned if kind == "ban" else suppressed).add(email)
    prefix = "NEW_" if new else ""
    blocked: dict[str, ContactResult] = {}
    for email in banned:
        blocked[email] = ContactResult(
            email,
            Outcome.BANNED,
            error=ValidationError(
                "%(email)s is banned from list '%(list)s'.",
                code=f"ERROR_BANNED_{prefix}EMAIL_ADDRESS",
                params={"email": email, "list": email_list.name},
            ),
        )
    for email in suppressed:
        blocked[email] = ContactResult(
            email,
            Outcome.SUPPRESSED,
            error=ValidationError(
                "%(email)s is suppressed and cannot be subscribed.",
                code="ERROR_SUPPRESSED_NEW_EMAIL" if new else "ERROR_SUPPRESSED_EMAIL",
                params={"email": email},
            ),
        )
    return blocked


def _bans_and_suppressions(email_list: List, emails: list[str]) -> list[tuple[str, str]]:
    """``(email, "ban" | "suppression")`` of these addresses, in one round trip:
    this runs for every subscription, one address at a time from the API,
    where building an ORM union would cost more than the query itself."""
    if not emails:
        return []
    marks = ", ".join(["%s"] * len(emails))
    sql = (
        f"SELECT email, 'ban' FROM {Ban._meta.db_table} WHERE list_id = %s AND email IN ({marks})"
        f" UNION ALL SELECT email, 'suppression' FROM {Suppression._meta.db_table}"
        f" WHERE email IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [email_list.pk, *emails, *emails])
        return cursor.fetchall()


def lock_contacts(email_list: List, emails: Iterable[str]) -> dict[str, Contact]:
    """The existing contacts of these addresses, locked for the transaction,
    so that concurrent writers of the same contact queue instead of losing
    each other's changes."""
    found: dict[str, Contact] = {}
    for part in chunks(sorted(emails)):  # a fixed order avoids lock-order deadlocks
        for contact in (
            Contact.objects.select_for_update()
            .filter(list=email_list, email__in=part)
            .order_by("email")
        ):
            found[contact.email] = contact
    return found


def insert_contacts(contacts: Sequence[Contact]) -> None:
    """Insert new contacts in address order. Two writers inserting overlapping
    addresses then wait on each other in the same order, never in a cycle
    (which PostgreSQL would abort as a deadlock)."""
    for part in chunks(sorted(contacts, key=lambda c: c.email)):
        Contact.objects.bulk_create(part)


def _is_transient(error: DatabaseError) -> bool:
    if isinstance(error, IntegrityError):
        return True
    # PostgreSQL's deadlock_detected and serialization_failure: safe to run again.
    return getattr(getattr(error, "__cause__", None), "sqlstate", None) in {"40P01", "40001"}


def retry_on_conflict(work: Callable[[], T], *, attempts: int = 3) -> T:
    """Run ``work`` in a transaction, again if a concurrent transaction
    inserted the same contact first (the unique constraint raced us; the retry
    finds and updates that row instead) or the database broke a deadlock."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                return work()
        except DatabaseError as error:
            if attempt == attempts - 1 or not _is_transient(error):
                raise
    raise AssertionError("unreachable")


def activity_for(
    contact: Contact, kind: str, now: datetime.datetime, **details: object
) -> Activity:
    """An unsaved activity of ``contact`` (the contact may be unsaved too; its
    id is taken when the activity is inserted)."""
    return Activity(
        contact=contact,
        list_id=contact.list_id,
        email=contact.email,
        kind=kind,
        occurred_at=now,
        details=details,
    )
