"""The "+" and pencil beside a step's choice of message (the main one and each
trigger's): Django's links to related objects, which open the message's admin
page in a popup. A new message is preset to the conversation's list
(``?list=``, locked in the popup by ``emails.admin``); once saved it comes
back as a choice, selected, in the select that asked for it and offered in the
others. The "+" shows only to those who may add messages, the pencil only to
those who may change or view them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.sites import AdminSite
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.http import HttpRequest

from emails.models import Delivery, Message

# The wrapper reads the related model and its key off a relation; any foreign
# key to Message gives it, and a delivery's is the one the emails app keeps.
MESSAGE_RELATION = Delivery._meta.get_field("message").remote_field


class MessageLinks(RelatedFieldWidgetWrapper):
    """A choice of the list's messages with the links to write a new one and
    to open the chosen one, both in a popup."""

    template_name = (
        "conductor/widgets/message_links.html"  # an app template: widgets render with those
    )

    def __init__(
        self,
        widget: forms.Select,
        admin_site: AdminSite,
        *,
        list_id: int,
        can_add: bool,
        can_change: bool,
    ) -> None:
        super().__init__(
            widget,
            MESSAGE_RELATION,
            admin_site,
            can_add_related=can_add,
            can_change_related=can_change,
        )
        self.list_id = list_id

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        # Both popups learn the list: a new message belongs to it, and neither may leave it.
        context["url_params"] += f"&list={self.list_id}"
        return context


def add_message_links(
    form: forms.BaseForm, request: HttpRequest, admin_site: AdminSite, list_id: int
) -> None:
    """Put the links beside every choice of messages in ``form``, as far as
    the user may use them."""
    user = request.user
    can_add = user.has_perm("emails.add_message")
    can_change = user.has_perm("emails.change_message") or user.has_perm("emails.view_message")
    if not admin_site.is_registered(Message) or not (can_add or can_change):
        return
    for name, field in form.fields.items():
        if not isinstance(field, forms.ModelChoiceField) or field.queryset is None:
            continue
        if field.queryset.model is not Message:
            continue
        if isinstance(field.widget, forms.Select):
            field.widget = MessageLinks(
                field.widget, admin_site, list_id=list_id, can_add=can_add, can_change=can_change
            )
        if name == "message":  # said once, beside the first choice
            said = [str(field.help_text), _links_help(can_add, can_change)]
            field.help_text = " ".join(words for words in said if words)


def _links_help(can_add: bool, can_change: bool) -> str:
    if can_add and can_change:
        return (
            "+ writes a new message for this conversation's list; the pencil opens the chosen "
            "one. Each opens in a new window."
        )
    if can_add:
        return "+ writes a new message for this conversation's list, in a new window."
    return "The pencil opens the chosen message in a new window."
