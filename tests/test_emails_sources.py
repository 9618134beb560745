"""The emails app knows no sender: a delivery names its source (any row),
carries the merge fields that source supplies and what names it in
activities, and the ``emails`` schedule sends it with no task queued."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction

from contacts.models import Activity, ActivityKind, Contact
from emails.models import Delivery, DeliveryStatus
from emails.sending.tasks import sweep
from tests.factories import ContactFactory, MessageFactory
from tests.smtp import text_of

pytestmark = pytest.mark.django_db(transaction=True)


def delivery_from_another_source(contact: Contact) -> Delivery:
    """A delivery whose source is not a Conductor step run (here the
    contact row itself stands in for a broadcast or a transactional send)."""
    message = MessageFactory.create(
        list=contact.list,
        subject="For {{ trigger.campaign }}",
        text_body="Hello {{ email }}, about {{ trigger.campaign }}.",
    )
    return Delivery.objects.create(
        source_type=ContentType.objects.get_for_model(Contact),
        source_id=contact.pk,
        message=message,
        contact=contact,
        merge_context={"trigger": {"campaign": "Spring sale"}},
        details={"broadcast_id": 41},
    )


def test_the_sweep_sends_a_delivery_of_any_source_with_what_it_supplied(smtp_server):
    contact = ContactFactory(email="ada@example.com")
    delivery = delivery_from_another_source(contact)

    assert sweep() == 1

    (sent,) = smtp_server.messages
    assert sent["Subject"] == "For Spring sale"
    assert "Hello ada@example.com, about Spring sale." in text_of(sent)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.merge_context["trigger"] == {"campaign": "Spring sale"}
    assert delivery.merge_context["email"] == "ada@example.com"
    activity = Activity.objects.get(contact=contact, kind=ActivityKind.EMAIL_SENT)
    assert activity.details == {
        "message_id": delivery.message_id,
        "delivery_id": delivery.pk,
        "broadcast_id": 41,
    }
    assert sweep() == 0  # sent once


def test_a_source_asks_for_one_email_at_most():
    contact = ContactFactory()
    first = delivery_from_another_source(contact)
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(
            source_type=first.source_type,
            source_id=first.source_id,
            message=first.message,
            contact=contact,
        )
    assert Delivery.objects.count() == 1
