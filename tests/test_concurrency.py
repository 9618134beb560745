"""Writers racing on the same contacts: no error, no lost update, no double first subscription."""

import threading

import pytest
from django.db import connection, connections

from contacts.models import Activity, ActivityKind, Contact
from contacts.services import UpdateType, subscribe_contacts, update_profiles
from lists.models import DataType
from tests.factories import ListFactory, ProfileFieldFactory

pytestmark = pytest.mark.django_db(transaction=True)


def race(workers: int, work) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as error:  # reported to the test, not swallowed
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_it_subscribes_each_address_once_when_four_writers_race():
    email_list = ListFactory()
    emails = [f"p{i}@example.com" for i in range(300)]
    outcomes = []

    def work(n: int) -> None:
        # Each writer takes the addresses in another order.
        ordered = emails[n * 75 :] + emails[: n * 75]
        outcomes.extend(
            r.outcome
            for r in subscribe_contacts(email_list=email_list, emails=ordered, method="API")
        )

    assert race(4, work) == []
    assert Contact.objects.filter(list=email_list).count() == 300
    assert Activity.objects.filter(kind=ActivityKind.SUBSCRIBED).count() == 300
    assert outcomes.count("Subscribed") == 300
    assert outcomes.count("AlreadySubscribed") == 900


def test_concurrent_profile_updates_of_one_contact_lose_nothing():
    email_list = ListFactory()
    group = ProfileFieldFactory(list=email_list, group__list=email_list).group
    fields = [
        ProfileFieldFactory(group=group, name=f"F{n}", data_type=DataType.NUMERIC) for n in range(4)
    ]
    (result,) = subscribe_contacts(email_list=email_list, emails=["one@example.com"], method="API")
    contact_id = result.contact.pk

    def work(n: int) -> None:
        for round_ in range(10):
            contact = Contact.objects.get(pk=contact_id)
            update_profiles(
                email_list=email_list,
                updates=[(contact, {fields[n].pk: round_})],
                update_type=UpdateType.UPDATE,
            )

    assert race(4, work) == []
    contact = Contact.objects.get(pk=contact_id)
    assert contact.profile == {f.key: "9" for f in fields}
    assert Activity.objects.filter(kind=ActivityKind.PROFILE_UPDATED).count() == 40
    assert connection.vendor in ("sqlite", "postgresql")
