"""Transactional messages in the admin: the templates a shop's backend sends
through the API (an order confirmation, a password reset).

A transactional message names its message, written with the message editor
(the "+" and pencil beside the choice open it in a popup, as a Message
step's do), and shows plainly where the backend sends it ("API id: 12 —
POST /email/v1/List/3/TransactionalMessage/12/Message"). Its page lists its
latest sends with what became of each email, to staff who may view
deliveries; the deliveries' list gains a filter by transactional message,
and a message's page says when it is a transactional message's (its edits
reach the very next email). Writes go through ``broadcasts.transactional``.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from django import forms
from django.contrib import admin
from django.contrib.admin.sites import AdminSite
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from broadcasts.admin_views import asked_list, choose_list
from broadcasts.models import Campaign, TransactionalMessage, TransactionalSend
from broadcasts.transactional import (
    api_address,
    check_settings,
    check_system_links,
    create_transactional_message,
    update_transactional_message,
)
from broadcasts.transactional_reads import resend_key_text, send_type
from conductor.admin.message_links import MessageLinks
from core.panels import Panel
from emails.admin_views import add_delivery_filter, deliveries_url, message_panels
from emails.models import Delivery, Message
from lists.models import List

RECENT_SENDS = 20
FIELDS = ["name", "message", "campaign", "external_campaign_id"]


class TransactionalMessageForm(forms.ModelForm):
    """Made for one list (``email_list``, set on the class made per request):
    its messages and campaigns are the only ones offered."""

    email_list: ClassVar[List]
    request: ClassVar[HttpRequest]
    admin_site: ClassVar[AdminSite]

    class Meta:
        model = TransactionalMessage
        fields = FIELDS
        help_texts = {
            "name": "What staff call it; the message's name when left blank.",
            "campaign": "Groups its emails with the list's broadcasts in reports and in Segment.",
            "external_campaign_id": "Your own id of the campaign, if you have one.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.list_id is None:
            self.instance.list = self.email_list
        if "name" in self.fields:
            self.fields["name"].required = False
        if "campaign" in self.fields:
            campaign = cast(forms.ModelChoiceField, self.fields["campaign"])
            campaign.queryset = Campaign.objects.filter(list=self.email_list)
        if "message" in self.fields:
            self._message_choice()

    def _message_choice(self) -> None:
        field = cast(forms.ModelChoiceField, self.fields["message"])
        # The list's messages no other transactional message or saved message sends.
        free = Q(transactional_as__isnull=True) | Q(transactional_as=self.instance.pk or 0)
        field.queryset = Message.objects.filter(free, list=self.email_list, saved_as__isnull=True)
        field.help_text = (
            "The email it sends: subject, bodies and sender, with the list's merge fields "
            "({{ profile.first_name }}), which show the values each API request gives. "
            "No unsubscribe, forward or view-in-browser link: it is not marketing."
        )
        user = self.request.user
        can_add = user.has_perm("emails.add_message")
        can_change = user.has_perm("emails.change_message") or user.has_perm("emails.view_message")
        select = field.widget
        if isinstance(select, RelatedFieldWidgetWrapper):  # the admin's own links: replaced
            select = select.widget
        field.widget = select
        if self.admin_site.is_registered(Message) and (can_add or can_change):
            field.widget = MessageLinks(
                cast(forms.Select, select),
                self.admin_site,
                list_id=self.email_list.pk,
                can_add=can_add,
                can_change=can_change,
            )
            links = "+ writes a new message, the pencil opens the chosen one, each in a new window."
            field.help_text = f"{field.help_text} {links}"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        message = cleaned.get("message")
        if message is not None:
            check_settings(
                email_list=self.email_list,
                message=message,
                campaign=cleaned.get("campaign"),
                instance=self.instance,
            )
        return cleaned


@admin.register(TransactionalMessage)
class TransactionalMessageAdmin(admin.ModelAdmin):
    form = TransactionalMessageForm
    list_display = ["name", "list", "subject", "api_id", "send_count", "created_at"]
    list_filter = ["list"]
    list_select_related = ["list", "message"]
    search_fields = ["name", "message__subject"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TransactionalMessage]:
        return super().get_queryset(request).annotate(send_count=Count("sends"))

    # --- Permissions -------------------------------------------------------------------

    def has_delete_permission(
        self, request: HttpRequest, obj: TransactionalMessage | None = None
    ) -> bool:
        if obj is not None and obj.sends.exists():
            return False  # its emails and their activity name it
        return super().has_delete_permission(request, obj)

    # --- The page ----------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: TransactionalMessage | None = None):
        first = ["list_shown", *FIELDS] if obj is None else ["list_shown", "api_shown", *FIELDS]
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [(None, {"fields": first})]
        if obj is not None and request.user.has_perm("emails.view_delivery"):
            fieldsets.append(
                (
                    "Latest sends",
                    {
                        "fields": ["recent_sends"],
                        "description": "Each request the API took, newest first, and what "
                        "became of its email.",
                    },
                )
            )
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: TransactionalMessage | None = None):
        return ["list_shown", "api_shown", "recent_sends"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        email_list = obj.list if obj is not None else asked_list(request)
        attrs = {"email_list": email_list, "request": request, "admin_site": self.admin_site}
        return type(form.__name__, (form,), attrs)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied  # before saying anything of the lists
        asking = choose_list(self, request)
        if asking is not None:
            return asking
        return super().add_view(request, form_url, extra_context)

    def save_model(self, request, obj: TransactionalMessage, form, change: bool) -> None:
        data = form.cleaned_data
        settings = {
            "name": data.get("name") or "",
            "message": data["message"],
            "campaign": data.get("campaign"),
            "external_campaign_id": data.get("external_campaign_id") or "",
        }
        if change:
            update_transactional_message(transactional_message=obj, **settings)
            return
        created = create_transactional_message(email_list=obj.list, **settings)
        obj.pk = created.pk
        obj.refresh_from_db()

    # --- What it shows -------------------------------------------------------------------

    @admin.display(description="List")
    def list_shown(self, obj: TransactionalMessage) -> str:
        return obj.list.name if obj.list_id else ""

    @admin.display(description="Where the API sends it")
    def api_shown(self, obj: TransactionalMessage) -> SafeString:
        return format_html(
            "API id: <strong>{}</strong> — <code>{}</code><br><span class='quiet'>With a JSON "
            "body: {{&quot;emailAddress&quot;: …, &quot;segmentationFieldValues&quot;: "
            "[{{&quot;segmentationFieldId&quot;: …, &quot;value&quot;: …}}]}}, and an "
            "Idempotency-Key header so that a request sent again sends nothing more.</span>",
            obj.pk,
            api_address(obj),
        )

    @admin.display(description="API id", ordering="pk")
    def api_id(self, obj: TransactionalMessage) -> int:
        return obj.pk

    @admin.display(description="Subject", ordering="message__subject")
    def subject(self, obj: TransactionalMessage) -> str:
        return obj.message.subject

    @admin.display(description="Sends", ordering="send_count")
    def send_count(self, obj: TransactionalMessage) -> int:
        return getattr(obj, "send_count", 0)

    @admin.display(description="Sends")
    def recent_sends(self, obj: TransactionalMessage) -> SafeString:
        return recent_sends(obj)


def recent_sends(transactional_message: TransactionalMessage) -> SafeString:
    """The latest sends, newest first: to whom, when, what became of the
    email and why it was not sent, the resend key."""
    sends = list(
        transactional_message.sends.select_related("contact", "resend_of").order_by(
            "-created_at", "-id"
        )[:RECENT_SENDS]
    )
    if not sends:
        return format_html("{}", "Not sent yet: the API has taken no request for it.")
    deliveries = {
        d.source_id: d
        for d in Delivery.objects.filter(
            source_type=send_type(), source_id__in=[s.pk for s in sends]
        )
    }
    rows = []
    for send in sends:
        delivery = deliveries.get(send.pk)
        again = f"Resent from {resend_key_text(send.resend_of)}" if send.resend_of else ""
        rows.append(
            (
                send.contact.email,
                f"{send.created_at:%Y-%m-%d %H:%M:%S} UTC",
                delivery.get_status_display() if delivery else "No email",
                delivery.error if delivery else "",
                resend_key_text(send),
                again,
            )
        )
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
        rows,
    )
    return format_html(
        '<table class="transactional-sends"><thead><tr><th>To</th><th>Asked at</th>'
        "<th>Its email</th><th>Why not sent</th><th>Resend key</th><th></th></tr></thead>"
        '<tbody>{}</tbody></table><p><a href="{}">Every email it sent</a></p>',
        body,
        deliveries_url(transactional_message=transactional_message.pk),
    )


class TransactionalFilter(admin.SimpleListFilter):
    """The deliveries' list, by the transactional message that sent them."""

    title = "transactional message"
    parameter_name = "transactional_message"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (str(pk), name)
            for pk, name in TransactionalMessage.objects.order_by("name").values_list("pk", "name")
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        value = self.value()
        if not value:
            return queryset
        if not (value.isascii() and value.isdigit()):
            return queryset.none()  # not a transactional message: nothing, rather than everything
        sends = TransactionalSend.objects.filter(transactional_message_id=int(value))
        return queryset.filter(source_type=send_type(), source_id__in=sends.values("pk"))


add_delivery_filter(TransactionalFilter)


def transactional_use(message: Message) -> SafeString:
    """Which transactional message sends ``message``, where the API sends
    it, and what keeps it from being sent."""
    found = TransactionalMessage.objects.filter(message=message).first()
    if found is None:
        return format_html("{}", "No transactional message sends it.")
    try:
        check_system_links(message)
        problem = ""
    except ValidationError as error:
        problem = " ".join(error.messages)
    return format_html(
        '<p>It is the transactional message <a href="{}">{}</a>: {}. Each email renders the '
        "message as it is then, so your edits reach the very next one (it is not frozen as "
        "a conversation's or a broadcast's is).</p>{}",
        reverse("admin:broadcasts_transactionalmessage_change", args=[found.pk]),
        found.name,
        api_address(found),
        format_html('<p class="errornote">Not sent until fixed: {}</p>', problem)
        if problem
        else "",
    )


message_panels.add(
    Panel[Message](
        title="Transactional message",
        permission="broadcasts.view_transactionalmessage",
        render=transactional_use,
    )
)
