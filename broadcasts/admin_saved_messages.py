"""Saved messages in the admin: a message kept to be sent as a broadcast
later, as often as wanted (Listrak's ``SavedMessage``, which API clients
create too). "Send as a broadcast" makes a draft broadcast of a copy of it
(its preheader first in the copy's HTML) and opens that broadcast, where
staff choose its audience and when it goes."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.sites import AdminSite
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from broadcasts.admin_views import asked_list, choose_list, post_only, refused
from broadcasts.models import Campaign, SavedMessage
from broadcasts.services import check_sendable, copy_message, create_broadcast
from conductor.admin.message_links import add_message_links
from emails.models import Message
from lists.models import List

FIELDS = ["name", "message", "preheader", "campaign", "external_campaign_id"]


class SavedMessageForm(forms.ModelForm):
    """Made for one list (``email_list``): only its messages and campaigns."""

    email_list: ClassVar[List]
    request: ClassVar[HttpRequest]
    admin_site: ClassVar[AdminSite]

    class Meta:
        model = SavedMessage
        fields = FIELDS
        help_texts = {
            "preheader": "Shown by mail clients after the subject; put first, hidden, in the "
            "HTML of each broadcast sent from it.",
            "campaign": "Broadcasts sent from it join this campaign.",
            "external_campaign_id": "Your own id of the campaign, if you have one.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.list_id is None:
            self.instance.list = self.email_list
        if "campaign" in self.fields:
            campaign = cast(forms.ModelChoiceField, self.fields["campaign"])
            campaign.queryset = Campaign.objects.filter(list=self.email_list)
        if "message" in self.fields:
            field = cast(forms.ModelChoiceField, self.fields["message"])
            # The list's messages no transactional message or other saved message uses.
            free = Q(saved_as__isnull=True) | Q(saved_as=self.instance.pk or 0)
            field.queryset = Message.objects.filter(
                free, list=self.email_list, transactional_as__isnull=True
            )
            field.help_text = "What it sends; each broadcast sent from it gets its own copy."
            add_message_links(self, self.request, self.admin_site, self.email_list.pk)


@admin.register(SavedMessage)
class SavedMessageAdmin(admin.ModelAdmin):
    form = SavedMessageForm
    list_display = ["name", "list", "subject", "campaign", "modified_at"]
    list_filter = ["list", "campaign"]
    list_select_related = ["list", "message", "campaign"]
    search_fields = ["name", "message__subject"]
    change_form_template = "admin/broadcasts/savedmessage/change_form.html"

    def get_fieldsets(self, request: HttpRequest, obj: SavedMessage | None = None):
        return [(None, {"fields": ["list_shown", *FIELDS]})]

    def get_readonly_fields(self, request: HttpRequest, obj: SavedMessage | None = None):
        return ["list_shown"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        email_list = obj.list if obj is not None else asked_list(request)
        attrs = {"email_list": email_list, "request": request, "admin_site": self.admin_site}
        return type(form.__name__, (form,), attrs)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        return choose_list(self, request) or super().add_view(request, form_url, extra_context)

    def save_model(self, request, obj: SavedMessage, form, change: bool) -> None:
        obj.modified_at = timezone.now()
        super().save_model(request, obj, form, change)

    def get_urls(self):
        send = self.admin_site.admin_view(self.send_view)
        return [
            path("<int:object_id>/send/", send, name="broadcasts_savedmessage_send"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["can_send"] = obj is not None and request.user.has_perm("broadcasts.add_broadcast")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def send_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """A draft broadcast of a copy of the saved message, opened for staff
        to choose its audience and when it goes."""
        if (refusal := post_only(request)) is not None:
            return refusal
        if not request.user.has_perm("broadcasts.add_broadcast"):
            raise PermissionDenied(
                "Sending a saved message needs the permission to add broadcasts."
            )
        saved = get_object_or_404(SavedMessage.objects.select_related("message"), pk=object_id)
        try:
            check_sendable(saved.message)
            with transaction.atomic():
                broadcast = create_broadcast(
                    email_list=saved.list,
                    name=saved.name,
                    message=copy_message(saved.message, preheader=saved.preheader),
                    campaign=saved.campaign,
                    external_campaign_id=saved.external_campaign_id,
                    created_by=request.user,
                )
        except ValidationError as error:
            refused(request, error, before="Not sent: ")
            return HttpResponseRedirect(
                reverse("admin:broadcasts_savedmessage_change", args=[saved.pk])
            )
        messages.success(
            request,
            f"“{broadcast}” is a draft with its own copy of the message: choose who gets it and "
            "when, then send it.",
        )
        return HttpResponseRedirect(
            reverse("admin:broadcasts_broadcast_change", args=[broadcast.pk])
        )

    @admin.display(description="List")
    def list_shown(self, obj: SavedMessage) -> str:
        return obj.list.name if obj.list_id else ""

    @admin.display(description="Subject", ordering="message__subject")
    def subject(self, obj: SavedMessage) -> SafeString:
        return format_html("{}", obj.message.subject)
