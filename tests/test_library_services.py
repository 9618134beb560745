"""The rules of campaigns, saved audiences and folders, as the API and the
admin both meet them through their services."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from broadcasts.library import (
    AudienceInUse,
    NoConditions,
    create_campaign,
    create_saved_audience,
    delete_campaign,
    delete_saved_audience,
    rename_campaign,
    update_saved_audience,
)
from broadcasts.models import Broadcast, Campaign, SavedAudience
from lists.folders import FolderNameTaken, create_folder, delete_folder, rename_folder
from lists.models import Folder, List
from lists.services import NameTaken, UnknownFolder, create_list, update_list
from tests.factories import ListFactory, MessageFactory

pytestmark = pytest.mark.django_db


def first_name_is(email_list: List, name: str) -> dict:
    """Criteria naming the field as a client may: by name, in any case."""
    return {
        "filters": [
            {
                "segmentationField": "first name",
                "compareType": "equals",
                "values": [{"value": name}],
            }
        ]
    }


# --- Campaigns ---------------------------------------------------------------------------


def test_a_renamed_or_deleted_campaign_keeps_its_broadcasts(shop):
    spring = create_campaign(email_list=shop, name="Spring")
    broadcast = Broadcast.objects.create(
        list=shop, name="April", message=MessageFactory(list=shop), campaign=spring
    )
    rename_campaign(campaign=spring, name="Spring 2027")
    assert Campaign.objects.get().name == "Spring 2027"
    delete_campaign(campaign=spring)
    broadcast.refresh_from_db()
    assert broadcast.campaign is None


def test_renaming_a_campaign_deleted_meanwhile_says_it_is_gone(shop):
    spring = create_campaign(email_list=shop, name="Spring")
    Campaign.objects.filter(pk=spring.pk).delete()
    with pytest.raises(Campaign.DoesNotExist):
        rename_campaign(campaign=spring, name="Summer")


# --- Saved audiences -------------------------------------------------------------------


def test_an_audiences_criteria_are_stored_in_their_canonical_form(shop):
    audience = create_saved_audience(
        email_list=shop, name="Adas", criteria=first_name_is(shop, "Ada")
    )
    field = shop.profile_fields.get(name="First Name")
    assert SavedAudience.objects.get(pk=audience.pk).criteria == {
        "filters": [
            {"segmentationFieldId": field.pk, "compareType": "Equals", "values": [{"value": "Ada"}]}
        ]
    }


def test_criteria_on_a_field_the_list_lacks_are_refused_naming_the_place(shop):
    criteria = {"filters": [{"segmentationField": "Shoe Size", "compareType": "Equals",
                             "values": [{"value": "9"}]}]}  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        create_saved_audience(email_list=shop, name="Big feet", criteria=criteria)
    assert "filters[0].segmentationField" in " ".join(refused.value.messages)
    assert "Shoe Size" in " ".join(refused.value.messages)
    assert not SavedAudience.objects.exists()


def test_an_audience_without_conditions_is_refused(shop):
    for empty in ({}, None):
        with pytest.raises(NoConditions, match="at least one condition"):
            create_saved_audience(email_list=shop, name="Everyone", criteria=empty)
    assert not SavedAudience.objects.exists()


def test_an_audience_has_no_engagement_conditions(shop):
    message = MessageFactory(list=shop)
    criteria = {"filters": [{"engagement": "Opened", "message": message.pk}]}
    with pytest.raises(ValidationError, match="counts the emails of a conversation"):
        create_saved_audience(email_list=shop, name="Openers", criteria=criteria)


def test_criteria_that_are_not_an_object_are_refused(shop):
    with pytest.raises(ValidationError, match="JSON object"):
        create_saved_audience(email_list=shop, name="List", criteria=["Ada"])


def test_an_audience_name_is_once_per_list_whatever_its_case(shop):
    create_saved_audience(email_list=shop, name="Adas", criteria=first_name_is(shop, "Ada"))
    with pytest.raises(NameTaken, match="already has a saved audience named 'ADAS'"):
        create_saved_audience(email_list=shop, name="ADAS", criteria=first_name_is(shop, "Ada"))
    other = ListFactory()
    other.profile_fields.create(group=other.field_groups.create(name="G"), name="First Name")
    create_saved_audience(email_list=other, name="Adas", criteria=first_name_is(other, "Ada"))
    assert SavedAudience.objects.count() == 2


def test_updating_an_audience_checks_it_again_and_marks_when(shop):
    audience = create_saved_audience(
        email_list=shop, name="Adas", criteria=first_name_is(shop, "Ada")
    )
    SavedAudience.objects.filter(pk=audience.pk).update(
        modified_at=timezone.now() - datetime.timedelta(days=3)
    )
    audience.refresh_from_db()
    before = audience.modified_at
    update_saved_audience(audience=audience, name="Bobs", criteria=first_name_is(shop, "Bob"))
    audience.refresh_from_db()
    assert audience.name == "Bobs"
    assert audience.criteria["filters"][0]["values"] == [{"value": "Bob"}]
    assert audience.modified_at > before
    with pytest.raises(NoConditions):
        update_saved_audience(audience=audience, name="Bobs", criteria={})
    audience.refresh_from_db()
    assert audience.criteria["filters"][0]["values"] == [{"value": "Bob"}]


def test_an_audience_a_broadcast_has_chosen_is_not_deleted(shop):
    audience = create_saved_audience(
        email_list=shop, name="Adas", criteria=first_name_is(shop, "Ada")
    )
    Broadcast.objects.create(
        list=shop, name="April news", message=MessageFactory(list=shop), saved_audience=audience
    )
    with pytest.raises(AudienceInUse, match="chosen by broadcast 'April news'"):
        delete_saved_audience(audience=audience)
    assert SavedAudience.objects.filter(pk=audience.pk).exists()
    Broadcast.objects.all().delete()
    delete_saved_audience(audience=audience)
    assert not SavedAudience.objects.exists()


# --- Folders -----------------------------------------------------------------------------


def test_a_folder_name_is_once_whatever_its_case():
    seasonal = create_folder(name="Seasonal")
    with pytest.raises(FolderNameTaken, match="already a folder named 'SEASONAL'"):
        create_folder(name="SEASONAL")
    archive = create_folder(name="Archive")
    with pytest.raises(FolderNameTaken):
        rename_folder(folder=archive, name="seasonal")
    rename_folder(folder=seasonal, name="SEASONAL")  # its own name
    assert sorted(Folder.objects.values_list("name", flat=True)) == ["Archive", "SEASONAL"]


def test_a_list_goes_in_a_folder_and_stays_when_the_folder_is_deleted():
    folder = create_folder(name="Seasonal")
    email_list = create_list(name="Outlet", folder=folder)
    assert List.objects.get(pk=email_list.pk).folder == folder
    delete_folder(folder=folder)
    assert List.objects.get(pk=email_list.pk).folder is None


def test_a_folder_deleted_meanwhile_is_refused_and_the_list_unchanged(shop):
    folder = create_folder(name="Seasonal")
    Folder.objects.filter(pk=folder.pk).delete()
    with pytest.raises(UnknownFolder, match=f"There is no folder {folder.pk}"):
        update_list(email_list=shop, name="Renamed", folder=folder)
    shop.refresh_from_db()
    assert (shop.name, shop.folder) == ("Shop", None)
    with pytest.raises(UnknownFolder):
        create_list(name="Outlet", folder=folder)
    assert not List.objects.filter(name="Outlet").exists()


def test_a_campaign_of_a_list_deleted_meanwhile_says_the_list_is_gone(shop):
    gone = ListFactory(name="Gone")
    List.objects.filter(pk=gone.pk).delete()
    with pytest.raises(List.DoesNotExist):
        create_campaign(email_list=gone, name="Spring")
    assert not Campaign.objects.exists()
