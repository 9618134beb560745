"""The message form of the admin: the bodies in code editors (Ace, through
django-ace: HTML and Django template syntax highlighted in the HTML body),
and beside them the merge fields of the message's list, each a button that
puts it where the cursor is (``emails/static/emails/message_form.js``).

Without script the editors are the plain text areas they replace, which the
form submits either way, and the merge fields a list to copy from."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django_ace import AceWidget  # type: ignore[import-untyped]  # it ships no types

from emails.models import ContentBlock, Message
from emails.template_checks import merge_name
from lists.models import List, ProfileField

#: The merge fields every message may use, in words, by group: (heading, note, fields).
CONTACT_FIELDS = [
    ("{{ email }}", "The contact's address"),
    ("{{ list.name }}", "The list's name"),
]
TRIGGER_FIELDS = [
    ("{{ trigger.kind }}", "What kind of trigger it was"),
    ("{{ trigger.event_name }}", "The event's name"),
    ("{{ trigger.data.key }}", "A value of the event's data: put its key for “key”"),
    ("{{ trigger.old_email }}", "The address before a change of address"),
]
TRIGGER_NOTE = "The data of the event that brought the contact in."
COUPON_FIELDS = [
    ("{{ coupon }}", "The coupon code a Set Coupon action of the conversation gave the contact"),
]
COUPON_NOTE = "For a conversation with a Set Coupon action; empty until the contact passes one."
LINK_FIELDS = [
    ("{{ links.unsubscribe }}", "The contact's one-click unsubscribe page"),
    ("{{ links.browser }}", "This email as a web page"),
    ("{{ links.pass_along }}", "A page to forward this email to a friend"),
]
LINK_NOTE = "Web addresses, for a link's href."
BLOCK_NOTE = (
    "Saved blocks (Emails, Content blocks): the HTML body gets a block's HTML, the text "
    "body and the subject its text, as the block is when the email is sent."
)
NO_LIST_YET = "Choose the list and save to see its merge fields."
LIST_CHANGED = "Save to see the merge fields of the list you chose."


def _editor(**options: Any) -> AceWidget:
    # No Ace worker: its HTML checker knows nothing of Django's template syntax, and the
    # form checks templates when saved. Strict CSP: Ace's styles come as static files.
    return AceWidget(
        theme="textmate",
        wordwrap=True,
        width=None,
        height=None,
        showprintmargin=False,
        useworker=False,
        toolbar=False,
        tabsize=2,
        fontsize="14px",
        useStrictCSP=True,
        **options,
    )


Group = tuple[str, str, list[tuple[str, str]]]


def merge_field_groups(email_list: List | None) -> list[Group]:
    """The merge fields a message of ``email_list`` may use, by group (its
    heading, a note, its fields), each as written in a template with what it
    is: ``("{{ profile.first_name }}", "First Name")``. No profile fields
    when there is no list yet."""
    groups: list[Group] = []
    if email_list is not None:
        fields = ProfileField.objects.filter(list=email_list).order_by(
            "group__position", "group_id", "position", "id"
        )
        profile = [(f"{{{{ profile.{merge_name(f.name)} }}}}", f.name) for f in fields]
        groups.append((f"Profile of “{email_list.name}”", "", profile))
    groups += [
        ("Content library", BLOCK_NOTE, content_blocks()),
        ("Contact and list", "", CONTACT_FIELDS),
        ("Trigger", TRIGGER_NOTE, TRIGGER_FIELDS),
        ("Coupon", COUPON_NOTE, COUPON_FIELDS),
        ("The email's pages", LINK_NOTE, LINK_FIELDS),
    ]
    return groups


def content_blocks() -> list[tuple[str, str]]:
    """Every block of the content library, as a message puts it in, with its name."""
    blocks = ContentBlock.objects.order_by("name", "id").values_list("key", "name")
    return [(f"{{{{ content.{key} }}}}", name) for key, name in blocks]


class MergeFieldPicker(forms.Widget):
    """The merge fields of ``email_list`` (None on the add page), as buttons;
    shows, submits and reads nothing of the form's data."""

    email_list: List | None = None

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        sections = format_html_join(
            "",
            '<h3>{}</h3>{}<ul class="merge-fields">{}</ul>',
            (
                (title, self._note(note), self._buttons(fields))
                for title, note, fields in merge_field_groups(self.email_list)
            ),
        )
        if self.email_list is None:
            note = format_html('<p class="merge-field-note">{}</p>', NO_LIST_YET)
        else:
            note = format_html(
                '<p class="merge-field-note list-changed" hidden>{}</p>', LIST_CHANGED
            )
        return format_html(
            '<div class="merge-field-picker"><p class="merge-field-hint">{}</p>{}{}</div>',
            "Click one to put it at the cursor of the body you are writing.",
            note,
            sections,
        )

    @staticmethod
    def _note(note: str) -> SafeString:
        return (
            format_html('<p class="merge-field-group-note">{}</p>', note) if note else SafeString()
        )

    @staticmethod
    def _buttons(fields: list[tuple[str, str]]) -> SafeString:
        if not fields:
            return format_html('<li class="merge-field-none">{}</li>', "None yet.")
        return format_html_join(
            "",
            '<li><button type="button" class="merge-field" data-merge-field="{}">'
            '<code>{}</code><span class="merge-field-says">{}</span></button></li>',
            ((written, written, says) for written, says in fields),
        )

    def id_for_label(self, id_: str) -> str:
        return ""  # buttons, not one input: its label names the group

    def value_from_datadict(self, data: Any, files: Any, name: str) -> None:
        return None


class MessageForm(forms.ModelForm):
    """A message: the HTML body in an HTML and Django template editor, the
    text body in a plain one, and the list's merge fields beside them."""

    merge_fields = forms.Field(
        label="Merge fields", required=False, disabled=True, widget=MergeFieldPicker
    )

    class Meta:
        model = Message
        fields = ["list", "name", "subject", "from_name", "from_email", "html_body", "text_body"]
        labels = {"html_body": "HTML body", "text_body": "Text body"}
        widgets = {
            "html_body": _editor(mode="django", attrs={"rows": 24, "class": "vLargeTextField"}),
            "text_body": _editor(mode="text", attrs={"rows": 12, "class": "vLargeTextField"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        picker = self.fields["merge_fields"].widget
        if isinstance(picker, MergeFieldPicker) and self.instance.list_id is not None:
            picker.email_list = self.instance.list
