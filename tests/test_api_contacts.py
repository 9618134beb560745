"""The Contact resource, driven as a Listrak client drives it."""

from __future__ import annotations

import datetime

import pytest

from contacts.models import Activity, ActivityKind, Ban, Contact, SubscriptionState, Suppression
from lists.models import EventStatus, ProfileField
from tests.api_helpers import assert_error
from tests.factories import ContactFactory, EventFactory, ListFactory

pytestmark = pytest.mark.django_db


def field(email_list, name: str) -> ProfileField:
    return ProfileField.objects.get(list=email_list, name=name)


def post(api, email_list, body, query: str = ""):
    return api.post(f"List/{email_list.pk}/Contact{query}", body)


def values(email_list, **named: str) -> list[dict]:
    return [
        {"segmentationFieldId": field(email_list, name.replace("_", " ")).pk, "value": value}
        for name, value in named.items()
    ]


def contact(email_list, email: str) -> Contact:
    return Contact.objects.get(list=email_list, email=email)


def test_it_creates_a_subscribed_contact_with_its_profile_values(api, shop):
    response = post(
        api,
        shop,
        {
            "emailAddress": "Ada@Example.com",
            "subscriptionState": "Subscribed",
            "externalContactID": "C-1",
            "segmentationFieldValues": values(shop, First_Name="Ada", Birthday="12/10/1815"),
        },
    )
    assert response.status_code == 201
    assert response.json() == {"status": 201, "resourceId": "ada@example.com"}
    ada = contact(shop, "ada@example.com")
    assert ada.state == SubscriptionState.SUBSCRIBED
    assert ada.subscribe_method == "API"
    assert ada.external_contact_id == "C-1"
    assert ada.profile == {
        field(shop, "First Name").key: "Ada",
        field(shop, "Birthday").key: "1815-12-10",
    }
    kinds = list(Activity.objects.filter(contact=ada).values_list("kind", flat=True))
    assert kinds == [ActivityKind.SUBSCRIBED]  # the values are part of the creation


def test_it_reads_a_contact_by_address_or_email_key_in_listraks_shape(api, shop):
    post(
        api,
        shop,
        {"emailAddress": "ada@example.com", "segmentationFieldValues": values(shop, Points="12.5")},
    )
    ada = contact(shop, "ada@example.com")
    points = field(shop, "Points")
    for identifier in ("ADA@example.com", ada.email_key):
        response = api.get(f"List/{shop.pk}/Contact/{identifier}?segmentationFieldIds={points.pk}")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == 200
        data = body["data"]
        assert data["emailAddress"] == "ada@example.com"
        assert data["emailKey"] == ada.email_key
        assert data["universalEmailKey"] == ada.universal_email_key
        assert data["subscriptionState"] == "Subscribed"
        assert data["subscribeDate"].endswith("Z")
        assert data["resubscribeDate"] is None
        assert data["subscribeMethod"] == "API"
        assert data["unsubscribeDate"] is None
        assert data["unsubscribeMethod"] is None
        assert data["externalContactID"] is None
        assert data["segmentationFieldValues"] == [
            {
                "segmentationFieldGroupId": points.group_id,
                "segmentationFieldId": points.pk,
                "value": "12.5",
            }
        ]


def test_it_matches_field_names_without_regard_to_case_as_dotnet_clients_send_them(api, shop):
    response = post(
        api,
        shop,
        {
            "EmailAddress": "grace@example.com",
            "SubscriptionState": "Subscribed",
            "SegmentationFieldValues": [
                {"SegmentationFieldId": field(shop, "VIP").pk, "Value": "true"}
            ],
        },
    )
    assert response.status_code == 201, response.content
    assert contact(shop, "grace@example.com").profile == {field(shop, "VIP").key: "on"}


def test_it_ignores_read_only_fields_a_client_sends_back(api, shop):
    response = post(
        api,
        shop,
        {
            "emailAddress": "grace@example.com",
            "emailKey": "x",
            "subscribeDate": "2020-01-01T00:00:00Z",
        },
    )
    assert response.status_code == 201


def test_it_refuses_an_unknown_field_by_name_and_creates_nothing(api, shop):
    response = post(api, shop, {"emailAddress": "grace@example.com", "favouriteColour": "red"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "favouriteColour")
    assert not Contact.objects.exists()


def test_it_refuses_a_value_that_does_not_fit_its_field_and_creates_nothing(api, shop):
    response = post(
        api,
        shop,
        {
            "emailAddress": "grace@example.com",
            "segmentationFieldValues": values(shop, Points="lots"),
        },
    )
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "Points", "lots")
    assert not Contact.objects.exists()


def test_it_refuses_a_profile_field_of_another_list(api, shop):
    other = ListFactory()
    from tests.factories import ProfileFieldFactory

    foreign = ProfileFieldFactory(list=other, group__list=other)
    response = post(
        api,
        shop,
        {
            "emailAddress": "grace@example.com",
            "segmentationFieldValues": [{"segmentationFieldId": foreign.pk, "value": "x"}],
        },
    )
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", str(foreign.pk))
    assert not Contact.objects.exists()


def test_it_refuses_an_invalid_address(api, shop):
    response = post(api, shop, {"emailAddress": "not an address"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "not an address")


def test_it_refuses_a_body_without_an_address(api, shop):
    response = post(api, shop, {"subscriptionState": "Subscribed"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "emailAddress")


def test_it_refuses_a_subscription_state_it_does_not_know(api, shop):
    response = post(api, shop, {"emailAddress": "a@example.com", "subscriptionState": "Maybe"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "subscriptionState")
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("update_type", "expected"),
    [("Update", "Ada"), ("Append", "Augusta"), ("Overwrite", None)],
)
def test_it_updates_profiles_by_update_type(api, shop, update_type, expected):
    first, points = field(shop, "First Name"), field(shop, "Points")
    post(
        api,
        shop,
        {
            "emailAddress": "ada@example.com",
            "segmentationFieldValues": values(shop, First_Name="Augusta", Points="3"),
        },
    )
    body = {
        "emailAddress": "ada@example.com",
        "segmentationFieldValues": [
            {"segmentationFieldId": first.pk, "value": "Ada" if update_type != "Overwrite" else ""},
            {"segmentationFieldId": points.pk, "value": ""},
        ],
    }
    response = post(api, shop, body, f"?updateType={update_type}")
    assert response.status_code == 201
    profile = contact(shop, "ada@example.com").profile
    assert profile.get(first.key) == expected
    assert (points.key in profile) is (update_type != "Overwrite")


def test_it_refuses_an_unknown_update_type(api, shop):
    response = post(api, shop, {"emailAddress": "a@example.com"}, "?updateType=Replace")
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "updateType")
    assert not Contact.objects.exists()


def test_it_fires_the_events_named_by_event_ids(api, shop):
    cart = EventFactory(list=shop, name="Cart abandoned")
    blocked = EventFactory(list=shop, name="Old", status=EventStatus.BLOCKED)
    response = post(
        api, shop, {"emailAddress": "a@example.com"}, f"?eventIds={cart.pk},{blocked.pk}"
    )
    assert response.status_code == 201
    fired = Activity.objects.filter(kind=ActivityKind.EVENT_FIRED)
    assert [a.details["event_id"] for a in fired] == [cart.pk]  # a blocked event does nothing


def test_it_refuses_an_event_of_another_list_and_creates_nothing(api, shop):
    foreign = EventFactory()
    response = post(api, shop, {"emailAddress": "a@example.com"}, f"?eventIds={foreign.pk}")
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "eventIds", str(foreign.pk))
    assert not Contact.objects.exists()


def test_it_refuses_a_banned_address(api, shop):
    Ban.objects.create(list=shop, email="a@example.com")
    response = post(api, shop, {"emailAddress": "a@example.com"})
    assert_error(response, 400, "ERROR_BANNED_EMAIL_ADDRESS", "a@example.com")
    assert not Contact.objects.exists()


def test_it_refuses_a_suppressed_address(api, shop):
    Suppression.objects.create(email="a@example.com")
    response = post(api, shop, {"emailAddress": "a@example.com"})
    assert_error(response, 400, "ERROR_SUPPRESSED_EMAIL", "a@example.com")
    assert not Contact.objects.exists()


def unsubscribed(email_list, email: str = "gone@example.com") -> Contact:
    return ContactFactory.create(
        list=email_list,
        email=email,
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        unsubscribe_method="Unsubscribe Link",
    )


def test_it_updates_an_unsubscribed_contact_without_resubscribing_it(api, shop):
    gone = unsubscribed(shop)
    response = post(
        api,
        shop,
        {"emailAddress": gone.email, "segmentationFieldValues": values(shop, First_Name="Bo")},
    )
    assert response.status_code == 201
    gone.refresh_from_db()
    assert gone.state == SubscriptionState.UNSUBSCRIBED
    assert gone.profile == {field(shop, "First Name").key: "Bo"}


def test_it_resubscribes_an_unsubscribed_contact_only_with_override(api, shop):
    gone = unsubscribed(shop)
    response = post(api, shop, {"emailAddress": gone.email}, "?overrideUnsubscribe=true")
    assert response.status_code == 201
    gone.refresh_from_db()
    assert gone.state == SubscriptionState.SUBSCRIBED
    assert gone.resubscribed_at is not None


def test_it_refuses_events_for_an_unsubscribed_contact(api, shop):
    gone = unsubscribed(shop)
    cart = EventFactory(list=shop)
    response = post(api, shop, {"emailAddress": gone.email}, f"?eventIds={cart.pk}")
    assert_error(response, 400, "ERROR_UPDATE_UNSUBSCRIBE_WITH_EVENTS", gone.email)
    assert not Activity.objects.filter(kind=ActivityKind.EVENT_FIRED).exists()


def test_it_unsubscribes_a_contact_with_method_api(api, shop):
    ada = ContactFactory(list=shop, email="ada@example.com")
    response = post(
        api, shop, {"emailAddress": "ada@example.com", "subscriptionState": "Unsubscribed"}
    )
    assert response.status_code == 201
    ada.refresh_from_db()
    assert ada.state == SubscriptionState.UNSUBSCRIBED
    assert ada.unsubscribe_method == "API"


@pytest.mark.parametrize(
    ("query", "extra", "code"),
    [
        ("?eventIds={event}", {}, "ERROR_UNSUBSCRIBE_WITH_EVENTS"),
        ("", {"segmentationFieldValues": "points"}, "ERROR_UNSUBSCRIBE_WITH_SEGMENTATION_DATA"),
    ],
)
def test_it_refuses_to_unsubscribe_with_events_or_profile_data(api, shop, query, extra, code):
    ada = ContactFactory(list=shop, email="ada@example.com")
    event = EventFactory(list=shop)
    body = {"emailAddress": ada.email, "subscriptionState": "Unsubscribed"}
    if extra:
        body["segmentationFieldValues"] = values(shop, Points="1")
    response = post(api, shop, body, query.format(event=event.pk))
    assert_error(response, 400, code, ada.email)
    ada.refresh_from_db()
    assert ada.state == SubscriptionState.SUBSCRIBED


def test_it_refuses_to_unsubscribe_an_address_not_on_the_list(api, shop):
    response = post(
        api, shop, {"emailAddress": "who@example.com", "subscriptionState": "Unsubscribed"}
    )
    assert_error(response, 400, "ERROR_NOT_SUBSCRIBED_EMAIL_ADDRESS", "who@example.com")


def test_it_refuses_to_unsubscribe_twice(api, shop):
    gone = unsubscribed(shop)
    response = post(api, shop, {"emailAddress": gone.email, "subscriptionState": "Unsubscribed"})
    assert_error(response, 400, "ERROR_UNSUBSCRIBED_EMAIL_ADDRESS", gone.email)


def test_it_changes_an_address_carrying_the_profile(api, shop):
    post(
        api,
        shop,
        {
            "emailAddress": "old@example.com",
            "segmentationFieldValues": values(shop, First_Name="Ada"),
        },
    )
    response = post(
        api, shop, {"emailAddress": "old@example.com"}, "?newEmailAddress=New@example.com"
    )
    assert response.status_code == 201
    assert response.json()["resourceId"] == "new@example.com"
    assert contact(shop, "old@example.com").state == SubscriptionState.UNSUBSCRIBED
    new = contact(shop, "new@example.com")
    assert new.state == SubscriptionState.SUBSCRIBED
    assert new.profile == {field(shop, "First Name").key: "Ada"}


def new_address_cases():
    return [
        ("banned", "ERROR_BANNED_NEW_EMAIL_ADDRESS"),
        ("suppressed", "ERROR_SUPPRESSED_NEW_EMAIL"),
        ("subscribed", "ERROR_SUBSCRIBED_NEW_EMAIL_ADDRESS"),
        ("unsubscribed", "ERROR_UNSUBSCRIBED_NEW_EMAIL_ADDRESS"),
        ("pending", "ERROR_PENDING_NEW_EMAIL_ADDRESS"),
    ]


@pytest.mark.parametrize(("situation", "code"), new_address_cases())
def test_it_refuses_a_new_address_that_cannot_take_the_contact(api, shop, situation, code):
    ContactFactory(list=shop, email="old@example.com")
    target = "new@example.com"
    if situation == "banned":
        Ban.objects.create(list=shop, email=target)
    elif situation == "suppressed":
        Suppression.objects.create(email=target)
    elif situation == "subscribed":
        ContactFactory(list=shop, email=target)
    elif situation == "unsubscribed":
        unsubscribed(shop, target)
    else:
        ContactFactory(list=shop, email=target, state=SubscriptionState.PENDING, subscribed_at=None)
    response = post(api, shop, {"emailAddress": "old@example.com"}, f"?newEmailAddress={target}")
    assert_error(response, 400, code, target)
    assert contact(shop, "old@example.com").state == SubscriptionState.SUBSCRIBED


@pytest.mark.parametrize(
    ("query", "with_values", "code"),
    [
        ("&eventIds={event}", False, "ERROR_CHANGE_ADDRESS_WITH_EVENTS"),
        ("", True, "ERROR_CHANGE_ADDRESS_WITH_SEGMENTATION_DATA"),
    ],
)
def test_it_refuses_an_address_change_with_events_or_profile_data(
    api, shop, query, with_values, code
):
    ContactFactory(list=shop, email="old@example.com")
    event = EventFactory(list=shop)
    body = {"emailAddress": "old@example.com"}
    if with_values:
        body["segmentationFieldValues"] = values(shop, Points="2")
    response = post(
        api, shop, body, "?newEmailAddress=new@example.com" + query.format(event=event.pk)
    )
    assert_error(response, 400, code)
    assert not Contact.objects.filter(email="new@example.com").exists()


def test_it_refuses_to_change_the_address_of_an_unsubscribed_contact(api, shop):
    unsubscribed(shop, "old@example.com")
    response = post(
        api, shop, {"emailAddress": "old@example.com"}, "?newEmailAddress=new@example.com"
    )
    assert_error(response, 400, "ERROR_CHANGE_ADDRESS_CONTACT_UNSUBSCRIBED")


def test_it_creates_a_pending_contact_for_double_opt_in(api, shop):
    response = post(api, shop, {"emailAddress": "new@example.com"}, "?sendDoubleOptIn=true")
    assert response.status_code == 201
    assert contact(shop, "new@example.com").state == SubscriptionState.PENDING


def test_it_refuses_double_opt_in_for_a_pending_or_subscribed_contact(api, shop):
    ContactFactory(
        list=shop, email="pending@example.com", state=SubscriptionState.PENDING, subscribed_at=None
    )
    ContactFactory(list=shop, email="in@example.com")
    response = post(api, shop, {"emailAddress": "pending@example.com"}, "?sendDoubleOptIn=true")
    assert_error(response, 400, "ERROR_PENDING_EMAIL_ADDRESS")
    response = post(api, shop, {"emailAddress": "in@example.com"}, "?sendDoubleOptIn=true")
    assert_error(response, 400, "ERROR_SUBSCRIBED_EMAIL_ADDRESS")


def test_it_refuses_a_flag_that_is_not_true_or_false(api, shop):
    response = post(api, shop, {"emailAddress": "a@example.com"}, "?overrideUnsubscribe=yes")
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "overrideUnsubscribe")


def test_it_answers_404_for_a_contact_not_on_the_list(api, shop):
    ContactFactory(email="elsewhere@example.com")  # on another list
    response = api.get(f"List/{shop.pk}/Contact/elsewhere@example.com")
    assert_error(response, 404, "ERROR_UNABLE_TO_LOCATE_RESOURCE", "contactIdentifier")


def test_it_refuses_more_than_thirty_profile_fields(api, shop):
    ids = ",".join(str(i) for i in range(1, 32))
    response = api.get(f"List/{shop.pk}/Contact?segmentationFieldIds={ids}")
    assert_error(response, 400, "ERROR_TOO_MANY_SEGMENTATION_FIELDS", "30")


def test_it_pages_through_twelve_thousand_contacts_with_cursors(api, shop):
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    Contact.objects.bulk_create(
        Contact(list=shop, email=f"p{n:05d}@example.com", subscribed_at=now) for n in range(12_000)
    )
    ContactFactory(
        list=shop, email="zz@example.com", state=SubscriptionState.UNSUBSCRIBED, unsubscribed_at=now
    )
    seen: list[str] = []
    cursor = "Start"
    pages = 0
    while cursor is not None:
        response = api.get(f"List/{shop.pk}/Contact?count=5000&cursor={cursor}")
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"status", "nextPageCursor", "data"}
        seen.extend(c["emailAddress"] for c in body["data"])
        cursor = body["nextPageCursor"]
        pages += 1
    assert pages == 3
    assert seen == sorted(f"p{n:05d}@example.com" for n in range(12_000))


def test_it_pages_a_thousand_contacts_by_default(api, shop):
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    Contact.objects.bulk_create(
        Contact(list=shop, email=f"p{n:05d}@example.com", subscribed_at=now) for n in range(1001)
    )
    body = api.get(f"List/{shop.pk}/Contact").json()
    assert len(body["data"]) == 1000
    assert body["nextPageCursor"] is not None


@pytest.mark.parametrize("query", ["count=0", "count=5001", "count=ten", "cursor=garbage!"])
def test_it_refuses_bad_paging_parameters(api, shop, query):
    response = api.get(f"List/{shop.pk}/Contact?{query}")
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", query.split("=")[0])


def test_it_filters_by_state_external_id_and_subscribe_date_in_the_lists_time_zone(api, shop):
    # The shop's time zone is America/New_York: 2025-03-01 runs from 05:00 UTC.
    early = datetime.datetime(2025, 3, 1, 4, 0, tzinfo=datetime.UTC)  # still 28 February there
    late = datetime.datetime(2025, 3, 1, 6, 0, tzinfo=datetime.UTC)
    ContactFactory(list=shop, email="early@example.com", subscribed_at=early)
    ContactFactory(list=shop, email="late@example.com", subscribed_at=late, external_contact_id="X")
    unsubscribed(shop)

    def emails(query: str) -> list[str]:
        response = api.get(f"List/{shop.pk}/Contact?{query}")
        assert response.status_code == 200, response.content
        return [c["emailAddress"] for c in response.json()["data"]]

    assert emails("startDate=2025-03-01") == ["late@example.com"]
    assert emails("endDate=02/28/2025") == ["early@example.com"]
    assert emails("externalContactId=X") == ["late@example.com"]
    assert emails("subscriptionState=Unsubscribed") == ["gone@example.com"]
    assert_error(
        api.get(f"List/{shop.pk}/Contact?startDate=soon"),
        400,
        "ERROR_INVALID_PARAMETER",
        "startDate",
    )
    assert_error(
        api.get(f"List/{shop.pk}/Contact?subscriptionState=Pending"),
        400,
        "ERROR_INVALID_PARAMETER",
        "subscriptionState",
    )


def test_profile_values_for_many_contacts_go_through_a_list_import(api, shop):
    from contacts.imports.models import ImportStatus, ListImport
    from contacts.imports.run import run_import

    ContactFactory(list=shop, email="ada@example.com")
    ContactFactory(list=shop, email="bo@example.com")
    body = [
        {"emailAddress": "ada@example.com", "segmentationFieldValues": values(shop, Points="7")},
        {"emailAddress": "bo@example.com", "segmentationFieldValues": values(shop, VIP="true")},
        {
            "emailAddress": "stranger@example.com",
            "segmentationFieldValues": values(shop, Points="1"),
        },
    ]
    response = api.post(f"List/{shop.pk}/Contact/SegmentationField", body)
    assert response.status_code == 201, response.content
    import_id = int(response.json()["resourceId"])
    assert run_import(import_id).status == ImportStatus.PROCESSING_COMPLETED
    assert contact(shop, "ada@example.com").profile == {field(shop, "Points").key: "7"}
    assert contact(shop, "bo@example.com").profile == {field(shop, "VIP").key: "on"}
    assert not Contact.objects.filter(email="stranger@example.com").exists()  # updates only
    assert ListImport.objects.get(pk=import_id).processed_count == 3


def test_profile_values_for_many_contacts_are_all_checked_before_any_import(api, shop):
    from contacts.imports.models import ListImport

    body = [
        {"emailAddress": "ada@example.com", "segmentationFieldValues": values(shop, Points="7")},
        {
            "emailAddress": "bo@example.com",
            "segmentationFieldValues": values(shop, Birthday="soon"),
        },
    ]
    response = api.post(f"List/{shop.pk}/Contact/SegmentationField", body)
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "item 1", "Birthday")
    assert not ListImport.objects.exists()
