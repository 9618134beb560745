"""Blocks of the content library put into messages as ``{{ content.<key> }}``:
their HTML in the HTML body, their text in the text body and the subject,
as they are when the email is sent, with their links tracked like the
message's own. Emails go out through the real sending path to a real SMTP
server; the admin's pages are refused without their permissions."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from conductor.engine.claims import claim_due
from conductor.engine.runner import run_claimed
from conductor.engine.tasks import run_due
from conductor.models import Enrollment, EnrollmentState, StepKind
from conductor.versions import publish
from contacts.services import subscribe_contact
from emails.content_library import (
    IN_FOLDER,
    create_block,
    delete_block,
    save_folder,
    update_block,
)
from emails.models import BlockType, ContentBlock, ContentFolder, Delivery, DeliveryStatus, Message
from emails.render import check_templates
from emails.sending.delivery import send_deliveries
from tests.factories import MessageFactory, conversation_with_steps
from tests.smtp import text_of
from tests.staff import staff
from tests.tracking_helpers import links, path_of, send_to

pytestmark = pytest.mark.django_db

FOOTER_HTML = '<p class="footer">Free returns. <a href="https://shop.example/returns">How</a></p>'
FOOTER_TEXT = "Free returns: https://shop.example/returns"
HTML = "<html><body><p>Hi {{ profile.first_name }}</p>\n{{ content.footer }}\n</body></html>"
TEXT = "Hi {{ profile.first_name }}\n\n{{ content.footer }}\n"


@pytest.fixture
def footer() -> ContentBlock:
    return create_block(name="Footer", html=FOOTER_HTML, text=FOOTER_TEXT)


def mailing(shop, **bodies: str) -> Message:
    """A published conversation sending one message to each new subscriber."""
    message = MessageFactory.create(list=shop, name="Sale", **bodies)
    send = (StepKind.MESSAGE, {"message": message.pk})
    conversation, _ = conversation_with_steps(shop, send, (StepKind.TERMINATE, {}), name="Sale")
    publish(conversation)
    return message


def form_data(message: Message, **changes: object) -> dict[str, object]:
    fields = ("name", "subject", "html_body", "text_body", "from_name", "from_email")
    return {"list": message.list_id, **{f: getattr(message, f) for f in fields}, **changes}


# --- Sending --------------------------------------------------------------------------


def test_an_email_gets_the_blocks_html_in_its_html_and_its_text_in_its_text(
    shop, footer, smtp_server, client
):
    mailing(shop, subject="Sale: {{ content.footer }}", html_body=HTML, text_body=TEXT)
    _, email = send_to(shop, smtp_server, "ada@example.com", "Ada")

    html, text = text_of(email, "html"), text_of(email)
    assert '<p class="footer">Free returns. <a href=' in html  # not escaped
    assert "Hi Ada" in html and "Hi Ada" in text
    assert "Free returns: " in text and "<p" not in text
    assert email["Subject"] == "Sale: Free returns: https://shop.example/returns"
    # The block's link is tracked like the message's own, in both parts.
    (tracked,) = links(html, "c")
    assert links(text, "c") == [tracked]
    assert "https://shop.example/returns" not in html
    assert client.get(path_of(tracked))["Location"] == "https://shop.example/returns"


def test_an_email_gets_the_block_as_it_is_when_sent_not_when_published(shop, footer, smtp_server):
    mailing(shop, subject="Sale", html_body=HTML, text_body=TEXT)
    update_block(
        block=footer,
        name="Footer",
        html="<p>Returns within 60 days.</p>",
        text="Returns within 60 days.",
        folder=None,
        content_type=BlockType.SAVED,
    )
    _, email = send_to(shop, smtp_server, "ada@example.com")
    assert "<p>Returns within 60 days.</p>" in text_of(email, "html")
    assert "Returns within 60 days." in text_of(email)
    assert "Free returns" not in text_of(email, "html")


def test_a_block_without_text_puts_text_made_from_its_html_in_the_text_body(shop, smtp_server):
    create_block(
        name="Footer", html='<h2>Returns</h2><p><a href="https://shop.example/r">How</a></p>'
    )
    mailing(shop, subject="Sale", html_body=HTML, text_body=TEXT)
    _, email = send_to(shop, smtp_server, "ada@example.com")
    text = text_of(email)
    assert "Returns\r\n\r\nHow <http" in text  # the heading on its line, the link after its words
    assert "<h2>" not in text


def test_an_email_whose_block_was_deleted_meanwhile_is_skipped_with_the_reason(
    shop, footer, smtp_server
):
    mailing(shop, subject="Sale", html_body=HTML, text_body=TEXT)
    ada = subscribe_contact(email_list=shop, email="ada@example.com", method="API").contact
    token = claim_due(100)
    assert token is not None
    run_claimed(token)  # the step writes the email; then the block goes, past the refusal
    ContentBlock.objects.filter(pk=footer.pk).delete()

    send_deliveries()
    assert smtp_server.messages == []
    delivery = Delivery.objects.get()
    why = (
        "Not sent: the message could not be rendered: "
        "the content block {{ content.footer }} no longer exists."
    )
    assert (delivery.status, delivery.error) == (DeliveryStatus.SKIPPED, why)
    held = Enrollment.objects.get(contact=ada)
    assert held.state == EnrollmentState.HELD
    assert held.held_reason.startswith(f"Email “Sale”: {why[:-1]}")


def test_a_conversation_holds_its_contact_when_the_message_names_a_block_gone(shop, footer):
    mailing(shop, subject="Sale", html_body=HTML, text_body=TEXT)
    ContentBlock.objects.filter(pk=footer.pk).delete()
    ada = subscribe_contact(email_list=shop, email="ada@example.com", method="API").contact
    run_due()
    assert not Delivery.objects.exists()
    held = Enrollment.objects.get(contact=ada)
    assert held.held_reason == (
        "Not sent: message “Sale” cannot be rendered: the content block {{ content.footer }} "
        "no longer exists. Fix the message, then resume the contact."
    )


# --- Checks when a message is saved ---------------------------------------------------


def test_an_unknown_block_is_refused_on_the_message_form_naming_it(shop, footer, admin_client):
    message = MessageFactory.create(list=shop, html_body="<p>Hi</p>")
    response = admin_client.post(
        reverse("admin:emails_message_change", args=[message.pk]),
        form_data(message, html_body="<p>Hi</p>\n{{ content.foter }}"),
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["html_body"] == [
        "Line 2: {{ content.foter }} is not a block of the content library; "
        "did you mean {{ content.footer }}?"
    ]


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        (
            "{% if content.footer %}x{% endif %}",
            "{{ content.footer }} is written into the message as it is, so it stands alone "
            "between {{ and }}: not inside a tag, with no filter.",
        ),
        (
            "{{ content.footer|upper }}",
            "{{ content.footer }} is written into the message as it is, so it stands alone "
            "between {{ and }}: not inside a tag, with no filter.",
        ),
        (
            "{{ content }}",
            "{{ content }} is the content library: name one of its blocks, as "
            "{{ content.<key> }} (the blocks are listed beside the bodies).",
        ),
        (
            "{{ content.footer.html }}",
            "{{ content.footer.html }} is not a content block: a block is written "
            "{{ content.footer }}, with nothing after its key.",
        ),
        (
            '<a href="https://shop.example/{{ content.footer }}">x</a>',
            "the link https://shop.example/{{ content.footer }}: {{ content.footer }} cannot "
            "be part of a link's address: put the whole link in the content block instead.",
        ),
    ],
)
def test_a_block_used_other_than_standing_alone_is_refused(shop, footer, written, problem):
    message = Message(list=shop, name="Sale", subject="Sale", html_body=written)
    with pytest.raises(ValidationError) as refused:
        message.full_clean()
    assert refused.value.message_dict["html_body"] == [f"Line 1: {problem}"]


def test_a_block_in_the_subject_or_inside_verbatim_or_a_loop_is_accepted(shop, footer):
    message = Message(
        list=shop,
        name="Sale",
        subject="{{ content.footer }}",
        html_body="{% for x in 'ab' %}{{ content.footer }}{% endfor %}"
        "{% verbatim %}{{ content.nope }}{% endverbatim %}",
    )
    message.full_clean()
    check_templates(message)


# --- The block's own rules ------------------------------------------------------------


def test_a_blocks_key_is_made_from_its_name_unique_and_kept_when_renamed():
    first = create_block(name="Spring footer!", html="<p>a</p>")
    second = create_block(name="Spring  Footer", html="<p>b</p>")
    third = create_block(name="2024 sale", text="c")
    assert (first.key, second.key, third.key) == (
        "spring_footer",
        "spring_footer_2",
        "block_2024_sale",
    )
    update_block(
        block=first,
        name="Autumn",
        html="<p>a</p>",
        text="",
        folder=None,
        content_type="SavedContent",
    )
    first.refresh_from_db()
    assert (first.name, first.key) == ("Autumn", "spring_footer")


def test_a_block_with_merge_fields_or_a_link_with_no_host_is_refused():
    with pytest.raises(ValidationError) as refused:
        create_block(
            name="Hi", html="<p>Hi {{ profile.first_name }}</p>", text="See https:///nowhere"
        )
    problems = refused.value.message_dict
    assert problems["html"][0].startswith("A block is put into messages exactly as it is written")
    assert problems["text"] == ["The link https:///nowhere has no host."]
    assert not ContentBlock.objects.exists()


def test_a_block_ending_with_a_brace_keeps_the_messages_next_merge_field(shop, smtp_server):
    create_block(name="Brace", text="Open {")
    mailing(shop, subject="Sale", text_body="{{ content.brace }}{{ profile.first_name }}")
    _, email = send_to(shop, smtp_server, "ada@example.com", "Ada")
    assert text_of(email).startswith("Open {Ada")


def test_a_block_a_message_uses_cannot_be_deleted_and_the_refusal_names_it(shop, footer):
    MessageFactory.create(list=shop, name="Spring sale", html_body=HTML)
    with pytest.raises(ValidationError) as refused:
        delete_block(block=footer)
    assert refused.value.messages == [
        "“Footer” is used by the message “Spring sale”: take {{ content.footer }} out of it first."
    ]
    assert ContentBlock.objects.filter(pk=footer.pk).exists()


def test_a_block_only_a_waiting_email_uses_cannot_be_deleted_until_it_is_sent(
    shop, footer, smtp_server
):
    message = mailing(shop, subject="Sale", html_body=HTML, text_body=TEXT)
    subscribe_contact(email_list=shop, email="ada@example.com", method="API")
    run_claimed(claim_due(100) or "")  # the step writes the email, not sent yet
    message.html_body, message.text_body = "<p>Hi</p>", ""
    message.save()  # the published version still sends the block
    with pytest.raises(ValidationError) as refused:
        delete_block(block=footer)
    assert refused.value.messages == [
        "“Footer” is in 1 email waiting to be sent (by a published conversation version or "
        "a broadcast): delete it once it is sent."
    ]
    send_deliveries()
    assert len(smtp_server.messages) == 1
    delete_block(block=footer)
    assert not ContentBlock.objects.exists()


def test_folders_stay_in_their_list_and_never_inside_themselves(shop):
    top = save_folder(ContentFolder(name="Seasonal"))
    inner = save_folder(ContentFolder(name="Spring", parent=top))
    with pytest.raises(ValidationError) as refused:
        save_folder(ContentFolder(name="Shop's", list=shop, parent=top))
    assert refused.value.message_dict["parent"] == [
        "“Seasonal” is a folder of the whole account: a folder of list “Shop” goes inside "
        "a folder of the same, or at the top."
    ]
    top.parent = inner
    with pytest.raises(ValidationError) as refused:
        save_folder(top)
    assert refused.value.message_dict["parent"] == [
        "“Spring” is inside this folder: a folder cannot go inside itself."
    ]


# --- The message editor, the preview and a test send ----------------------------------


def test_the_merge_field_picker_lists_the_blocks_by_name(shop, footer, admin_client):
    create_block(name="Spring banner", html="<p>Spring</p>")
    message = MessageFactory.create(list=shop)
    page = admin_client.get(reverse("admin:emails_message_change", args=[message.pk]))
    html = page.content.decode()
    assert "<h3>Content library</h3>" in html
    assert (
        '<button type="button" class="merge-field" data-merge-field="{{ content.footer }}">'
        '<code>{{ content.footer }}</code><span class="merge-field-says">Footer</span></button>'
    ) in html
    assert 'data-merge-field="{{ content.spring_banner }}"' in html


def test_the_preview_and_a_test_send_show_the_block(shop, footer, admin_client, smtp_server):
    message = MessageFactory.create(list=shop, subject="Sale", html_body=HTML, text_body=TEXT)
    preview = admin_client.get(reverse("admin:emails_message_preview", args=[message.pk]))
    shown = preview.context["preview"]
    assert shown.problem == ""
    assert "Free returns: https://shop.example/returns" in shown.text
    assert "Free returns. <a href=" in shown.html
    assert shown.links[0].goes_to == "https://shop.example/returns"

    admin_client.post(
        reverse("admin:emails_message_test_send", args=[message.pk]), {"email": "me@example.com"}
    )
    (email,) = smtp_server.messages
    assert 'Free returns. <a href="https://shop.example/returns">' in text_of(email, "html")
    assert "Free returns: https://shop.example/returns" in text_of(email)


# --- The admin ------------------------------------------------------------------------

BLOCKS = "/admin/emails/contentblock/"
FOLDERS = "/admin/emails/contentfolder/"


def block_form(**changes: object) -> dict[str, object]:
    return {
        "name": "Footer",
        "folder": "",
        "content_type": "SavedContent",
        "html": FOOTER_HTML,
        "text": "",
        **changes,
    }


def test_staff_add_a_block_and_its_page_shows_how_to_use_it(admin_client):
    folder = save_folder(ContentFolder(name="Footers"))
    response = admin_client.post(
        f"{BLOCKS}add/", block_form(name="Spring footer", folder=folder.pk)
    )
    assert response.status_code == 302
    block = ContentBlock.objects.get()
    assert (block.key, block.folder) == ("spring_footer", folder)
    page = admin_client.get(f"{BLOCKS}{block.pk}/change/").content.decode()
    assert '<code class="block-merge-field">{{ content.spring_footer }}</code>' in page
    assert 'data-copy="{{ content.spring_footer }}">Copy</button>' in page
    assert 'class="block-preview"' in page and "srcdoc=" in page
    assert "No message uses it yet." in page


def test_the_block_form_refuses_merge_fields_in_a_block(admin_client):
    response = admin_client.post(
        f"{BLOCKS}add/", block_form(html="<p>{{ profile.first_name }}</p>")
    )
    assert response.status_code == 200
    assert (
        response.context["adminform"]
        .form.errors["html"][0]
        .startswith("A block is put into messages exactly as it is written")
    )
    assert not ContentBlock.objects.exists()


def test_deleting_a_used_block_in_the_admin_is_refused_naming_the_message(
    shop, footer, admin_client
):
    MessageFactory.create(list=shop, name="Spring sale", html_body=HTML)
    response = admin_client.post(f"{BLOCKS}{footer.pk}/delete/", {"post": "yes"}, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "The content block was not deleted: “Footer” is used by the message “Spring sale”: "
        "take {{ content.footer }} out of it first."
    ]
    assert ContentBlock.objects.filter(pk=footer.pk).exists()
    response = admin_client.post(
        BLOCKS, {"action": "delete_selected", "_selected_action": [footer.pk], "post": "yes"}
    )
    assert ContentBlock.objects.filter(pk=footer.pk).exists()


def test_staff_without_the_permissions_are_refused_every_page_and_change_nothing(footer):
    nobody = staff()
    for url in (BLOCKS, f"{BLOCKS}add/", f"{BLOCKS}{footer.pk}/change/", FOLDERS, f"{FOLDERS}add/"):
        assert nobody.get(url).status_code == 403, url
    viewer = staff("emails.view_contentblock")
    assert viewer.get(f"{BLOCKS}{footer.pk}/change/").status_code == 200
    assert viewer.post(f"{BLOCKS}{footer.pk}/change/", block_form(name="Mine")).status_code == 403
    assert viewer.post(f"{BLOCKS}add/", block_form(name="Mine")).status_code == 403
    assert viewer.post(f"{BLOCKS}{footer.pk}/delete/", {"post": "yes"}).status_code == 403
    deleting = {"action": "delete_selected", "_selected_action": [footer.pk], "post": "yes"}
    assert viewer.post(BLOCKS, deleting).status_code == 403
    footer.refresh_from_db()
    assert footer.name == "Footer"
    assert ContentBlock.objects.count() == 1


def test_the_folder_form_refuses_a_folder_of_a_list_inside_an_accounts_folder(shop, admin_client):
    top = save_folder(ContentFolder(name="Seasonal"))
    response = admin_client.post(
        f"{FOLDERS}add/", {"name": "Spring", "list": shop.pk, "parent": top.pk}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["parent"] == [
        "“Seasonal” is a folder of the whole account: a folder of list “Shop” goes inside "
        "a folder of the same, or at the top."
    ]
    response = admin_client.post(f"{FOLDERS}add/", {"name": "Spring", "list": "", "parent": top.pk})
    assert response.status_code == 302
    page = admin_client.get(FOLDERS).content.decode()
    assert f"Seasonal{IN_FOLDER}Spring" in page
