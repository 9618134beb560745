"""Deleting a list takes its subscription points and their signups with it,
even when a point fires one of the list's events; other lists keep theirs."""

from __future__ import annotations

import pytest

from contacts.services import delete_list
from lists.models import Event, EventGroup, List
from signups.models import Signup, SubscriptionPoint
from signups.services import save_point, sign_up
from tests.factories import EventFactory, ListFactory

pytestmark = pytest.mark.django_db


def test_a_list_goes_with_its_points_and_their_signups():
    shop = ListFactory(name="Shop")
    group = EventGroup.objects.create(list=shop, name="Signups")
    event = EventFactory(list=shop, group=group, name="Footer signup")
    footer = save_point(SubscriptionPoint(list=shop, name="Footer", event=event))
    sign_up(point=footer, email="ann@example.com", values={})
    other = ListFactory(name="Other")
    kept = save_point(SubscriptionPoint(list=other, name="Pop-up"))
    sign_up(point=kept, email="bob@example.com", values={})

    delete_list(email_list=shop)

    assert list(List.objects.values_list("name", flat=True)) == ["Other"]
    assert list(SubscriptionPoint.objects.all()) == [kept]
    assert list(Signup.objects.values_list("point__name", flat=True)) == ["Pop-up"]
    assert list(Event.objects.values_list("name", flat=True)) == ["Signup: Pop-up"]
