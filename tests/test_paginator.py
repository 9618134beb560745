"""The admin's paginator counts small results exactly and estimates huge ones."""

import pytest
from django.db import connection

from contacts import paginator as paginating
from contacts.models import Contact
from contacts.paginator import LargeTablePaginator, planner_estimate
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_a_small_result_is_counted_exactly():
    ContactFactory.create_batch(7)
    assert LargeTablePaginator(Contact.objects.all(), 5).count == 7
    assert LargeTablePaginator(Contact.objects.filter(email__startswith="zzz"), 5).count == 0


def test_a_result_past_the_threshold_uses_the_planners_estimate(monkeypatch):
    ContactFactory.create_batch(30)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE contacts_contact")
    monkeypatch.setattr(paginating, "ESTIMATE_ABOVE", 10)
    count = LargeTablePaginator(Contact.objects.all(), 5).count
    if connection.vendor == "postgresql":
        assert planner_estimate(Contact.objects.all()) == count
        assert 10 < count <= 60  # an estimate near the 30 rows
    else:
        assert planner_estimate(Contact.objects.all()) is None
        assert count == 30  # no estimate on SQLite: an exact count
