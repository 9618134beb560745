"""The admin: lists with their fields, contacts edited through the services."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from contacts.models import ActivityKind, Ban, Contact, SubscriptionState, Suppression
from lists.models import List
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def fields_of(email_list):
    return {f.name: f for f in email_list.profile_fields.all()}


def change_form_data(contact, **profile):
    data = {"external_contact_id": contact.external_contact_id}
    for name, field in fields_of(contact.list).items():
        data[f"profile_{field.pk}"] = profile.get(name, "")
    return data


def test_the_list_page_shows_its_field_groups_and_fields(admin_client, shop):
    page = admin_client.get(reverse("admin:lists_list_change", args=[shop.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Birthday" in html
    assert "profile field groups" in html.lower()


def test_a_contact_page_edits_profile_values_as_typed_fields(admin_client, shop):
    contact = ContactFactory(list=shop, email="ada@example.com")
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'class="vDateField' in html  # the date picker of a Date field

    response = admin_client.post(
        url,
        change_form_data(
            contact,
            **{"First Name": "Ada", "Birthday": "1815-12-10", "VIP": "on", "Points": "10.5"},
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    contact.refresh_from_db()
    fields = fields_of(shop)
    assert contact.profile == {
        fields["First Name"].key: "Ada",
        fields["Birthday"].key: "1815-12-10",
        fields["VIP"].key: "on",
        fields["Points"].key: "10.5",
    }
    assert contact.activities.get().kind == ActivityKind.PROFILE_UPDATED
    page = admin_client.get(url).content.decode()
    assert "Profile updated" in page  # the activity on the contact's page


def test_a_bad_profile_value_is_shown_on_the_form_and_nothing_changes(admin_client, shop):
    contact = ContactFactory(list=shop)
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    response = admin_client.post(
        url, change_form_data(contact, Birthday="not a date", Points="1.234")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a valid date." in html
    assert "Ensure that there are no more than 2 decimal places." in html
    contact.refresh_from_db()
    assert contact.profile == {}


def test_adding_a_contact_subscribes_it_and_a_banned_address_is_refused(admin_client, shop):
    url = reverse("admin:contacts_contact_add")
    response = admin_client.post(
        url, {"list": shop.pk, "email": " New@Example.com", "external_contact_id": "C9"}
    )
    assert response.status_code == 302
    contact = Contact.objects.get(email="new@example.com")
    assert contact.state == SubscriptionState.SUBSCRIBED
    assert contact.subscribe_method == "Admin"
    assert contact.external_contact_id == "C9"

    again = admin_client.post(url, {"list": shop.pk, "email": "new@example.com"})
    assert "already on the list" in again.content.decode()
    bad = admin_client.post(url, {"list": shop.pk, "email": "nonsense"})
    assert "is not a valid email address" in bad.content.decode()

    Ban.objects.create(list=shop, email="banned@example.com")
    banned = admin_client.post(url, {"list": shop.pk, "email": "banned@example.com"})
    assert banned.status_code == 200
    assert "banned@example.com is banned from list" in banned.content.decode()
    assert not Contact.objects.filter(email="banned@example.com").exists()


def test_actions_subscribe_unsubscribe_and_ban(admin_client, shop):
    contacts = ContactFactory.create_batch(3, list=shop)
    url = reverse("admin:contacts_contact_changelist")
    ids = [c.pk for c in contacts]
    admin_client.post(url, {"action": "unsubscribe_selected", "_selected_action": ids})
    assert set(Contact.objects.values_list("state", flat=True)) == {SubscriptionState.UNSUBSCRIBED}
    admin_client.post(url, {"action": "subscribe_selected", "_selected_action": ids})
    assert set(Contact.objects.values_list("state", flat=True)) == {SubscriptionState.SUBSCRIBED}
    admin_client.post(url, {"action": "ban_selected", "_selected_action": ids[:1]})
    assert Ban.objects.get().email == contacts[0].email
    contacts[0].refresh_from_db()
    assert contacts[0].unsubscribe_method == "Ban"


def test_contacts_are_searchable_by_address_and_filterable(admin_client, shop):
    ContactFactory(list=shop, email="grace@example.com")
    ContactFactory(
        list=shop,
        email="alan@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        unsubscribed_at="2024-01-01T00:00Z",
    )
    url = reverse("admin:contacts_contact_changelist")
    found = admin_client.get(url, {"q": "GRACE@"}).content.decode()
    assert "grace@example.com" in found and "alan@example.com" not in found
    filtered = admin_client.get(
        url, {"state__exact": "Unsubscribed", "list__id__exact": shop.pk}
    ).content.decode()
    assert "alan@example.com" in filtered and "grace@example.com" not in filtered


def test_suppressing_from_the_admin_goes_through_the_service(admin_client, shop):
    contact = ContactFactory(list=shop, email="q@example.com")
    response = admin_client.post(
        reverse("admin:contacts_suppression_add"), {"email": "Q@example.com", "reason": "x"}
    )
    assert response.status_code == 302
    assert Suppression.objects.get().email == "q@example.com"
    assert contact.activities.get().kind == ActivityKind.SUPPRESSED
    bad = admin_client.post(
        reverse("admin:contacts_suppression_add"), {"email": "nope", "reason": ""}
    )
    assert "is not a valid email address" in bad.content.decode()


def test_seed_demo_is_idempotent_and_its_list_shows_in_the_admin(client, settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo", contacts=40)
    call_command("seed_demo", contacts=40)
    out = capsys.readouterr().out
    assert "username 'demo', password 'demo-password'" in out
    assert List.objects.count() == 1
    assert Contact.objects.count() == 40
    # Through the sign-in form, as a person (django-axes checks each sign-in's request).
    signed_in = client.post(
        reverse("admin:login"), {"username": "demo", "password": "demo-password"}
    )
    assert signed_in.status_code == 302, signed_in.content
    page = client.get(reverse("admin:contacts_contact_changelist")).content.decode()
    assert "demo0001@example.com" in page


def test_seed_demo_refuses_without_debug(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="known password"):
        call_command("seed_demo")
