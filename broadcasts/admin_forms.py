"""The forms of the broadcast and split test pages: the audience (everyone
subscribed, a saved audience, or conditions built with the Go To step's
filter builder), the message choices with the links that write or open a
message in a popup, and the send time, typed in the list's time zone.

A form is made for one list (``email_list``, set by the admin on the class
it makes per request): its messages, campaigns, saved audiences and profile
fields are the only ones offered or taken."""

from __future__ import annotations

import datetime
import json
from typing import Any, ClassVar, cast

from django import forms
from django.contrib.admin.sites import AdminSite
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from broadcasts.admin_display import when
from broadcasts.models import (
    Broadcast,
    BroadcastStatus,
    Campaign,
    SavedAudience,
    SplitTest,
    SplitTestMetric,
)
from broadcasts.services import MAX_GROUPS, check_sendable
from conductor.admin.message_links import MessageLinks
from conductor.filters import parse_criteria
from conductor.filters.builder import CriteriaBuilder, builder_data
from emails.models import Message
from lists.models import List

EVERYONE, SAVED, CRITERIA = "everyone", "saved", "criteria"
AUDIENCES = [
    (EVERYONE, "Everyone subscribed to the list"),
    (SAVED, "A saved audience"),
    (CRITERIA, "Contacts matching conditions"),
]
#: The submit buttons that send once the form is saved.
SEND_NOW, SEND_AT = "_send_now", "_send_at"
GROUP_LETTERS = "ABCDE"[:MAX_GROUPS]


def sending_asked(data: Any) -> str:
    """Which send button was pressed: ``SEND_NOW``, ``SEND_AT`` or ""."""
    return next((name for name in (SEND_NOW, SEND_AT) if name in data), "")


def count_url(email_list: List) -> str:
    return reverse("admin:broadcasts_broadcast_audience_count", args=[email_list.pk])


def checked_send_at(form: forms.BaseForm, email_list: List) -> datetime.datetime | None:
    """The day and time typed in ``form``'s ``send_date`` and ``send_time``,
    in ``email_list``'s time zone; a missing one, a time that has passed or
    one the clocks skip is refused on its field, in words."""
    day = form.cleaned_data.get("send_date")
    time = form.cleaned_data.get("send_time")
    if day is None and "send_date" not in form.errors:
        form.add_error("send_date", "Choose the day to send it on.")
    if time is None and "send_time" not in form.errors:
        form.add_error("send_time", "Choose the time to send it at.")
    if day is None or time is None:
        return None
    zone = email_list.zone
    local = datetime.datetime.combine(day, time).replace(tzinfo=zone)
    back = local.astimezone(datetime.UTC).astimezone(zone)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        form.add_error(
            "send_time",
            f"{time:%H:%M} does not exist on {day:%d %b %Y} in {email_list.time_zone}: "
            "the clocks go forward then. Choose another time.",
        )
        return None
    now = timezone.now()
    if local <= now:
        form.add_error(
            "send_time",
            f"{when(local, email_list)} has passed (it is now {when(now, email_list)}): "
            "choose a later time, or Send now.",
        )
        return None
    return local


class SendTimeForm(forms.Form):
    """Send now, or at a day and time in the list's time zone."""

    send_date = forms.DateField(
        required=False, label="Date", widget=forms.DateInput(attrs={"type": "date"})
    )
    send_time = forms.TimeField(
        required=False, label="Time", widget=forms.TimeInput(attrs={"type": "time"})
    )

    def __init__(self, *args: Any, email_list: List, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email_list = email_list
        self.send_at: datetime.datetime | None = None
        self.fields["send_date"].help_text = f"In the list's time zone, {email_list.time_zone}."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if sending_asked(self.data) == SEND_AT:
            self.send_at = checked_send_at(self, self.email_list)
        elif not sending_asked(self.data):
            raise ValidationError("Choose Send now, or a day and time and Schedule.")
        return cleaned


class ListForm(forms.ModelForm):
    """What both pages share: made for one list, with its audience and send
    time fields. ``request`` and ``admin_site`` give the message links."""

    email_list: ClassVar[List]
    request: ClassVar[HttpRequest]
    admin_site: ClassVar[AdminSite]

    audience = forms.ChoiceField(
        choices=AUDIENCES, widget=forms.RadioSelect, initial=EVERYONE, label="Send to"
    )
    criteria = forms.CharField(
        required=False,
        label="Conditions",
        widget=CriteriaBuilder(),
        help_text="Only the list's subscribed contacts matching these conditions get it.",
    )
    send_date = forms.DateField(
        required=False, label="Date", widget=forms.DateInput(attrs={"type": "date"})
    )
    send_time = forms.TimeField(
        required=False, label="Time", widget=forms.TimeInput(attrs={"type": "time"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.list_id is None:
            self.instance.list = self.email_list
        self.send_at: datetime.datetime | None = None
        if "saved_audience" in self.fields:
            saved = cast(forms.ModelChoiceField, self.fields["saved_audience"])
            saved.queryset = SavedAudience.objects.filter(list=self.email_list)
            saved.help_text = "Its conditions as they are when sending starts."
        if "campaign" in self.fields:
            campaign = cast(forms.ModelChoiceField, self.fields["campaign"])
            campaign.queryset = Campaign.objects.filter(list=self.email_list)
            campaign.help_text = "Groups the list's broadcasts in reports and in Segment."
        widget = cast(CriteriaBuilder, self.fields["criteria"].widget)
        # Of no conversation: no engagement conditions (they count a conversation's emails).
        widget.data = {
            **builder_data(
                self.email_list, conversation_id=None, count_url=count_url(self.email_list)
            ),
            "noConditions": "No conditions: everyone subscribed to the list gets it.",
        }
        self.fields[
            "send_date"
        ].help_text = f"In the list's time zone, {self.email_list.time_zone}."
        if not self.is_bound:
            self.initial["audience"], self.initial["criteria"] = self._initial_audience()

    def _initial_audience(self) -> tuple[str, str]:
        instance = self.instance
        if instance.saved_audience_id is not None:
            return SAVED, ""
        if instance.criteria:
            return CRITERIA, json.dumps(instance.criteria, indent=2)
        return EVERYONE, ""

    def with_links(self, name: str) -> None:
        """Put the "+" (write a new message, in a popup, of this list) and the
        pencil (open the chosen one) beside the message choice ``name``, as
        far as the user may use them, and a link to preview the chosen one."""
        field = cast(forms.ModelChoiceField, self.fields[name])
        field.queryset = Message.objects.filter(list=self.email_list, transactional_as__isnull=True)
        select = field.widget
        if isinstance(select, RelatedFieldWidgetWrapper):
            select = select.widget
        user = self.request.user
        if user.has_perm("emails.view_message") or user.has_perm("emails.change_message"):
            preview = reverse("admin:emails_message_preview", args=[0])
            select.attrs["data-preview-url"] = preview.replace("/0/", "/{id}/")
        can_add = user.has_perm("emails.add_message")
        can_change = user.has_perm("emails.change_message") or user.has_perm("emails.view_message")
        if self.admin_site.is_registered(Message) and (can_add or can_change):
            field.widget = MessageLinks(
                cast(forms.Select, select),
                self.admin_site,
                list_id=self.email_list.pk,
                can_add=can_add,
                can_change=can_change,
            )
        else:
            field.widget = select
        said = {
            (True, True): "+ writes a new message for this list; the pencil opens the chosen one.",
            (True, False): "+ writes a new message for this list.",
            (False, True): "The pencil opens the chosen message.",
        }.get((can_add, can_change), "")
        field.help_text = f"{said} Each opens in a new window." if said else ""

    # --- Cleaning -----------------------------------------------------------------

    def full_clean(self) -> None:
        super().full_clean()
        # The builder shows each problem of the conditions on the row it names.
        widget = cast(CriteriaBuilder, self.fields["criteria"].widget)
        widget.data = {**widget.data, "errors": list(self.errors.get("criteria", []))}

    def clean_criteria(self) -> dict[str, Any]:
        text = self.cleaned_data["criteria"].strip()
        if not text:
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationError(f"The conditions are not valid JSON: {error}.") from error
        if not isinstance(data, dict):
            raise ValidationError("The conditions must be a JSON object (a Listrak filter).")
        # Each problem is named with its path in the tree, for the builder's rows.
        return parse_criteria(self.email_list, data).to_settings()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        audience = cleaned.get("audience")
        if audience != SAVED:
            cleaned["saved_audience"] = None
        elif cleaned.get("saved_audience") is None and "saved_audience" not in self.errors:
            self.add_error("saved_audience", "Choose the saved audience to send to.")
        if audience != CRITERIA:
            cleaned["criteria"] = {}
            self.errors.pop("criteria", None)
        if sending_asked(self.data) == SEND_AT:
            self.send_at = checked_send_at(self, self.email_list)
        return cleaned


class BroadcastForm(ListForm):
    """A broadcast's settings: its name, message, campaign and audience."""

    class Meta:
        model = Broadcast
        fields = [
            "name",
            "message",
            "campaign",
            "saved_audience",
            "criteria",
            "external_campaign_id",
            "google_analytics_campaign_name",
        ]
        help_texts = {
            "name": "Shown in the admin and the reports; blank: the message's name.",
            "external_campaign_id": "Your own id for its campaign, given back in reports.",
            "google_analytics_campaign_name": "Added to its links as utm_campaign, if set.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        if "message" in self.fields:
            self.with_links("message")
            self.fields["message"].help_text = (
                "The email it sends. " + str(self.fields["message"].help_text)
            ).strip()

    def clean_message(self) -> Message:
        message = self.cleaned_data["message"]
        if self.instance.status == BroadcastStatus.SCHEDULED:
            # It goes at its time with no one looking: what it sends must be sendable now.
            check_sendable(message)
        return message


class SplitTestForm(ListForm):
    """A split test's settings: two to five messages, the share of the
    audience they are tried on, how and when the winner is chosen."""

    message_a = forms.ModelChoiceField(queryset=Message.objects.none(), label="Group A's message")
    message_b = forms.ModelChoiceField(queryset=Message.objects.none(), label="Group B's message")
    message_c = forms.ModelChoiceField(
        queryset=Message.objects.none(), required=False, label="Group C's message"
    )
    message_d = forms.ModelChoiceField(
        queryset=Message.objects.none(), required=False, label="Group D's message"
    )
    message_e = forms.ModelChoiceField(
        queryset=Message.objects.none(), required=False, label="Group E's message"
    )
    decide_hours = forms.IntegerField(
        min_value=0, max_value=24 * 30, initial=4, label="Decide after (hours)"
    )
    decide_minutes = forms.IntegerField(min_value=0, max_value=59, initial=0, label="and minutes")

    class Meta:
        model = SplitTest
        fields = ["name", "campaign", "test_share", "winner_metric", "saved_audience", "criteria"]
        labels = {"test_share": "Test share (%)", "winner_metric": "Judge the groups by"}
        widgets = {"winner_metric": forms.RadioSelect}
        help_texts = {
            "name": "Shown in the admin and the reports; blank: the first message's name.",
            "test_share": (
                "The percentage of the audience the groups share between them, in equal "
                "parts; the rest get the winner. 100: the groups are the whole audience."
            ),
            "winner_metric": "The group whose emails the larger share of its contacts "
            "opened (or clicked) wins.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        metric = cast(forms.ChoiceField, self.fields["winner_metric"])
        metric.choices = [(m.value, m.label) for m in SplitTestMetric]
        for n, letter in enumerate(GROUP_LETTERS):
            self.with_links(f"message_{letter.lower()}")
            if n:  # the links are said once, beside group A's
                self.fields[f"message_{letter.lower()}"].help_text = ""
        self.fields["decide_minutes"].help_text = (
            "How long after the groups are sent to judge them: their contacts need time "
            "to open and click."
        )

    def messages(self) -> list[Message]:
        """The messages chosen, by group."""
        return [
            self.cleaned_data[f"message_{letter.lower()}"]
            for letter in GROUP_LETTERS
            if self.cleaned_data.get(f"message_{letter.lower()}")
        ]

    def decide_after(self) -> datetime.timedelta:
        return datetime.timedelta(
            hours=self.cleaned_data.get("decide_hours") or 0,
            minutes=self.cleaned_data.get("decide_minutes") or 0,
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        chosen: list[tuple[str, Message]] = [
            (letter, cleaned[f"message_{letter.lower()}"])
            for letter in GROUP_LETTERS
            if cleaned.get(f"message_{letter.lower()}")
        ]
        seen: dict[int, str] = {}
        for letter, message in chosen:
            if message.pk in seen:
                self.add_error(
                    f"message_{letter.lower()}",
                    f"Group {seen[message.pk]} sends “{message}” already: each group needs "
                    "a message of its own.",
                )
            seen.setdefault(message.pk, letter)
        hours, minutes = cleaned.get("decide_hours"), cleaned.get("decide_minutes")
        if hours is not None and minutes is not None and self.decide_after().total_seconds() < 60:
            self.add_error("decide_minutes", "Judge the groups at least a minute after sending.")
        return cleaned
