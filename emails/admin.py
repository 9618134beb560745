"""The emails' admin: messages (with "Send a test" and "Preview"), and
deliveries, one row per email: what was sent, skipped, is waiting, or is
uncertain (the worker stopped, or the connection dropped, while the mail
server had it), with a resend for those; and the development mailbox's
emails, to read."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.module_loading import import_string
from django.utils.safestring import SafeString

from emails import admin_content  # noqa: F401  # registers the content library's pages
from emails.admin_views import message_figures, message_panels, source_filters
from emails.forms import MessageForm
from emails.mailbox import MailboxBackend, preview_html
from emails.mailbox import read as read_email
from emails.models import Delivery, DeliveryStatus, MailboxEmail, Message
from emails.preview import preview_message
from emails.render import build_test_email
from emails.sending.delivery import resend_uncertain
from lists.models import List

LOCKED_LIST_HELP = (
    "Set by the page that opened this window (a conversation, a broadcast, a split test): "
    "it sends only messages of its list."
)


class TestSendForm(forms.Form):
    email = forms.EmailField(label="Send a test to", max_length=254)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["name", "list", "subject", "from_email", "created_at"]
    list_filter = ["list"]
    list_select_related = ["list"]
    search_fields = ["name", "subject"]
    readonly_fields = ["sent_so_far"]
    form = MessageForm
    fieldsets = [
        (None, {"fields": ["list", "name", "subject"]}),
        ("Sender", {"fields": ["from_name", "from_email"]}),
        (
            "Bodies",
            {
                "fields": ["html_body", "text_body", "merge_fields"],
                "classes": ["message-bodies"],
                "description": "Django templates: write merge fields between {{ and }} "
                "(the list's are on the right), tags between {% and %}. The styles of "
                "the HTML body's &lt;style&gt; blocks are copied into its elements when it is "
                "sent, as email clients need. Leave the text body blank to send one made "
                "from the HTML body.",
            },
        ),
    ]

    class Media:
        # The merge-field picker's clicks, and the layout of the bodies beside it.
        js = ["emails/message_form.js"]
        css = {"all": ["emails/message_form.css"]}

    def get_form(self, request, obj=None, change=False, **kwargs):
        # ``?list=<id>`` (a conversation's step asking for a message of its list) presets the
        # list and shows its merge fields; in a popup the list is locked, so the message
        # comes back to a step that may send it.
        form = super().get_form(request, obj, change, **kwargs)
        popup = IS_POPUP_VAR in request.GET or IS_POPUP_VAR in request.POST
        email_list = _list_asked_for(request)
        if email_list is None or (obj is not None and not popup):
            return form
        return _with_list(form, email_list, locked=popup)

    def get_fieldsets(self, request: HttpRequest, obj: Message | None = None):
        fieldsets = list(super().get_fieldsets(request, obj))
        may_write = (
            self.has_change_permission(request, obj)
            if obj is not None
            else self.has_add_permission(request)
        )
        if not may_write:  # the picker helps writing; a read-only page has no editor
            fieldsets = [
                (name, {**options, "fields": [f for f in options["fields"] if f != "merge_fields"]})
                for name, options in fieldsets
            ]
        if obj is not None and request.user.has_perm("emails.view_delivery"):
            fieldsets.append(("Sent", {"fields": ["sent_so_far"]}))
        return fieldsets

    @admin.display(description="Emails")
    def sent_so_far(self, obj: Message) -> str:
        return message_figures(obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The sections the senders add (Conductor's published versions), each behind its right.
        message = self.get_object(request, object_id)
        panels = message_panels.for_user(request, message) if message is not None else []
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "message_panels": panels}
        )

    def get_urls(self):
        test_send = path(
            "<path:object_id>/test-send/",
            self.admin_site.admin_view(self.test_send_view),
            name="emails_message_test_send",
        )
        preview = path(
            "<path:object_id>/preview/",
            self.admin_site.admin_view(self.preview_view),
            name="emails_message_preview",
        )
        return [test_send, preview, *super().get_urls()]

    def test_send_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Send the message to any address, now: links lead straight to their
        targets and nothing is tracked or recorded. It mails anyone, so it
        takes the change permission, not only the view one."""
        message = get_object_or_404(Message.objects.select_related("list"), pk=object_id)
        if not self.has_change_permission(request, message):
            raise PermissionDenied("Sending a test needs the permission to change messages.")
        form = TestSendForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            address = form.cleaned_data["email"]
            try:
                build_test_email(message, address).send()
            except Exception as error:  # a template error, the mail server down
                form.add_error(None, f"Not sent: {error}")
            else:
                messages.success(request, f"Sent a test of “{message}” to {address}.")
                return HttpResponseRedirect(
                    reverse("admin:emails_message_change", args=[message.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": message,
            "form": form,
            "title": f"Send a test of “{message}”",
        }
        return TemplateResponse(request, "admin/emails/message/test_send.html", context)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The message as a contact of its list would get it (``emails.preview``):
        reading only, so the view permission; a contact's data also needs the
        permission to view contacts, else it shows sample data."""
        message = get_object_or_404(Message.objects.select_related("list"), pk=object_id)
        if not self.has_view_permission(request, message):
            raise PermissionDenied("Previewing a message needs the permission to view messages.")
        shown = preview_message(
            message,
            request.GET.get("email"),
            may_see_contacts=request.user.has_perm("contacts.view_contact"),
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": message,
            "preview": shown,
            "title": f"Preview of “{message}”",
        }
        return TemplateResponse(request, "admin/emails/message/preview.html", context)


def _list_asked_for(request: HttpRequest) -> List | None:
    """The list of ``?list=<id>``, if that names one."""
    asked = request.GET.get("list", "")
    return List.objects.filter(pk=int(asked)).first() if asked.isdigit() else None


class LockedList(forms.Widget):
    """A message's list, shown and not chosen (a disabled field submits nothing)."""

    def __init__(self, email_list: List) -> None:
        super().__init__()
        self.email_list = email_list

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        return format_html('<div class="readonly locked-list">{}</div>', self.email_list.name)


def _with_list(
    form: type[forms.ModelForm], email_list: List, *, locked: bool
) -> type[forms.ModelForm]:
    """``form`` with a new message in ``email_list``; ``locked``: the list
    cannot be changed (a changed message keeps its own)."""

    class WithList(form):  # type: ignore[valid-type,misc]  # a class made at run time
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if kwargs.get("instance") is None:
                kwargs["instance"] = Message(list=email_list)  # its merge fields show at once
            super().__init__(*args, **kwargs)
            if locked and "list" in self.fields:
                field = self.fields["list"]
                field.disabled = True
                field.help_text = LOCKED_LIST_HELP
                # Its name, not a select with links to lists: nothing to choose here.
                field.widget = LockedList(self.instance.list)

    WithList.__name__ = form.__name__
    return WithList


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["contact", "message", "status", "sent_at", "error"]
    list_select_related = ["contact", "message"]
    search_fields = ["contact__email"]
    search_help_text = "An address, or its beginning."
    show_full_result_count = False  # millions of rows
    fields = [
        "contact",
        "message",
        "status",
        "created_at",
        "sent_at",
        "subject",
        "error",
        "attempts",
        "retry_at",
    ]
    readonly_fields = cast(list[str], fields)  # names only, no groups
    actions = ["resend_selected"]

    def get_list_filter(self, request: HttpRequest) -> list:
        # The senders' own filters (Conductor's "By conversation") after the emails' own.
        return ["status", ("message", admin.RelatedFieldListFilter), *source_filters]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # A contact's page links to its emails (``?contact__id__exact=``).
        return lookup == "contact__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # their sources write them

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False  # the record of what was sent stays

    @admin.action(
        description="Resend the selected uncertain emails (the contact may get them twice)",
        permissions=["change"],
    )
    def resend_selected(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        others = queryset.exclude(status=DeliveryStatus.UNCERTAIN).count()
        resent = resend_uncertain(queryset)
        self.message_user(request, f"{resent} uncertain emails queued to send again.")
        if others:
            self.message_user(
                request,
                f"{others} selected emails were not uncertain and were left as they are.",
                messages.WARNING,
            )


@admin.register(MailboxEmail)
class MailboxEmailAdmin(admin.ModelAdmin):
    """The development mailbox (``emails.mailbox``): the emails kept instead
    of sent, to read as a mail client shows them, and to delete."""

    list_display = ["recipients", "subject", "created_at"]
    list_display_links = ["recipients", "subject"]
    search_fields = ["recipients", "sender"]
    search_help_text = "An address, or part of one."
    fields = ["sender", "recipients", "subject", "created_at"]
    readonly_fields = cast(list[str], fields)
    change_list_template = "admin/emails/mailboxemail/change_list.html"
    change_form_template = "admin/emails/mailboxemail/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only the backend writes them

    def has_change_permission(self, request: HttpRequest, obj: MailboxEmail | None = None) -> bool:
        return False  # a record of what was sent

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        backend = settings.EMAIL_BACKEND
        in_use = issubclass(import_string(backend), MailboxBackend)
        context = {**(extra_context or {}), "in_use": in_use, "backend": backend}
        return super().changelist_view(request, context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: MailboxEmail | None = None,
    ) -> HttpResponse:
        # Reached once the view permission is checked.
        if obj is not None:
            context["email"] = read_email(bytes(obj.raw))
            context["preview"] = preview_html(context["email"].html)
        return super().render_change_form(request, context, add, change, form_url, obj)
