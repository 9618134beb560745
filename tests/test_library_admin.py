"""Campaigns, saved audiences and folders in the admin: what a marketer does
with them, and that each page, action and count is refused to staff without
the model permission it needs."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone

from broadcasts.library import create_campaign, create_saved_audience
from broadcasts.models import Broadcast, Campaign, SavedAudience
from contacts.models import SubscriptionState
from lists.folders import create_folder
from lists.models import Folder, List
from tests.factories import ContactFactory, ListFactory, MessageFactory
from tests.staff import staff
from tests.test_security_api_permissions import snapshot

pytestmark = pytest.mark.django_db


def page(response: Any) -> str:
    return html.unescape(response.content.decode())


def ada_criteria(email_list: List) -> dict[str, Any]:
    field = email_list.profile_fields.get(name="First Name")
    return {
        "filters": [
            {"segmentationFieldId": field.pk, "compareType": "Equals", "values": [{"value": "Ada"}]}
        ]
    }


@pytest.fixture
def contacts(shop: List) -> None:
    first_name = shop.profile_fields.get(name="First Name")
    for n, name in enumerate(["Ada", "Ada", "Bob"]):
        ContactFactory(list=shop, email=f"c{n}@example.com", profile={first_name.key: name})
    ContactFactory(
        list=shop,
        email="gone@example.com",
        profile={first_name.key: "Ada"},
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at=timezone.now(),
    )


@pytest.fixture
def adas(shop: List) -> SavedAudience:
    return create_saved_audience(email_list=shop, name="Adas", criteria=ada_criteria(shop))


def url(model: type[Model], kind: str, *args: object) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{kind}", args=args)


def count_url(email_list: List) -> str:
    return reverse("admin:broadcasts_savedaudience_criteria_count", args=[email_list.pk])


# --- Campaigns ---------------------------------------------------------------------------


def test_the_campaigns_list_says_how_many_broadcasts_each_groups(shop):
    spring = create_campaign(email_list=shop, name="Spring")
    create_campaign(email_list=shop, name="Quiet")
    for name in ("April", "May"):
        Broadcast.objects.create(
            list=shop, name=name, message=MessageFactory(list=shop), campaign=spring
        )
    response = staff("broadcasts.view_campaign").get(url(Campaign, "changelist"))
    text = page(response)
    assert response.status_code == 200
    assert '<td class="field-broadcast_count">2</td>' in text
    assert '<td class="field-broadcast_count">0</td>' in text


def test_a_campaign_is_added_renamed_and_deleted_leaving_its_broadcasts(shop):
    client = staff(
        "broadcasts.view_campaign",
        "broadcasts.add_campaign",
        "broadcasts.change_campaign",
        "broadcasts.delete_campaign",
    )
    response = client.post(url(Campaign, "add"), {"name": "Spring", "list": shop.pk})
    assert response.status_code == 302
    spring = Campaign.objects.get()
    broadcast = Broadcast.objects.create(
        list=shop, name="April", message=MessageFactory(list=shop), campaign=spring
    )
    other = ListFactory()
    response = client.post(
        url(Campaign, "change", spring.pk), {"name": "Spring 27", "list": other.pk}
    )
    assert response.status_code == 302
    spring.refresh_from_db()
    assert (spring.name, spring.list) == ("Spring 27", shop)  # the list stays
    response = client.post(url(Campaign, "delete", spring.pk), {"post": "yes"})
    assert response.status_code == 302
    broadcast.refresh_from_db()
    assert broadcast.campaign is None


def test_campaign_pages_need_their_permissions(shop):
    spring = create_campaign(email_list=shop, name="Spring")
    before = snapshot()
    nobody = staff()
    for kind, args in (("changelist", ()), ("add", ()), ("change", (spring.pk,))):
        assert nobody.get(url(Campaign, kind, *args)).status_code == 403, kind
    viewer = staff("broadcasts.view_campaign")
    assert viewer.get(url(Campaign, "change", spring.pk)).status_code == 200
    assert viewer.post(url(Campaign, "add"), {"name": "X", "list": shop.pk}).status_code == 403
    response = viewer.post(url(Campaign, "change", spring.pk), {"name": "Mine"})
    assert response.status_code == 403
    assert viewer.post(url(Campaign, "delete", spring.pk), {"post": "yes"}).status_code == 403
    response = viewer.post(
        url(Campaign, "changelist"), {"action": "delete_selected", "_selected_action": [spring.pk]}
    )
    assert response.status_code == 403
    assert snapshot() == before


# --- Saved audiences: building one -------------------------------------------------------


def test_a_new_audience_asks_for_its_list_first(shop):
    ListFactory(name="Outlet")
    client = staff("broadcasts.add_savedaudience")
    response = client.get(url(SavedAudience, "add"))
    text = page(response)
    assert "Which list is it of?" in text
    assert f'href="{url(SavedAudience, "add")}?list={shop.pk}">Shop</a>' in text


def test_with_one_list_a_new_audience_goes_straight_to_it(shop):
    response = staff("broadcasts.add_savedaudience").get(url(SavedAudience, "add"))
    assert response.status_code == 302
    assert response["Location"] == f"{url(SavedAudience, 'add')}?list={shop.pk}"


def test_the_add_page_offers_the_builder_with_the_lists_fields_and_no_engagement(shop):
    MessageFactory(list=shop, name="Welcome")
    response = staff("broadcasts.add_savedaudience").get(
        f"{url(SavedAudience, 'add')}?list={shop.pk}"
    )
    text = page(response)
    assert 'class="criteria-builder"' in text
    island = re.search(r'<script id="id_criteria_builder_data"[^>]*>(.*?)</script>', text, re.S)
    assert island is not None
    data = json.loads(island.group(1))
    assert {f["name"] for f in data["fields"]} == {"First Name", "Birthday", "Points", "VIP"}
    assert data["messages"] == [] and data["engagements"] == []
    assert data["countUrl"] == count_url(shop)
    assert data["list"] == "Shop"


def test_a_marketer_saves_an_audience_from_the_builders_json(shop):
    client = staff("broadcasts.view_savedaudience", "broadcasts.add_savedaudience")
    first_name = shop.profile_fields.get(name="First Name")
    built = {"filters": [{"segmentationFieldId": first_name.pk, "compareType": "Equals",
                          "values": [{"value": "Ada"}]}]}  # fmt: skip
    response = client.post(
        f"{url(SavedAudience, 'add')}?list={shop.pk}",
        {"name": "Adas", "criteria": json.dumps(built)},
    )
    assert response.status_code == 302, page(response)
    audience = SavedAudience.objects.get()
    assert (audience.name, audience.list, audience.criteria) == ("Adas", shop, built)


@pytest.mark.parametrize(
    ("criteria", "words"),
    [
        ("", "Add at least one condition"),
        ("{not json", "Criteria are not valid JSON"),
        (
            '{"filters": [{"segmentationField": "Shoe Size", "compareType": "Equals", '
            '"values": [{"value": "9"}]}]}',
            "filters[0].segmentationField",
        ),
    ],
)
def test_wrong_conditions_are_shown_and_nothing_is_saved(shop, criteria, words):
    client = staff("broadcasts.view_savedaudience", "broadcasts.add_savedaudience")
    response = client.post(
        f"{url(SavedAudience, 'add')}?list={shop.pk}", {"name": "X", "criteria": criteria}
    )
    assert response.status_code == 200
    assert words in page(response)
    assert not SavedAudience.objects.exists()


def test_a_name_the_list_has_is_an_error_on_the_name(shop, adas):
    client = staff("broadcasts.view_savedaudience", "broadcasts.add_savedaudience")
    response = client.post(
        f"{url(SavedAudience, 'add')}?list={shop.pk}",
        {"name": "ADAS", "criteria": json.dumps(ada_criteria(shop))},
    )
    assert "The list already has a saved audience named 'ADAS' (names ignore case)." in page(
        response
    )
    assert SavedAudience.objects.count() == 1


def test_the_change_page_shows_the_saved_rows_and_keeps_the_list(shop, adas):
    client = staff("broadcasts.view_savedaudience", "broadcasts.change_savedaudience")
    text = page(client.get(url(SavedAudience, "change", adas.pk)))
    assert 'class="criteria-builder"' in text
    assert '"compareType": "Equals"' in text  # the JSON the rows are drawn from
    other = ListFactory()
    criteria = ada_criteria(shop)
    criteria["filters"][0]["values"] = [{"value": "Bob"}]
    response = client.post(
        url(SavedAudience, "change", adas.pk),
        {"name": "Bobs", "list": other.pk, "criteria": json.dumps(criteria)},
    )
    assert response.status_code == 302, page(response)
    adas.refresh_from_db()
    assert (adas.name, adas.list, adas.criteria) == ("Bobs", shop, criteria)


def test_the_list_of_audiences_shows_conditions_in_words_without_counting(shop, adas):
    client = staff("broadcasts.view_savedaudience")
    text = page(client.get(url(SavedAudience, "changelist")))
    assert "First Name is “Ada”" in text
    assert "match" not in text.lower().split("<table")[1]  # no count per row


def test_an_audience_a_broadcast_has_chosen_is_not_deleted_and_says_why(shop, adas):
    Broadcast.objects.create(
        list=shop, name="April news", message=MessageFactory(list=shop), saved_audience=adas
    )
    client = staff("broadcasts.view_savedaudience", "broadcasts.delete_savedaudience")
    response = client.post(url(SavedAudience, "delete", adas.pk), {"post": "yes"}, follow=True)
    text = page(response)
    assert "Cannot delete saved audience" in text
    assert "would require deleting the following protected related objects" in text
    assert "permission" not in text.split("<main")[1]  # not a permission it lacks
    assert ">April news</a>" in text
    assert SavedAudience.objects.filter(pk=adas.pk).exists()


# --- Saved audiences: the live count ------------------------------------------------------


def test_the_count_says_how_many_subscribed_contacts_match_now(shop, contacts):
    client = staff("broadcasts.view_savedaudience")
    criteria = json.dumps(ada_criteria(shop))
    assert client.get(count_url(shop), {"criteria": criteria}).json() == {"count": 2}
    assert client.post(count_url(shop), {"criteria": criteria}).json() == {"count": 2}
    assert client.get(count_url(shop)).json() == {"count": 3}  # no conditions: every one


def test_the_count_names_what_is_wrong_with_the_criteria(shop):
    client = staff("broadcasts.add_savedaudience")  # adding one may count too
    response = client.get(count_url(shop), {"criteria": "[1]"})
    assert response.status_code == 400
    assert response.json()["error"] == "Criteria must be a JSON object (a Listrak filter)."
    bad = {"filters": [{"segmentationField": "Nope", "compareType": "Equals",
                        "values": [{"value": "x"}]}]}  # fmt: skip
    body = client.get(count_url(shop), {"criteria": json.dumps(bad)}).json()
    assert body["problems"][0].startswith("filters[0].segmentationField:")
    assert client.get(count_url(shop), {"criteria": "{oops"}).status_code == 400
    assert (
        client.get(
            reverse("admin:broadcasts_savedaudience_criteria_count", args=[999999])
        ).status_code
        == 404
    )


def test_the_view_only_page_shows_the_conditions_in_words_and_the_count(shop, contacts, adas):
    text = page(staff("broadcasts.view_savedaudience").get(url(SavedAudience, "change", adas.pk)))
    assert 'class="criteria-builder"' not in text
    assert "First Name is “Ada”" in text
    assert "Subscribed contacts matching now" in text
    assert '<div class="readonly">2</div>' in text


# --- Saved audiences: refusals -------------------------------------------------------------


def test_saved_audience_pages_and_the_count_need_their_permissions(shop, contacts, adas):
    before = snapshot()
    nobody = staff()
    add = f"{url(SavedAudience, 'add')}?list={shop.pk}"
    for address in (
        url(SavedAudience, "changelist"),
        url(SavedAudience, "add"),
        add,
        url(SavedAudience, "change", adas.pk),
        url(SavedAudience, "delete", adas.pk),
        count_url(shop),
    ):
        assert nobody.get(address).status_code == 403, address
    body = {"name": "Bobs", "criteria": json.dumps(ada_criteria(shop))}
    viewer = staff("broadcasts.view_savedaudience")
    assert viewer.post(add, body).status_code == 403
    assert viewer.post(url(SavedAudience, "change", adas.pk), body).status_code == 403
    assert viewer.post(url(SavedAudience, "delete", adas.pk), {"post": "yes"}).status_code == 403
    response = viewer.post(
        url(SavedAudience, "changelist"),
        {"action": "delete_selected", "_selected_action": [adas.pk]},
    )
    assert response.status_code == 403
    assert snapshot() == before


# --- Folders -----------------------------------------------------------------------------


def test_a_folder_is_added_lists_are_put_in_it_and_filtered_by_it(shop):
    client = staff("lists.view_folder", "lists.add_folder", "lists.view_list", "lists.change_list")
    assert client.post(url(Folder, "add"), {"name": "Seasonal"}).status_code == 302
    folder = Folder.objects.get()
    form = client.get(url(List, "change", shop.pk))
    assert 'name="folder"' in page(form)
    body = {
        "name": "Shop",
        "folder": folder.pk,
        "from_name": "",
        "from_email": "",
        "time_zone": shop.time_zone,
        "double_opt_in": "",
        "bounce_handling": shop.bounce_handling,
        "bounce_unsubscribe_count": shop.bounce_unsubscribe_count,
        "field_groups-TOTAL_FORMS": 0,
        "field_groups-INITIAL_FORMS": 0,
        "profile_fields-TOTAL_FORMS": 0,
        "profile_fields-INITIAL_FORMS": 0,
    }
    response = client.post(url(List, "change", shop.pk), body)
    assert response.status_code == 302, page(response)
    shop.refresh_from_db()
    assert shop.folder == folder
    ListFactory(name="Outlet")
    listed = page(client.get(url(List, "changelist"), {"folder__id__exact": folder.pk}))
    assert "Shop" in listed and "Outlet" not in listed
    folders = page(client.get(url(Folder, "changelist")))
    assert f'?folder__id__exact={folder.pk}">1</a>' in folders


def test_a_taken_folder_name_is_an_error_on_the_name():
    create_folder(name="Seasonal")
    client = staff("lists.view_folder", "lists.add_folder")
    response = client.post(url(Folder, "add"), {"name": "SEASONAL"})
    assert "There is already a folder named 'SEASONAL' (names ignore case)." in page(response)
    assert Folder.objects.count() == 1


def test_deleting_a_folder_leaves_its_lists(shop):
    folder = create_folder(name="Seasonal")
    List.objects.filter(pk=shop.pk).update(folder=folder)
    client = staff("lists.view_folder", "lists.delete_folder")
    assert client.post(url(Folder, "delete", folder.pk), {"post": "yes"}).status_code == 302
    shop.refresh_from_db()
    assert shop.folder is None


def test_folder_pages_need_their_permissions(shop):
    folder = create_folder(name="Seasonal")
    before = snapshot()
    nobody = staff()
    for kind, args in (("changelist", ()), ("add", ()), ("change", (folder.pk,))):
        assert nobody.get(url(Folder, kind, *args)).status_code == 403, kind
    viewer = staff("lists.view_folder")
    assert viewer.post(url(Folder, "add"), {"name": "X"}).status_code == 403
    assert viewer.post(url(Folder, "change", folder.pk), {"name": "Y"}).status_code == 403
    assert viewer.post(url(Folder, "delete", folder.pk), {"post": "yes"}).status_code == 403
    assert snapshot() == before
