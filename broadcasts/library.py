"""Writes of what broadcasts are made from, kept per list: campaigns, which
group them under one name, and saved audiences, named criteria choosing
whom they go to. The API and the admin both write through these.

A saved audience's criteria are Listrak filter criteria over the list's
profile fields, checked as a Go To step's are (``conductor.filters``) and
stored in their canonical form (fields by id). Engagement conditions count
a conversation's emails, so an audience, which belongs to none, has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from broadcasts.models import Campaign, SavedAudience
from conductor.filters import parse_criteria
from lists.models import List
from lists.services import RESOURCE_DEPENDENCY, NameTaken, Refusal, shown

# --- Campaigns ---------------------------------------------------------------------------


def create_campaign(*, email_list: List, name: str) -> Campaign:
    """Add a campaign named ``name`` to ``email_list``; a list deleted
    meanwhile is ``List.DoesNotExist``."""
    with transaction.atomic():
        _keep_list(email_list)
        return Campaign.objects.create(list=email_list, name=name)


def rename_campaign(*, campaign: Campaign, name: str) -> None:
    """Rename ``campaign``; one deleted meanwhile is ``Campaign.DoesNotExist``."""
    if not Campaign.objects.filter(pk=campaign.pk).update(name=name):
        raise Campaign.DoesNotExist(f"Campaign {campaign.pk} is gone.")
    campaign.name = name


def delete_campaign(*, campaign: Campaign) -> None:
    """Delete ``campaign``. Its broadcasts, split tests and saved and
    transactional messages stay, in no campaign."""
    campaign.delete()


def _keep_list(email_list: List) -> None:
    """Refuse (``List.DoesNotExist``) a list deleted meanwhile, and keep it
    from being deleted until the transaction ends: its rows' foreign keys
    are checked only at the commit, too late to say so."""
    if not List.objects.select_for_update(no_key=True).filter(pk=email_list.pk).exists():
        raise List.DoesNotExist(f"List {email_list.pk} is gone.")


# --- Saved audiences -----------------------------------------------------------------------


class NoConditions(Refusal):
    code = "no_conditions"
    about = "criteria"

    def worded(self) -> str:
        return (
            "Add at least one condition: without any, the audience would be every "
            "subscribed contact of the list, which a broadcast gets without an audience."
        )


class AudienceInUse(Refusal):
    """Broadcasts and split tests keep the audience they were sent to."""

    code = RESOURCE_DEPENDENCY

    def __init__(self, *, audience: SavedAudience, users: list[str]) -> None:
        self.audience_name, self.users = audience.name, users
        super().__init__()

    def worded(self) -> str:
        return (
            f"The saved audience {self.audience_name!r} is chosen by {shown(self.users)}; "
            "it stays while they do."
        )


def checked_criteria(*, email_list: List, criteria: Any) -> dict[str, Any]:
    """``criteria`` (Listrak's filter shape) checked against ``email_list``'s
    profile fields, in their stored form. A ValidationError names every
    problem with its place in the criteria, as on a Go To step."""
    if not criteria:
        raise NoConditions()
    if not isinstance(criteria, Mapping):
        raise ValidationError(
            {"criteria": "Criteria must be a JSON object (a Listrak filter)."},
            code="invalid_criteria",
        )
    try:
        parsed = parse_criteria(email_list, criteria)
    except ValidationError as problems:
        raise ValidationError({"criteria": problems.error_list}) from None
    return parsed.to_settings()


def create_saved_audience(*, email_list: List, name: str, criteria: Any) -> SavedAudience:
    """Save ``criteria`` as an audience of ``email_list`` named ``name``
    (NameTaken when the list has one of that name, whatever its case; a
    list deleted meanwhile is ``List.DoesNotExist``)."""
    audience = SavedAudience(
        list=email_list,
        name=name,
        criteria=checked_criteria(email_list=email_list, criteria=criteria),
    )
    check_audience_name_free(email_list=email_list, name=name)
    try:
        with transaction.atomic():
            _keep_list(email_list)
            audience.save(force_insert=True)
    except IntegrityError:  # the name, taken meanwhile
        raise NameTaken(noun="saved audience", name=name) from None
    return audience


def update_saved_audience(*, audience: SavedAudience, name: str, criteria: Any) -> None:
    """Rename ``audience`` and replace its criteria; broadcasts that are yet
    to choose their recipients choose them by the new criteria. One deleted
    meanwhile is ``SavedAudience.DoesNotExist``."""
    changes = {
        "name": name,
        "criteria": checked_criteria(email_list=audience.list, criteria=criteria),
        "modified_at": timezone.now(),
    }
    for key, value in changes.items():
        setattr(audience, key, value)
    check_audience_name_free(email_list=audience.list, name=name, audience=audience)
    try:
        with transaction.atomic():
            if not SavedAudience.objects.filter(pk=audience.pk).update(**changes):
                raise SavedAudience.DoesNotExist(f"Saved audience {audience.pk} is gone.")
    except IntegrityError:
        raise NameTaken(noun="saved audience", name=name) from None


def delete_saved_audience(*, audience: SavedAudience) -> None:
    """Delete ``audience``; refused (:class:`AudienceInUse`) while a
    broadcast or split test has chosen it."""
    try:
        with transaction.atomic():
            audience.delete()
    except ProtectedError as protected:
        users = sorted(f"{o._meta.verbose_name} {str(o)!r}" for o in protected.protected_objects)
        raise AudienceInUse(audience=audience, users=users) from None


def check_audience_name_free(
    *, email_list: List, name: str, audience: SavedAudience | None = None
) -> None:
    """Refuse (NameTaken) a name another audience of ``email_list`` has,
    whatever its case."""
    others = SavedAudience.objects.filter(list=email_list, name__iexact=name)
    if audience is not None and audience.pk is not None:
        others = others.exclude(pk=audience.pk)
    if others.exists():
        raise NameTaken(noun="saved audience", name=name)
