"""Who a broadcast goes to, as one query: the list's subscribed contacts,
narrowed by its filter criteria or saved audience, by its split-test group's
share, and for a split test's remainder, less those a group was sent to.

Nothing here reads contacts into Python: ``broadcasts.sending`` puts this
query inside ``INSERT … SELECT`` statements, a slice of ids at a time.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Mod

from broadcasts.models import Broadcast, SavedAudience
from conductor.filters.parsing import parse_criteria
from conductor.filters.sql import criteria_q
from contacts.models import Contact, SubscriptionState
from emails.models import Delivery
from lists.models import List

#: A contact's bucket, 0 to 9,999: ``id * 7,919 mod 10,000``. 7,919 is prime
#: to 10,000, so every run of 10,000 consecutive ids fills each bucket once:
#: a split test's groups are disjoint, of equal size, and spread over the
#: whole list rather than its oldest or newest contacts.
BUCKETS = 10_000
BUCKET_STRIDE = 7_919
REMAINDER = "Remainder"


def check_criteria(email_list: List, criteria: Any) -> dict[str, Any]:
    """``criteria`` when they are valid filter criteria of ``email_list`` (an
    empty value means everyone: ``{}``); else a ValidationError naming every
    problem. A broadcast belongs to no conversation, so engagement conditions
    (which count a conversation's emails) are refused."""
    if not criteria:
        return {}
    if not isinstance(criteria, dict):
        raise ValidationError("The audience's criteria are a JSON object with a filters list.")
    parse_criteria(email_list, criteria)
    return criteria


def audience_criteria(
    *, criteria: dict[str, Any], saved_audience: SavedAudience | None
) -> dict[str, Any]:
    """The criteria that choose the audience: the saved audience's as it is
    now, else the broadcast's own."""
    return saved_audience.criteria if saved_audience is not None else (criteria or {})


def matching_contacts(
    email_list: List, *, criteria: dict[str, Any], saved_audience: SavedAudience | None = None
) -> QuerySet[Contact]:
    """The list's subscribed contacts the criteria (or saved audience) choose."""
    contacts = Contact.objects.filter(list=email_list, state=SubscriptionState.SUBSCRIBED)
    chosen = audience_criteria(criteria=criteria, saved_audience=saved_audience)
    if chosen:
        contacts = contacts.filter(criteria_q(parse_criteria(email_list, chosen)))
    return contacts


def recipients(broadcast: Broadcast) -> QuerySet[Contact]:
    """The contacts ``broadcast`` goes to if it were sent now; once started,
    by the criteria it froze then (a saved audience's as they were)."""
    if broadcast.started_at is not None:
        contacts = matching_contacts(broadcast.list, criteria=broadcast.criteria)
    else:
        contacts = matching_contacts(
            broadcast.list, criteria=broadcast.criteria, saved_audience=broadcast.saved_audience
        )
    if broadcast.bucket_from is not None and broadcast.bucket_to is not None:
        contacts = contacts.alias(bucket=Mod(F("pk") * BUCKET_STRIDE, BUCKETS)).filter(
            bucket__gte=broadcast.bucket_from, bucket__lt=broadcast.bucket_to
        )
    if broadcast.split_test_id is not None and broadcast.split_group == REMAINDER:
        contacts = contacts.exclude(Q(Exists(_group_emails(broadcast.split_test_id))))
    return contacts


def _group_emails(split_test_id: int) -> QuerySet[Delivery]:
    """The emails of the split test's groups, per contact (for ``OuterRef``):
    one probe of the deliveries' (source, contact) key each."""
    groups = list(
        Broadcast.objects.filter(split_test_id=split_test_id)
        .exclude(split_group=REMAINDER)
        .values_list("pk", flat=True)
    )
    return Delivery.objects.filter(
        source_type=broadcast_type(), source_id__in=groups, contact_id=OuterRef("pk")
    )


def broadcast_type() -> ContentType:
    """The content type of broadcasts, the source of their deliveries."""
    return ContentType.objects.get_for_model(Broadcast)
