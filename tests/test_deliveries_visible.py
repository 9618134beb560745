"""Where staff see the emails: a contact's page lists its emails and the
conversations it is in (each behind its permission), the deliveries list
filters by conversation and by contact, and a message's page counts its
emails by status."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from conductor.models import EnrollmentState, StepKind
from emails.models import Delivery, DeliveryStatus
from tests.factories import DeliveryFactory, StepFactory, StepRunFactory
from tests.staff import staff

pytestmark = pytest.mark.django_db


def email_of_a_message_step(**delivery) -> Delivery:
    step = StepFactory(kind=StepKind.MESSAGE, name="Welcome mail")
    return DeliveryFactory.create(step_run=StepRunFactory(step=step), **delivery)


def contact_page(client: Client, delivery: Delivery) -> str:
    url = reverse("admin:contacts_contact_change", args=[delivery.contact_id])
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_a_contacts_page_shows_its_emails_and_conversations():
    delivery = email_of_a_message_step(
        status=DeliveryStatus.SKIPPED, error="Not sent: the address is suppressed."
    )
    enrollment = delivery.contact.enrollments.get()
    enrollment.state, enrollment.held_reason = EnrollmentState.HELD, "The coupon pool is empty."
    enrollment.save()

    page = contact_page(
        staff("contacts.view_contact", "emails.view_delivery", "conductor.view_enrollment"),
        delivery,
    )

    assert "<h2>Emails</h2>" in page
    assert delivery.message.name in page
    assert "Skipped" in page
    assert "Not sent: the address is suppressed." in page
    assert f"?contact__id__exact={delivery.contact_id}" in page
    assert "<h2>Conversations</h2>" in page
    assert enrollment.conversation.name in page
    assert "step 1, Message (Welcome mail)" in page
    assert "The coupon pool is empty." in page


def test_each_section_of_the_contact_page_needs_its_permission():
    delivery = email_of_a_message_step()

    page = contact_page(staff("contacts.view_contact"), delivery)

    assert "<h2>Emails</h2>" not in page
    assert delivery.message.name not in page
    assert "<h2>Conversations</h2>" not in page


def test_the_deliveries_list_filters_by_conversation_and_by_contact():
    first, second = email_of_a_message_step(), email_of_a_message_step()
    client = staff("emails.view_delivery")
    url = reverse("admin:emails_delivery_changelist")
    conversation = first.contact.enrollments.get().conversation

    by_conversation = client.get(url, {"conversation": conversation.pk})
    assert by_conversation.status_code == 200
    assert [d.pk for d in by_conversation.context["cl"].result_list] == [first.pk]
    assert conversation.name in by_conversation.content.decode()  # the filter's choice

    by_contact = client.get(url, {"contact__id__exact": second.contact_id})
    assert [d.pk for d in by_contact.context["cl"].result_list] == [second.pk]

    nonsense = client.get(url, {"conversation": "not-a-number"})
    assert nonsense.status_code == 200
    assert list(nonsense.context["cl"].result_list) == []


def test_a_messages_page_counts_its_emails_by_status_for_who_may_see_them():
    delivery = email_of_a_message_step(status=DeliveryStatus.SENT)
    email_of_a_message_step(message=delivery.message)
    url = reverse("admin:emails_message_change", args=[delivery.message_id])

    page = staff("emails.view_message", "emails.view_delivery").get(url).content.decode()
    assert "1 pending" in page
    assert "1 sent" in page
    assert f"message__id__exact={delivery.message_id}&amp;status__exact=Sent" in page

    hidden = staff("emails.view_message").get(url).content.decode()
    assert "1 sent" not in hidden
