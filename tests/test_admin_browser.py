"""A person in a real browser logs into the admin and edits a contact's profile."""

import pytest
from django.contrib.auth import get_user_model

from contacts.models import ActivityKind, Contact
from lists.models import DataType
from tests.browser import log_in
from tests.factories import ContactFactory, ListFactory, ProfileFieldFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_log_in_and_edit_a_contacts_profile_values(live_server, browser_page):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    email_list = ListFactory(name="Shop")
    group = ProfileFieldFactory(list=email_list, group__list=email_list, name="First Name").group
    birthday = ProfileFieldFactory(group=group, name="Birthday", data_type=DataType.DATE)
    vip = ProfileFieldFactory(group=group, name="VIP", data_type=DataType.CHECK_BOX)
    first = email_list.profile_fields.get(name="First Name")
    contact = ContactFactory(list=email_list, email="ada@example.com")

    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")

    page.goto(f"{live_server.url}/admin/contacts/contact/")
    page.fill("#searchbar", "ADA@")
    page.press("#searchbar", "Enter")
    page.click("text=ada@example.com")

    page.fill(f"#id_profile_{first.pk}", "Ada")
    page.fill(f"#id_profile_{birthday.pk}", "1815-12-10")
    page.select_option(f"#id_profile_{vip.pk}", "on")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
    assert page.input_value(f"#id_profile_{first.pk}") == "Ada"
    assert "Profile updated" in page.inner_text(".recent-activity")

    # A value that does not fit is refused on the page, and nothing is saved.
    page.fill(f"#id_profile_{birthday.pk}", "31/31/2020")
    page.click("input[name=_continue]")
    page.wait_for_selector(".errorlist")
    assert "Enter a valid date." in page.inner_text(".errorlist")

    contact = Contact.objects.get(pk=contact.pk)
    assert contact.profile == {first.key: "Ada", birthday.key: "1815-12-10", vip.key: "on"}
    assert list(contact.activities.values_list("kind", flat=True)) == [ActivityKind.PROFILE_UPDATED]
