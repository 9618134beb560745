"""Every admin page, action and custom view checks the permission it needs:
a staff account without it gets 403 and nothing changes; with it, the work
is done. (The Segment integration's actions are proved in
tests/test_security_segment.py.)"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core import mail
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import AccessToken

from api.models import ApiClient
from conductor.models import Enrollment, EnrollmentState
from config.admin import SUPERUSER_ONLY_APPS, check_admin_actions
from contacts.imports.models import ImportStatus, ListImport
from contacts.models import Ban, Contact, SubscriptionState
from tests.api_helpers import api_caller
from tests.factories import ContactFactory, EnrollmentFactory, MessageFactory
from tests.staff import staff
from tests.test_security_api_permissions import snapshot
from tests.tracking_helpers import publish_mailing

pytestmark = pytest.mark.django_db


def admin_urls(model: type[Model], kind: str, *args: object) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{kind}", args=args)


def registered() -> list[tuple[type, admin.ModelAdmin]]:
    return list(admin.site._registry.items())


def test_every_action_of_every_admin_names_the_permission_it_needs():
    assert check_admin_actions() == []
    for model, model_admin in registered():
        for function, name, _ in model_admin._get_base_actions():
            assert function.allowed_permissions, (model._meta.label, name)


def test_a_staff_account_without_permissions_gets_403_on_every_admin_page():
    client = staff()
    assert client.get(reverse("admin:index")).status_code == 200  # the empty index
    for model, _ in registered():
        for kind in ("changelist", "add"):
            response = client.get(admin_urls(model, kind))
            assert response.status_code == 403, (model._meta.label, kind)


def test_view_permission_shows_the_list_and_no_more(shop):
    for model, _ in registered():
        opts = model._meta
        client = staff(f"{opts.app_label}.view_{opts.model_name}")
        # The task queue's and the OAuth toolkit's pages are for superusers only.
        shown = 403 if opts.app_label in SUPERUSER_ONLY_APPS else 200
        assert client.get(admin_urls(model, "changelist")).status_code == shown, opts.label
        assert client.get(admin_urls(model, "add")).status_code == 403, opts.label


def test_every_action_posted_by_a_view_only_account_is_a_403_and_changes_nothing(shop):
    contact = ContactFactory(list=shop, email="ada@example.com")
    before = snapshot()
    tried = 0
    for model, model_admin in registered():
        opts = model._meta
        client = staff(f"{opts.app_label}.view_{opts.model_name}")
        for _, name, _ in model_admin._get_base_actions():
            response = client.post(
                admin_urls(model, "changelist"),
                {"action": name, "_selected_action": [contact.pk], "index": 0},
            )
            assert response.status_code == 403, (opts.label, name, response.status_code)
            refusal = (
                "Only superusers may open"
                if opts.app_label in SUPERUSER_ONLY_APPS
                else "Your account may not run"
            )
            assert refusal in response.content.decode(), (opts.label, name)
            tried += 1
    assert tried >= 10
    assert snapshot() == before


# --- Each action, with exactly the permissions it names -----------------------------


def run_action(client: Client, model: type, action: str, pks: list[object]):
    return client.post(admin_urls(model, "changelist"), {"action": action, "_selected_action": pks})


def test_contacts_are_subscribed_and_unsubscribed_with_the_change_permission(shop):
    contact = ContactFactory(list=shop, email="ada@example.com")
    client = staff("contacts.view_contact", "contacts.change_contact")
    assert run_action(client, Contact, "unsubscribe_selected", [contact.pk]).status_code == 302
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.UNSUBSCRIBED
    assert run_action(client, Contact, "subscribe_selected", [contact.pk]).status_code == 302
    contact.refresh_from_db()
    assert contact.state == SubscriptionState.SUBSCRIBED
    # Banning takes the right to add bans, not only to change contacts.
    assert run_action(client, Contact, "ban_selected", [contact.pk]).status_code == 403
    assert not Ban.objects.exists()


def test_addresses_are_banned_with_the_permission_to_add_bans(shop):
    contact = ContactFactory(list=shop, email="ada@example.com")
    client = staff("contacts.view_contact", "contacts.add_ban")
    assert run_action(client, Contact, "ban_selected", [contact.pk]).status_code == 302
    assert Ban.objects.filter(email="ada@example.com").exists()
    # ... and that permission does not let the account change subscriptions.
    assert run_action(client, Contact, "unsubscribe_selected", [contact.pk]).status_code == 403


def test_held_enrollments_are_resumed_with_the_change_permission_on_enrollments(shop):
    message = publish_mailing(shop)
    conversation = message.list.conversations.get()
    version = conversation.versions.filter(published_at__isnull=False).get()
    step = version.steps.order_by("position").first()
    enrollment = EnrollmentFactory(step=step, state=EnrollmentState.HELD, held_reason="Pool empty")
    viewer = staff("conductor.view_enrollment")
    assert run_action(viewer, Enrollment, "resume_held_enrollments", [enrollment.pk]).status_code
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.HELD
    resumer = staff("conductor.view_enrollment", "conductor.change_enrollment")
    response = run_action(resumer, Enrollment, "resume_held_enrollments", [enrollment.pk])
    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.state == EnrollmentState.ACTIVE


def test_api_client_secrets_are_replaced_and_tokens_revoked_with_the_change_permission():
    caller = api_caller(name="Shop backend")
    client_row = ApiClient.objects.get(name="Shop backend")
    viewer = staff("api.view_apiclient")
    assert run_action(viewer, ApiClient, "revoke_tokens", [client_row.pk]).status_code == 403
    assert run_action(viewer, ApiClient, "replace_secret", [client_row.pk]).status_code == 403
    assert AccessToken.objects.count() == 1
    editor = staff("api.view_apiclient", "api.change_apiclient")
    assert run_action(editor, ApiClient, "revoke_tokens", [client_row.pk]).status_code == 302
    assert not AccessToken.objects.exists()
    assert caller.get("List").status_code == 401


def test_a_packages_action_is_run_by_superusers_only(admin_client):
    """The OAuth toolkit's own "revoke" declares no permission of its own; its
    pages, like the task queue's, are for superusers only (config.admin)."""
    api_caller()
    token = AccessToken.objects.get()
    editor = staff("oauth2_provider.view_accesstoken", "oauth2_provider.change_accesstoken")
    assert run_action(editor, AccessToken, "revoke_tokens", [token.pk]).status_code == 403
    assert AccessToken.objects.filter(pk=token.pk).exists()
    assert run_action(admin_client, AccessToken, "revoke_tokens", [token.pk]).status_code == 302
    assert not AccessToken.objects.filter(pk=token.pk).exists()


# --- Custom admin views ------------------------------------------------------------


def test_a_test_send_takes_the_change_permission_on_messages(shop, smtp_server):
    message = MessageFactory(list=shop)
    url = f"/admin/emails/message/{message.pk}/test-send/"
    change_page = f"/admin/emails/message/{message.pk}/change/"
    viewer = staff("emails.view_message")
    assert url not in viewer.get(change_page).content.decode()
    assert viewer.get(url).status_code == 403
    refused = viewer.post(url, {"email": "anyone@example.com"})
    assert refused.status_code == 403
    assert "Sending a test needs the permission to change messages" in refused.content.decode()
    assert smtp_server.messages == [] and mail.outbox == []
    editor = staff("emails.view_message", "emails.change_message")
    assert url in editor.get(change_page).content.decode()
    assert editor.post(url, {"email": "anyone@example.com"}).status_code == 302
    (email,) = smtp_server.messages
    assert email["To"] == "anyone@example.com"


def test_publishing_takes_the_change_permission_on_conversations(shop):
    message = publish_mailing(shop)
    conversation = message.list.conversations.get()
    url = admin_urls(type(conversation), "change", conversation.pk).replace("/change/", "/publish/")
    versions = conversation.versions.count()
    viewer = staff("conductor.view_conversation")
    refused = viewer.post(url)
    assert refused.status_code == 403
    assert "Publishing needs the permission to change conversations" in refused.content.decode()
    assert conversation.versions.count() == versions
    editor = staff("conductor.view_conversation", "conductor.change_conversation")
    assert editor.post(url).status_code == 302
    assert conversation.versions.count() == versions + 1


def test_rejected_rows_take_the_view_permission_on_imports(shop):
    list_import = ListImport.objects.create(
        list=shop, file_name="x.csv", status=ImportStatus.PROCESSING_COMPLETED
    )
    url = reverse("admin:contacts_listimport_rejected", args=[list_import.pk])
    assert staff("contacts.view_contact").get(url).status_code == 403
    response = staff("contacts.view_listimport").get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"row,email,result,reason")
