"""External events and event groups through the API."""

from __future__ import annotations

import pytest

from lists.models import Event, EventGroup, EventStatus, List
from tests.api_helpers import api_caller, assert_error
from tests.factories import EventFactory, ListFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop() -> List:
    return ListFactory.create(name="Shop")


@pytest.fixture
def checkout(shop: List) -> EventGroup:
    return EventGroup.objects.create(list=shop, name="Checkout")


@pytest.fixture
def abandoned(shop: List, checkout: EventGroup) -> Event:
    return EventFactory.create(list=shop, group=checkout, name="Cart abandoned")


# --- Events ------------------------------------------------------------------------


def test_it_creates_an_event_and_lists_it(api, shop):
    response = api.post(f"List/{shop.pk}/Event", {"eventName": "Purchase", "status": "Active"})
    assert response.status_code == 201
    event_id = int(response.json()["resourceId"])
    assert api.get(f"List/{shop.pk}/Event").json() == {
        "status": 200,
        "data": [
            {"eventId": event_id, "eventName": "Purchase", "eventGroupId": None, "status": "Active"}
        ],
    }


def test_it_creates_an_event_in_a_group(api, shop, checkout):
    body = {"eventName": "Purchase", "status": "Blocked", "eventGroupId": checkout.pk}
    response = api.post(f"List/{shop.pk}/Event", body)
    event = Event.objects.get(pk=response.json()["resourceId"])
    assert (event.group_id, event.status) == (checkout.pk, EventStatus.BLOCKED)


def test_an_event_group_id_of_zero_means_no_group(api, shop):
    body = {"EventName": "Purchase", "Status": "Active", "EventGroupId": 0}
    response = api.post(f"List/{shop.pk}/Event", body)
    assert Event.objects.get(pk=response.json()["resourceId"]).group is None


def test_it_returns_one_event(api, shop, abandoned):
    data = api.get(f"List/{shop.pk}/Event/{abandoned.pk}").json()["data"]
    assert data == {
        "eventId": abandoned.pk,
        "eventName": "Cart abandoned",
        "eventGroupId": abandoned.group_id,
        "status": "Active",
    }


def test_it_refuses_an_event_without_a_status(api, shop):
    response = api.post(f"List/{shop.pk}/Event", {"eventName": "Purchase"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "status", "required")
    assert not Event.objects.exists()


def test_it_refuses_an_unknown_status(api, shop):
    response = api.post(f"List/{shop.pk}/Event", {"eventName": "Purchase", "status": "Paused"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "status", "Paused")


def test_it_refuses_an_event_group_of_another_list(api, shop):
    foreign = EventGroup.objects.create(list=ListFactory(), name="Elsewhere")
    body = {"eventName": "Purchase", "status": "Active", "eventGroupId": foreign.pk}
    response = api.post(f"List/{shop.pk}/Event", body)
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "eventGroupId", str(foreign.pk))
    assert not Event.objects.exists()


def test_it_refuses_an_event_name_the_list_has_whatever_its_case(api, shop, abandoned):
    body = {"eventName": "CART ABANDONED", "status": "Active"}
    response = api.post(f"List/{shop.pk}/Event", body)
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "eventName", "CART ABANDONED")
    assert Event.objects.count() == 1


def test_it_refuses_an_event_name_longer_than_100_characters(api, shop):
    body = {"eventName": "x" * 101, "status": "Active"}
    assert_error(
        api.post(f"List/{shop.pk}/Event", body), 400, "ERROR_INVALID_PARAMETER", "eventName"
    )


def test_it_blocks_an_event(api, shop, abandoned):
    body = {"eventName": "Cart abandoned", "status": "Blocked", "eventGroupId": abandoned.group_id}
    response = api.put(f"List/{shop.pk}/Event/{abandoned.pk}", body)
    assert response.json() == {"status": 200, "resourceId": str(abandoned.pk)}
    abandoned.refresh_from_db()
    assert abandoned.status == EventStatus.BLOCKED


def test_an_update_without_a_group_keeps_the_events_group(api, shop, abandoned, checkout):
    body = {"eventName": "Basket abandoned", "status": "Active"}
    api.put(f"List/{shop.pk}/Event/{abandoned.pk}", body)
    abandoned.refresh_from_db()
    assert (abandoned.name, abandoned.group_id) == ("Basket abandoned", checkout.pk)


def test_an_update_with_a_null_group_takes_the_event_out_of_its_group(api, shop, abandoned):
    body = {"eventName": "Cart abandoned", "status": "Active", "eventGroupId": None}
    api.put(f"List/{shop.pk}/Event/{abandoned.pk}", body)
    abandoned.refresh_from_db()
    assert abandoned.group is None


def test_an_update_needs_the_full_resource(api, shop, abandoned):
    response = api.put(f"List/{shop.pk}/Event/{abandoned.pk}", {"status": "Blocked"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "eventName", "required")
    abandoned.refresh_from_db()
    assert abandoned.status == EventStatus.ACTIVE


def test_an_event_of_another_list_is_not_found(api, abandoned):
    other = ListFactory()
    response = api.get(f"List/{other.pk}/Event/{abandoned.pk}")
    assert_error(
        response,
        404,
        "ERROR_UNABLE_TO_LOCATE_RESOURCE",
        "Unable to locate a resource associated with the listId and eventId supplied.",
    )


def test_an_event_id_that_is_not_a_number_is_refused(api, shop):
    assert_error(api.get(f"List/{shop.pk}/Event/first"), 400, "ERROR_INVALID_PARAMETER", "eventId")


def test_an_event_cannot_be_deleted_as_in_listrak(api, shop, abandoned):
    response = api.delete(f"List/{shop.pk}/Event/{abandoned.pk}")
    assert_error(response, 405, "ERROR_UNSUPPORTED_METHOD", "DELETE")
    assert Event.objects.filter(pk=abandoned.pk).exists()


def test_a_token_without_the_event_scope_is_refused(shop):
    caller = api_caller(scopes=["List"])
    assert_error(caller.get(f"List/{shop.pk}/Event"), 401, "ERROR_UNAUTHORIZED", "Event")


# --- Event groups ------------------------------------------------------------------


def test_it_creates_an_event_group_and_lists_it(api, shop):
    response = api.post(f"List/{shop.pk}/EventGroup", {"eventGroupName": "Browse"})
    assert response.status_code == 201
    group_id = int(response.json()["resourceId"])
    assert api.get(f"List/{shop.pk}/EventGroup").json() == {
        "status": 200,
        "data": [{"eventGroupId": group_id, "eventGroupName": "Browse"}],
    }


def test_it_returns_one_event_group(api, shop, checkout):
    data = api.get(f"List/{shop.pk}/EventGroup/{checkout.pk}").json()["data"]
    assert data == {"eventGroupId": checkout.pk, "eventGroupName": "Checkout"}


def test_it_refuses_an_event_group_without_a_name(api, shop):
    response = api.post(f"List/{shop.pk}/EventGroup", {})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "eventGroupName", "required")


def test_it_refuses_an_event_group_name_the_list_has_whatever_its_case(api, shop, checkout):
    response = api.post(f"List/{shop.pk}/EventGroup", {"eventGroupName": "checkout"})
    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "eventGroupName", "checkout")


def test_it_renames_an_event_group(api, shop, checkout):
    response = api.put(f"List/{shop.pk}/EventGroup/{checkout.pk}", {"eventGroupName": "Cart"})
    assert response.json() == {"status": 200, "resourceId": str(checkout.pk)}
    checkout.refresh_from_db()
    assert checkout.name == "Cart"


def test_it_deletes_an_empty_event_group(api, shop, checkout):
    response = api.delete(f"List/{shop.pk}/EventGroup/{checkout.pk}")
    assert response.json() == {"status": 200}
    assert not EventGroup.objects.exists()


def test_it_refuses_to_delete_an_event_group_that_holds_events(api, shop, abandoned):
    response = api.delete(f"List/{shop.pk}/EventGroup/{abandoned.group_id}")
    assert_error(response, 400, "ERROR_RESOURCE_DEPENDENCY", "Checkout", "Cart abandoned")
    assert EventGroup.objects.filter(pk=abandoned.group_id).exists()


def test_an_event_group_of_another_list_is_not_found(api, checkout):
    other = ListFactory()
    response = api.delete(f"List/{other.pk}/EventGroup/{checkout.pk}")
    assert_error(
        response,
        404,
        "ERROR_UNABLE_TO_LOCATE_RESOURCE",
        "associated with the listId and eventGroupId supplied.",
    )
    assert EventGroup.objects.filter(pk=checkout.pk).exists()
