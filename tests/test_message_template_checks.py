"""A message's templates are checked before any contact gets them: a template
that does not compile, or names a merge field its list lacks, is refused when
the message is saved (the admin, any ``full_clean``), imported, and when a
conversation version sending it is published, each problem with its line."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from conductor.models import Conversation, ConversationStatus, StepKind
from conductor.versions import publish, working_version
from emails.models import Message
from emails.render import build_test_email
from emails.template_checks import merge_name, template_problems
from lists.models import ProfileField
from tests.factories import (
    ConversationFactory,
    ListFactory,
    MessageFactory,
    ProfileFieldFactory,
    add_step,
    main_thread,
)
from tests.staff import staff

pytestmark = pytest.mark.django_db

BROKEN_IF = "<p>Hello</p>\n<p>Our sale</p>\n{% if %}<p>VIP</p>{% endif %}"
IF_PROBLEM = "Line 3: the {% if %} tag needs a condition."
MISSPELLED = "Hi\n{{ profile.firstname }}"
SUGGESTION = (
    "Line 2: {{ profile.firstname }} is not a merge field of list “Shop”; "
    "did you mean {{ profile.first_name }}?"
)
#: for, with, if and "as" names; trigger.anything; the list, the links, a filter.
VALID = """{% for item in trigger.items %}{{ forloop.counter }}. {{ item.name }}
{% empty %}Nothing in your cart.{% endfor %}
{% with name=profile.first_name %}{% if name and not profile.vip %}Hi {{ name }}{% endif %}
{% endwith %}{% firstof profile.first_name "friend" as who %}Dear {{ who|title }},
{{ profile.first_name|default:"there" }}, from {{ list.name }} to {{ email }}
({{ trigger.campaign.anything.at_all }}). Leave: {{ links.unsubscribe }}
See https://shop.example/sale?for={{ profile.first_name|urlencode }}"""


def form_data(message: Message, **changes: str) -> dict[str, object]:
    fields = ("name", "subject", "html_body", "text_body", "from_name", "from_email")
    return {"list": message.list_id, **{f: getattr(message, f) for f in fields}, **changes}


def sending(shop, message: Message) -> Conversation:
    """A conversation whose one Message step sends ``message``."""
    conversation = ConversationFactory.create(list=shop, name="Welcome series")
    thread = main_thread(conversation)
    add_step(thread, StepKind.MESSAGE, message=message.pk)
    add_step(thread, StepKind.TERMINATE)
    return conversation


def problems_of(message: Message) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        message.full_clean()
    return refused.value.message_dict


# --- At save ----------------------------------------------------------------------


def test_the_admin_refuses_a_template_that_does_not_compile_naming_its_line(shop):
    message = MessageFactory.create(list=shop, name="Welcome", html_body="<p>Hello</p>")
    editor = staff("emails.view_message", "emails.change_message")
    url = reverse("admin:emails_message_change", args=[message.pk])
    response = editor.post(url, form_data(message, html_body=BROKEN_IF))
    assert response.status_code == 200  # the form again, not a redirect
    assert response.context["adminform"].form.errors == {"html_body": [IF_PROBLEM]}
    assert IF_PROBLEM in response.content.decode()
    message.refresh_from_db()
    assert message.html_body == "<p>Hello</p>"  # nothing saved


def test_the_admin_refuses_an_unknown_merge_field_with_the_nearest_one(shop):
    editor = staff("emails.view_message", "emails.add_message")
    response = editor.post(
        reverse("admin:emails_message_add"),
        {"list": shop.pk, "name": "Welcome", "subject": "Hi {{ profile.frist_name }}",
         "html_body": "", "text_body": MISSPELLED},
    )  # fmt: skip
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors == {
        "subject": [
            "Line 1: {{ profile.frist_name }} is not a merge field of list “Shop”; "
            "did you mean {{ profile.first_name }}?"
        ],
        "text_body": [SUGGESTION],
    }
    assert SUGGESTION in response.content.decode()
    assert not Message.objects.exists()


def test_a_staff_member_without_the_change_permission_cannot_save_a_message(shop):
    message = MessageFactory.create(list=shop, name="Welcome")
    viewer = staff("emails.view_message")
    url = reverse("admin:emails_message_change", args=[message.pk])
    response = viewer.post(url, form_data(message, subject="Changed"))
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.subject == "Hello"


def test_a_message_with_no_list_chosen_is_only_told_to_choose_one(shop):
    editor = staff("emails.view_message", "emails.add_message")
    response = editor.post(
        reverse("admin:emails_message_add"),
        {"list": "", "name": "Welcome", "subject": "Hi {{ profile.anything }}",
         "html_body": "", "text_body": "{% if %}"},
    )  # fmt: skip
    errors = response.context["adminform"].form.errors
    assert errors == {
        "list": ["This field is required."],
        "text_body": ["Line 1: the {% if %} tag needs a condition."],
    }


def test_a_valid_template_using_its_own_names_the_trigger_the_list_and_the_links_is_saved(
    shop,
):
    message = Message(list=shop, name="Cart", subject="{{ list.name }}: for you", text_body=VALID)
    message.html_body = (
        f"<p>{VALID}</p><a href='{{{{ links.unsubscribe }}}}'>Leave</a>"
        "<a href='https://shop.example/c/{{ profile.first_name }}'>Cart</a>"
    )
    message.full_clean()
    message.save()
    # ... and renders: its merge fields are the ones rendering gives.
    email = build_test_email(message, "staff@example.com")
    assert email.subject == "[Test] Shop: for you"
    assert "Dear Friend," in email.body
    assert "from Shop to staff@example.com" in email.body


def test_a_name_with_nothing_close_gets_no_suggestion(shop):
    message = Message(list=shop, name="Sale", subject="Sale", text_body="{{ profile.shoe_size }}")
    assert problems_of(message) == {
        "text_body": ["Line 1: {{ profile.shoe_size }} is not a merge field of list “Shop”."]
    }


def test_a_filter_on_a_merge_field_passes_and_a_filter_that_does_not_exist_is_named(shop):
    message = Message(list=shop, name="Sale", subject="Sale")
    message.text_body = 'Hi {{ profile.first_name|default:"there" }}'
    message.full_clean()
    message.text_body = "Hi\n{{ profile.first_name|shout }}"
    assert problems_of(message) == {"text_body": ["Line 2: there is no filter “shout”."]}


def test_the_coupon_is_a_merge_field_of_its_own_and_a_profile_field_named_coupon_too(shop):
    group = ProfileField.objects.get(list=shop, name="First Name").group
    ProfileFieldFactory(group=group, name="Coupon")
    message = Message(list=shop, name="Code", subject="Code", text_body="{{ profile.coupon }}")
    message.full_clean()
    message.text_body = "Your code: {{ coupon }}"
    message.full_clean()
    message.text_body = "Your code: {{ copon }}"
    assert problems_of(message) == {
        "text_body": ["Line 1: {{ copon }} is not a merge field; did you mean {{ coupon }}?"]
    }


def test_a_name_is_known_only_inside_the_for_or_with_that_sets_it(shop):
    message = Message(list=shop, name="Cart", subject="Cart")
    message.text_body = (
        "{% for item in trigger.items %}{{ item }}{% endfor %}\n"
        "{{ item }}\n"
        "{% with n=profile.first_name %}{{ n }}{% endwith %}{{ n }}"
    )
    assert problems_of(message) == {
        "text_body": [
            "Line 2: {{ item }} is not a merge field.",
            "Line 3: {{ n }} is not a merge field.",
        ]
    }


def test_an_elif_condition_is_named_on_its_own_line(shop):
    message = Message(list=shop, name="Tiers", subject="Tiers")
    message.text_body = (
        "{% if profile.vip %}\nGold\n{% elif profile.pionts > 10 %}\nSilver{% endif %}"
    )
    assert problems_of(message) == {
        "text_body": [
            "Line 3: {{ profile.pionts }} is not a merge field of list “Shop”; "
            "did you mean {{ profile.points }}?"
        ]
    }


def test_names_set_by_tags_of_loaded_libraries_are_known_and_their_values_checked(shop):
    message = Message(list=shop, name="Hello", subject="Hello")
    message.text_body = (
        "{% load i18n static %}{% get_current_language as lang %}{{ lang }}\n"
        '{% static "logo.png" as logo %}{{ logo }}\n'
        "{% blocktranslate with name=profile.first_name %}Hi {{ name }}{% endblocktranslate %}\n"
        "{% blocktranslate with name=profile.frist_name %}Hi {{ name }}{% endblocktranslate %}"
    )
    assert problems_of(message) == {
        "text_body": [
            "Line 4: {{ profile.frist_name }} is not a merge field of list “Shop”; "
            "did you mean {{ profile.first_name }}?"
        ]
    }


def test_a_link_using_a_loop_name_is_refused_as_it_is_filled_in_at_the_click(shop):
    message = Message(list=shop, name="Cart", subject="Cart", text_body="Hello")
    message.html_body = (
        "<ul>\n{% for item in trigger.items %}"
        "<li><a href='https://shop.example/p/{{ item.id }}'>{{ item.name }}</a></li>"
        "{% endfor %}\n</ul>"
    )
    assert problems_of(message) == {
        "html_body": [
            "Line 2: the link https://shop.example/p/{{ item.id }}: {{ item.id }} is empty "
            "when the link is followed: a link is filled in when the contact clicks it, "
            "from the contact's merge fields only."
        ]
    }


def test_link_and_template_problems_are_both_shown_on_their_field(shop):
    message = Message(list=shop, name="Sale", subject="{% endif %}", html_body="")
    message.text_body = "See https://{{ profile.first_name }}.example/\n{{ profile.firstname }}"
    assert problems_of(message) == {
        "subject": ["Line 1: {% endif %} closes nothing: no tag it could close is open here."],
        "text_body": [
            "The link https://{{ profile.first_name }}.example/ takes its address from a "
            "merge field; only its path, query or fragment may use merge fields.",
            SUGGESTION,
        ],
    }


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "Hi\n{% if profile.vip %}VIP",
            "Line 2: the {% if %} tag is never closed: add {% endif %}.",
        ),
        (
            "{% if profile.vip %}\n{% endfor %}",
            "Line 2: {% endfor %} is out of place: close the open tag first with {% endif %}.",
        ),
        ("Hi {% shout %}", "Line 1: there is no tag {% shout %}."),
        ("Hi {{ }}", "Line 1: {{ }} is empty: write a merge field between the braces."),
        (
            "Hi {{ profile.first_name! }}",
            "Line 1: “profile.first_name!” cannot be read: “!” does not belong there.",
        ),
        ("{% load shouting %}", "Line 1: there is no tag library “shouting” to load."),
        (
            "{% for x %}{% endfor %}",
            "Line 1: 'for' statements should have at least four words: for x.",
        ),
    ],
)  # fmt: skip
def test_syntax_errors_are_named_in_plain_words_with_their_line(shop, source, problem):
    message = Message(list=shop, name="Sale", subject="Sale", text_body=source)
    assert template_problems(message, ProfileField.objects.filter(list=shop)) == {
        "text_body": [problem]
    }


def test_profile_fields_are_named_as_rendering_names_them(shop):
    assert merge_name("First Name") == "first_name"
    assert merge_name("  Coupon-Code (2024) ") == "coupon_code_2024"
    other = ListFactory.create(name="Outlet")
    ProfileFieldFactory(list=other, group__list=other, name="Shoe Size (EU)")
    message = Message(list=other, name="Fit", subject="Fit", text_body="{{ profile.shoe_size_eu }}")
    message.full_clean()


# --- At publish -------------------------------------------------------------------


def test_publishing_refuses_a_message_broken_after_it_was_saved_naming_step_and_line(shop):
    message = MessageFactory.create(list=shop, name="Welcome", html_body="<p>Hello</p>")
    conversation = sending(shop, message)
    # As a row saved before templates were checked.
    Message.objects.filter(pk=message.pk).update(html_body=BROKEN_IF)
    problem = (
        "Main step 1, Message: message “Welcome”: HTML body, line 3: "
        "the {% if %} tag needs a condition."
    )
    with pytest.raises(ValidationError) as refused:
        publish(conversation)
    assert refused.value.messages == [problem]
    publisher = staff("conductor.view_conversation", "conductor.change_conversation")
    url = reverse("admin:conductor_conversation_publish", args=[conversation.pk])
    response = publisher.post(url, follow=True)
    assert [str(m) for m in response.context["messages"]] == [problem]
    assert not working_version(conversation).is_published
    conversation.refresh_from_db()
    assert conversation.status != ConversationStatus.PUBLISHED


def test_publishing_refuses_an_unknown_merge_field_with_the_nearest_one(shop):
    message = MessageFactory.create(list=shop, name="Welcome")
    conversation = sending(shop, message)
    Message.objects.filter(pk=message.pk).update(text_body=MISSPELLED)
    with pytest.raises(ValidationError) as refused:
        publish(conversation)
    assert refused.value.messages == [
        "Main step 1, Message: message “Welcome”: Text body, line 2: {{ profile.firstname }} "
        "is not a merge field of list “Shop”; did you mean {{ profile.first_name }}?"
    ]
    Message.objects.filter(pk=message.pk).update(text_body=VALID)
    assert publish(conversation).is_published


def test_a_broken_message_no_step_sends_does_not_stop_publishing(shop):
    MessageFactory.create(list=shop, name="Old draft", text_body="{% if %}")
    conversation = sending(shop, MessageFactory.create(list=shop, name="Welcome"))
    assert publish(conversation).is_published


# --- At import --------------------------------------------------------------------


def test_importing_refuses_a_new_message_whose_template_is_broken(shop, tmp_path: Path):
    message = MessageFactory.create(list=shop, name="Welcome")
    conversation = sending(shop, message)
    out = StringIO()
    call_command("export_conversation", str(conversation.pk), stdout=out)
    document = json.loads(out.getvalue())
    document["messages"][0]["html_body"] = "<p>Hi</p>\n{% if %}"
    document["messages"][0]["text_body"] = "Hi {{ profile.firstname }}"
    path = tmp_path / "conversation.json"
    path.write_text(json.dumps(document))
    other = ListFactory.create(name="Outlet")
    ProfileFieldFactory(list=other, group__list=other, name="First Name")
    with pytest.raises(CommandError) as refused:
        call_command("import_conversation", str(path), "--list", str(other.pk))
    said = str(refused.value)
    assert "messages[0] ('Welcome'): HTML body, line 2: the {% if %} tag needs a condition." in said
    assert (
        "messages[0] ('Welcome'): Text body, line 1: {{ profile.firstname }} is not a merge "
        "field of list “Outlet”; did you mean {{ profile.first_name }}?" in said
    )
    assert not Message.objects.filter(list=other).exists()
    assert not Conversation.objects.filter(list=other).exists()
