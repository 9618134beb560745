"""A contact's story on its admin page: every activity as a sentence with
names (never ids or raw details), a page at a time in a bounded number of
queries; the conversations and emails panels; subscribe and unsubscribe
buttons behind the change permission, a resubscribe only with the person's
consent; profile values on the add form, and read-only for viewers."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conductor.models import EnrollmentState, StepKind
from contacts.models import Activity, ActivityKind, Contact, SubscriptionState
from contacts.services import (
    UpdateType,
    ban_addresses,
    change_address,
    fire_event,
    subscribe_contact,
    subscribe_contacts,
    suppress_addresses,
    unban_addresses,
    unsubscribe_contact,
    unsuppress_addresses,
    update_profile,
)
from contacts.story import RECENT
from lists.models import DataType
from tests.browser import log_in
from tests.factories import (
    ContactFactory,
    EnrollmentFactory,
    EventFactory,
    ListFactory,
    MessageFactory,
    ProfileFieldFactory,
    conversation_with_steps,
)
from tests.staff import staff
from tests.tracking_helpers import engagement_story

pytestmark = pytest.mark.django_db

STORY_ROW = re.compile(r'<tr><td class="when">[^<]*</td><td>(.*?)</td></tr>', re.S)


def page_of(client: Client, contact: Contact) -> str:
    response = client.get(reverse("admin:contacts_contact_change", args=[contact.pk]))
    assert response.status_code == 200
    return response.content.decode()


def story_of(page: str) -> list[str]:
    """The sentences of a page's activity table, newest first, as a reader sees them."""
    table = page.split('class="contact-story-table', 1)[1].split("</table>", 1)[0]
    return [html.unescape(text) for text in STORY_ROW.findall(table)]


def assert_plain_words(lines: list[str]) -> None:
    for line in lines:
        assert "_id" not in line and "{" not in line and "None" not in line, line
        assert "=" not in line, line


def fields_of(email_list) -> dict:
    return {f.name: f for f in email_list.profile_fields.all()}


def report(client: Client, contact: Contact, email, kind: str, reason: str = "") -> None:
    """The mail server's word about an email, through the feedback webhook."""
    item = {"email": contact.email, "message_id": email["Message-ID"], "kind": kind}
    if reason:
        item["reason"] = reason
    response = client.post(
        "/webhooks/email-feedback/",
        data=json.dumps(item),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {'r' * 32}",
    )
    assert response.status_code < 300, response.content


# --- Every kind in words ---------------------------------------------------------


def test_the_email_kinds_read_as_sentences_with_the_messages_and_conversations_names(
    shop, smtp_server, client, settings, admin_client
):
    engagement_story(shop, smtp_server, client, settings)  # message "Sale", conversation "Welcome"
    ada, bob, cy = (Contact.objects.get(email=f"{n}@example.com") for n in ("ada", "bob", "cy"))
    sent = {m["To"]: m for m in smtp_server.messages}
    report(client, ada, sent["ada@example.com"], "soft_bounce", reason="Mailbox full")
    report(client, cy, sent["cy@example.com"], "complaint")

    ada_story = story_of(page_of(admin_client, ada))
    assert ada_story == [
        "Email “Sale” bounced (soft): “Mailbox full” — in conversation “Welcome”",
        "Converted: an order of 50.00 after clicking “Sale” (event “Purchase”)"
        " — in conversation “Welcome”",
        "Event “Purchase” fired with orderTotal: 50",
        "Clicked https://shop.example/sale in “Sale” — in conversation “Welcome”",
        "Opened “Sale” — in conversation “Welcome”",
        "Opened “Sale” — in conversation “Welcome”",
        "Left conversation “Welcome”",
        "Email “Sale” sent — in conversation “Welcome”",
        "Profile updated: First Name from (empty) to “Ada”",
        "Entered conversation “Welcome” (trigger: first-ever subscription)",
        "Subscribed for the first time (method API)",
    ]
    bob_story = story_of(page_of(admin_client, bob))
    assert bob_story[:2] == [
        "Unsubscribed (method Hard Bounce) — from email “Sale” — in conversation “Welcome”",
        "Email “Sale” bounced (hard) — in conversation “Welcome”",
    ]
    cy_story = story_of(page_of(admin_client, cy))
    assert cy_story[:3] == [
        "Unsubscribed (method Spam Complaint) — from email “Sale” — in conversation “Welcome”",
        "Marked “Sale” as spam — in conversation “Welcome”",
        "Opened the browser version of “Sale” — in conversation “Welcome”",
    ]
    for story in (ada_story, bob_story, cy_story):
        assert_plain_words(story)


def test_the_contacts_own_kinds_read_as_sentences_with_field_and_event_names(shop, admin_client):
    ada = subscribe_contact(email_list=shop, email="ada@example.com", method="API").contact
    assert ada is not None
    update_profile(
        contact=ada,
        values={"First Name": "Grace", "Birthday": "12/09/1906", "VIP": "on", "Points": "12.5"},
    )
    update_profile(contact=ada, values={"First Name": ""}, update_type=UpdateType.OVERWRITE)
    cart = EventFactory(list=shop, name="Cart abandoned")
    fire_event(event=cart, contact=ada, data={"sku": "TEA-42", "items": ["mug", "tea"]})
    ban_addresses(email_list=shop, emails=[ada.email], reason="Chargeback")
    unban_addresses(email_list=shop, emails=[ada.email])
    suppress_addresses(emails=[ada.email], reason="Legal request")
    unsuppress_addresses(emails=[ada.email])

    story = story_of(page_of(admin_client, ada))
    assert story == [
        "Suppression lifted",
        "Suppressed on every list (reason: “Legal request”)",
        "Ban lifted",
        "Banned from the list (reason: “Chargeback”)",
        "Unsubscribed (method Ban)",
        "Event “Cart abandoned” fired with sku: “TEA-42”, items: “mug”, “tea”",
        "Profile updated: First Name from “Grace” to (empty)",
        "Profile updated: First Name from (empty) to “Grace”; Birthday from (empty) to "
        "1906-12-09; Points from (empty) to 12.5; VIP from (empty) to yes",
        "Subscribed for the first time (method API)",
    ]
    assert_plain_words(story)

    bob = subscribe_contact(email_list=shop, email="bob@example.com", method="API").contact
    assert bob is not None
    robert = change_address(contact=bob, new_email="robert@example.com")
    assert story_of(page_of(admin_client, robert))[0] == (
        "Address changed from bob@example.com to robert@example.com"
    )
    assert story_of(page_of(admin_client, bob))[0] == "Unsubscribed (method Address Change)"

    (pending,) = subscribe_contacts(
        email_list=shop, emails=["cy@example.com"], method="Subscription Point", double_opt_in=True
    )
    assert pending.contact is not None
    assert story_of(page_of(admin_client, pending.contact)) == [
        "Asked to subscribe; waiting for the double opt-in confirmation (method Subscription Point)"
    ]


def test_unknown_kinds_gone_names_and_odd_details_read_as_plain_words(shop, admin_client):
    contact = ContactFactory(list=shop, email="ada@example.com")
    gone = MessageFactory(list=shop, name="Old promo")
    gone_id = gone.pk
    gone.delete()
    for kind, details in [
        ("loyalty_tier_changed", {"tier": "Gold", "tier_id": 3}),
        (ActivityKind.EMAIL_SENT, {"message_id": gone_id, "delivery_id": 1}),
        (ActivityKind.EMAIL_OPENED, {"message_id": "not an id"}),
        (ActivityKind.PROFILE_UPDATED, {"changes": "not a mapping"}),
        (ActivityKind.PROFILE_UPDATED, {"changes": {"999999": {"old": "x", "new": None}}}),
        (ActivityKind.EVENT_FIRED, {"event_id": 999999, "event_name": "Wishlist", "data": 7}),
        (ActivityKind.UNSUBSCRIBED, ["a", "list"]),
    ]:
        Activity.objects.create(
            contact=contact, list=shop, email=contact.email, kind=kind, details=details
        )

    story = story_of(page_of(admin_client, contact))
    assert story == [
        "Unsubscribed",
        "Event “Wishlist” fired",
        "Profile updated: a field since deleted from “x” to (empty)",
        "Profile updated",
        "Opened an email",
        "Email sent",
        "Loyalty tier changed (tier: “Gold”)",
    ]
    assert_plain_words(story)


# --- Many activities: a page at a time, in a bounded number of queries ----------


def many_activities(contact: Contact, *, rounds: int) -> None:
    """``rounds`` times one activity of every kind, naming messages,
    conversations, fields and events of the contact's list (named for it:
    "Mail 1 for ada")."""
    email_list = contact.list
    whose = contact.email.split("@")[0]
    fields = list(email_list.profile_fields.all())
    messages = [
        MessageFactory.create(list=email_list, name=f"Mail {n} for {whose}") for n in range(3)
    ]
    conversations = [
        conversation_with_steps(email_list, name=f"Flow {n} for {whose}")[0] for n in range(2)
    ]
    events = [EventFactory.create(list=email_list, name=f"Event {n} for {whose}") for n in range(2)]
    rows = []
    for n in range(rounds):
        email = {
            "message_id": messages[n % 3].pk,
            "delivery_id": n,
            "conversation_id": conversations[n % 2].pk,
        }
        field = fields[n % len(fields)]
        for kind, details in [
            (ActivityKind.SUBSCRIBED, {"method": "API"}),
            (ActivityKind.RESUBSCRIBED, {"method": "Admin", "consent_confirmed_by": "ann"}),
            (ActivityKind.PENDING, {"method": "API"}),
            (ActivityKind.UNSUBSCRIBED, {"method": "Unsubscribe Link", **email}),
            (
                ActivityKind.PROFILE_UPDATED,
                {"update_type": "Update", "changes": {field.key: {"old": None, "new": str(n)}}},
            ),
            (ActivityKind.ADDRESS_CHANGED, {"old_email": "old@example.com", "old_contact_id": 1}),
            (
                ActivityKind.EVENT_FIRED,
                {"event_id": events[n % 2].pk, "event_name": "x", "data": {"n": n}},
            ),
            (ActivityKind.BANNED, {"reason": "r"}),
            (ActivityKind.UNBANNED, {}),
            (ActivityKind.SUPPRESSED, {"reason": "r"}),
            (ActivityKind.UNSUPPRESSED, {}),
            (ActivityKind.EMAIL_SENT, email),
            (ActivityKind.EMAIL_OPENED, {**email, "ip": "192.0.2.1"}),
            (
                ActivityKind.EMAIL_CLICKED,
                {**email, "link_kind": "link", "link_id": 1, "link_url": "https://shop.example/"},
            ),
            (ActivityKind.EMAIL_BOUNCED, {**email, "bounce_kind": "soft"}),
            (ActivityKind.EMAIL_SPAM, email),
            (
                ActivityKind.EMAIL_CONVERTED,
                {**email, "order_total": 12.5, "event_id": events[0].pk},
            ),
        ]:
            rows.append(
                Activity(
                    contact=contact,
                    list=email_list,
                    email=contact.email,
                    kind=kind,
                    details=details,
                )
            )
    Activity.objects.bulk_create(rows)
    for conversation in conversations:
        EnrollmentFactory(
            contact=contact,
            thread=conversation.versions.get().threads.get(),
            state=EnrollmentState.FINISHED,
        )


def queries_of_the_page(client: Client, contact: Contact) -> int:
    with CaptureQueriesContext(connection) as queries:
        page_of(client, contact)
    return len(queries)


def test_a_page_of_many_activities_of_every_kind_takes_as_many_queries_as_one(
    shop, admin_client, django_assert_max_num_queries
):
    few = ContactFactory(list=shop, email="few@example.com")
    many = ContactFactory(list=shop, email="many@example.com")
    many_activities(few, rounds=1)
    many_activities(many, rounds=40)  # 680 activities

    baseline = queries_of_the_page(admin_client, few)
    with django_assert_max_num_queries(baseline):
        page = page_of(admin_client, many)

    story = story_of(page)
    activity_lines = [
        line for line in story if not line.startswith(("Entered conversation", "Left conversation"))
    ]
    assert len(activity_lines) == RECENT
    assert_plain_words(story)
    assert "Older activity" in page
    # Names, never ids: the page names every message, conversation and field.
    assert any("“Mail 1 for many”" in line and "“Flow 1 for many”" in line for line in story)
    assert any(
        re.match(r"Profile updated: (First Name|Birthday|Points|VIP) from \(empty\) to", line)
        for line in story
    )


def test_the_older_pages_walk_back_to_the_first_activity_once_each(shop, admin_client):
    contact = ContactFactory(list=shop, email="ada@example.com")
    event = EventFactory(list=shop, name="Visit")
    Activity.objects.bulk_create(
        Activity(
            contact=contact,
            list=shop,
            email=contact.email,
            kind=ActivityKind.EVENT_FIRED,
            occurred_at=contact.subscribed_at,  # all at once: the pages must still cut cleanly
            details={"event_id": event.pk, "data": {"visit": n}},
        )
        for n in range(170)
    )
    page = page_of(admin_client, contact)
    seen = story_of(page)
    assert len(seen) == RECENT
    older = html.unescape(re.search(r'<a href="([^"]+)">Older activity</a>', page).group(1))
    while older:
        response = admin_client.get(older)
        assert response.status_code == 200
        body = response.content.decode()
        seen += story_of(body)
        found = re.search(r'<a href="([^"]+)">Older activity</a>', body)
        older = html.unescape(found.group(1)) if found else ""
    assert "No older activity." in body
    assert sorted(seen) == sorted(f"Event “Visit” fired with visit: {n}" for n in range(170))

    url = reverse("admin:contacts_contact_activity", args=[contact.pk])
    stranger = ContactFactory(list=shop)
    strangers = str(Activity.objects.create(contact=stranger, list=shop).pk)
    for bad in ("nonsense", strangers, "9" * 40):
        response = admin_client.get(url, {"before": bad}, follow=True)
        assert response.status_code == 200
        assert "That page of activity is not this contact&#x27;s" in response.content.decode()
    assert Client().get(url).status_code == 302  # to the login
    assert staff("lists.view_list").get(url).status_code == 403


def test_the_activities_list_words_its_rows_too(shop, admin_client):
    contact = ContactFactory(list=shop, email="ada@example.com")
    update_profile(contact=contact, values={"First Name": "Ada"})
    fire_event(event=EventFactory(list=shop, name="Visit"), contact=contact, data={"page": "/tea"})
    page = admin_client.get(reverse("admin:contacts_activity_changelist")).content.decode()
    assert "Event “Visit” fired with page: “/tea”" in html.unescape(page)
    assert "Profile updated: First Name from (empty) to “Ada”" in html.unescape(page)


# --- The panels -------------------------------------------------------------------


def test_the_conversations_panel_says_where_the_contact_is_and_how_to_resume_it(shop):
    _, (wait, _end) = conversation_with_steps(
        shop, (StepKind.WAIT, {"kind": "duration", "days": 1}), (StepKind.TERMINATE, {}),
        name="Birthday treat",
    )  # fmt: skip
    held = EnrollmentFactory(
        step=wait,
        contact=ContactFactory(list=shop, email="ada@example.com"),
        state=EnrollmentState.HELD,
        due_at=None,
        held_reason="The coupon pool “Birthday” has no codes left.",
    )
    client = staff(
        "contacts.view_contact", "conductor.view_enrollment", "conductor.change_enrollment"
    )

    page = page_of(client, held.contact)
    assert "Held at Main step 1, Wait: The coupon pool “Birthday” has no codes left." in page
    assert "(trigger: first-ever subscription)" in page
    resume = html.unescape(
        re.search(r'<a href="([^"]+)">Resume it from the held enrollments</a>', page).group(1)
    )
    listed = client.get(resume)
    assert [e.pk for e in listed.context["cl"].result_list] == [held.pk]
    assert "resume_held_enrollments" in listed.content.decode()  # the action that resumes it
    assert "Entered conversation “Birthday treat”" in " ".join(story_of(page))

    # Without the right to see enrollments: neither the panel nor those lines.
    page = page_of(staff("contacts.view_contact"), held.contact)
    assert "Birthday treat" not in page


# --- Subscribe and unsubscribe buttons ---------------------------------------------


def subscription_url(contact: Contact) -> str:
    return reverse("admin:contacts_contact_subscription", args=[contact.pk])


def test_staff_who_may_only_view_see_no_buttons_and_may_not_post(shop):
    contact = ContactFactory(list=shop, email="ada@example.com")
    viewer = staff("contacts.view_contact")

    page = page_of(viewer, contact)
    assert f"Subscribed since {contact.subscribed_at:%Y-%m-%d %H:%M} UTC (method API)." in page
    assert subscription_url(contact) not in page
    assert viewer.post(subscription_url(contact), {"action": "unsubscribe"}).status_code == 403
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED
    assert not contact.activities.exists()


def test_staff_who_may_change_unsubscribe_with_the_button(shop):
    contact = ContactFactory(list=shop, email="ada@example.com")
    editor = staff("contacts.view_contact", "contacts.change_contact")
    page = page_of(editor, contact)
    assert f'action="{subscription_url(contact)}"' in page
    assert ">Unsubscribe</button>" in page
    assert editor.get(subscription_url(contact)).status_code == 405

    response = editor.post(subscription_url(contact), {"action": "unsubscribe"}, follow=True)
    page = response.content.decode()
    assert "Unsubscribed ada@example.com from “Shop”." in page
    assert story_of(page) == ["Unsubscribed (method Admin)"]
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.UNSUBSCRIBED
    assert contact.unsubscribe_method == "Admin"
    assert "Unsubscribed on " in page and ">Resubscribe</button>" in page

    again = editor.post(subscription_url(contact), {"action": "unsubscribe"}, follow=True)
    assert "Nothing changed: ada@example.com was already unsubscribed." in again.content.decode()
    nonsense = editor.post(subscription_url(contact), {"action": "delete"}, follow=True)
    assert "Nothing changed" in nonsense.content.decode()


def test_the_buttons_need_the_csrf_token(shop):
    contact = ContactFactory(list=shop, email="ada@example.com")
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-12345678")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(subscription_url(contact), {"action": "unsubscribe"}).status_code == 403
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED


def test_a_resubscribe_takes_the_persons_consent_and_records_who_confirmed_it(shop):
    contact = ContactFactory(list=shop, email="ada@example.com")
    unsubscribe_contact(contact=contact, method="Unsubscribe Link")
    editor = staff("contacts.view_contact", "contacts.change_contact")
    page = page_of(editor, contact)
    assert "ada@example.com asked to be subscribed again: I confirm their consent." in page
    assert 'name="consent"' in page

    refused = editor.post(subscription_url(contact), {"action": "subscribe"}, follow=True)
    assert "Not subscribed: tick the box to confirm that ada@example.com gave their consent." in (
        refused.content.decode()
    )
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.UNSUBSCRIBED
    assert contact.activities.count() == 1

    done = editor.post(
        subscription_url(contact), {"action": "subscribe", "consent": "on"}, follow=True
    )
    page = done.content.decode()
    assert "Resubscribed ada@example.com to “Shop”, with their consent recorded." in page
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED
    username = get_user_model().objects.get(is_staff=True).username
    resubscribed = contact.activities.get(kind=ActivityKind.RESUBSCRIBED)
    assert resubscribed.details == {"method": "Admin", "consent_confirmed_by": username}
    assert story_of(page)[0] == f"Resubscribed (method Admin), consent confirmed by {username}"

    unsubscribe_contact(contact=contact, method="Admin")
    ban_addresses(email_list=shop, emails=[contact.email], reason="Fraud")
    banned = editor.post(
        subscription_url(contact), {"action": "subscribe", "consent": "on"}, follow=True
    )
    assert "Not subscribed: ada@example.com is banned from list &#x27;Shop&#x27;." in (
        banned.content.decode()
    )


# --- Profile values: on the add form, and read-only for viewers -------------------


def test_adding_a_contact_takes_its_profile_values_checked_by_type(shop, admin_client):
    fields = fields_of(shop)
    ListFactory(name="Other")
    url = reverse("admin:contacts_contact_add")
    chooser = admin_client.get(url).content.decode()
    assert "Choose its list to fill in its profile values." in chooser
    assert f"profile_{fields['First Name'].pk}" not in chooser
    assert admin_client.get(url, {"list": "9" * 40}).status_code == 200  # no such list: a choice
    form = admin_client.get(url, {"list": shop.pk}).content.decode()
    assert f'name="profile_{fields["Birthday"].pk}"' in form
    assert "The profile values of “Shop”, each optional." in form

    def values(**given: str) -> dict[str, str]:
        return {f"profile_{fields[name].pk}": value for name, value in given.items()}

    bad = admin_client.post(
        f"{url}?list={shop.pk}",
        {
            "list": shop.pk,
            "email": "grace@example.com",
            **values(Birthday="31/31/2020", Points="1.234"),
        },
    )
    assert bad.status_code == 200
    page = bad.content.decode()
    for name, error in [
        ("Birthday", "Enter a valid date."),
        ("Points", "Ensure that there are no more than 2 decimal places."),
    ]:
        row = page.split(f"field-profile_{fields[name].pk}", 1)[1].split('class="form-row', 1)[0]
        assert error in row  # next to its own field
    assert not Contact.objects.filter(email="grace@example.com").exists()

    response = admin_client.post(
        f"{url}?list={shop.pk}",
        {
            "list": shop.pk,
            "email": "Grace@Example.com",
            **values(
                **{"First Name": " Grace ", "Birthday": "12/09/1906", "VIP": "on", "Points": "3"}
            ),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    grace = Contact.objects.get(email="grace@example.com")
    assert grace.profile == {
        fields["First Name"].key: "Grace",
        fields["Birthday"].key: "1906-12-09",
        fields["VIP"].key: "on",
        fields["Points"].key: "3",
    }
    assert story_of(page_of(admin_client, grace)) == [
        "Subscribed for the first time (method Admin)"
    ]

    another = admin_client.post(
        f"{url}?list={shop.pk}", {"list": shop.pk, "email": "ann@example.com", "_addanother": "1"}
    )
    assert another["Location"] == f"{url}?list={shop.pk}"  # the next one's fields at once


def test_values_typed_for_another_lists_fields_are_not_lost(shop, admin_client):
    other = ListFactory(name="Other")
    ProfileFieldFactory(list=other, group__list=other, name="Shoe size", data_type=DataType.NUMERIC)
    first = fields_of(shop)["First Name"]
    response = admin_client.post(
        reverse("admin:contacts_contact_add"),
        {"list": other.pk, "email": "grace@example.com", f"profile_{first.pk}": "Grace"},
    )
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "The profile values entered were for another list's fields." in page
    assert "Shoe size" in page  # the chosen list's fields, to fill in now
    assert not Contact.objects.filter(email="grace@example.com").exists()


def test_staff_who_may_only_view_see_the_profile_values(shop):
    contact = ContactFactory(list=shop, email="ada@example.com")
    update_profile(contact=contact, values={"First Name": "Ada", "VIP": "on", "Points": "10.5"})

    page = page_of(staff("contacts.view_contact"), contact)
    shown = dict(re.findall(r'<label>([^<]+):</label>\s*<div class="readonly">([^<]*)</div>', page))
    assert {name: shown[name] for name in ("First Name", "Birthday", "Points", "VIP")} == {
        "First Name": "Ada",
        "Birthday": "(empty)",
        "Points": "10.5",
        "VIP": "Yes",
    }
    assert 'name="profile_' not in page


# --- In a real browser -------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_unsubscribe_and_resubscribe_with_consent_in_a_browser(live_server, browser_page):
    get_user_model().objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    contact = ContactFactory(list=ListFactory(name="Shop"), email="ada@example.com")
    page = browser_page
    log_in(page, live_server.url, "staff", "s3cret-pass")
    page.goto(f"{live_server.url}/admin/contacts/contact/{contact.pk}/change/")

    page.click("button:text-is('Unsubscribe')")
    page.wait_for_selector(".messagelist .success")
    assert "Unsubscribed ada@example.com" in page.inner_text(".messagelist")
    assert "Unsubscribed (method Admin)" in page.inner_text(".recent-activity")

    # The box must be ticked: the browser itself refuses the form without it.
    assert page.eval_on_selector("input[name=consent]", "box => box.validity.valueMissing")
    page.check("input[name=consent]")
    page.click("button:text-is('Resubscribe')")
    page.wait_for_selector(".messagelist .success")
    assert "consent confirmed by staff" in page.inner_text(".recent-activity")
    assert Contact.objects.get(pk=contact.pk).state == SubscriptionState.SUBSCRIBED
