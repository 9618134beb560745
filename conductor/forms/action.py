"""The Action step form: one group of fields per action (settings shapes in
``conductor.steps.action``). Each profile-field choice offers only the list's
fields of the type that action writes or reads."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from conductor.forms.base import StepForm
from conductor.models import CouponPool
from conductor.steps.action import TEXT_TYPES, UNITS
from lists.field_types import clean_value
from lists.models import DataType, Event, ProfileField

ACTION_CHOICES = [
    ("SetCoupon", "Set a coupon code into a text field"),
    ("SetValue", "Set a field to a value, or clear it"),
    ("SetDate", "Set a date field to the step-entry date ± days"),
    ("DaysBetween", "Set a number field to the time since a date field"),
    ("SplitTest", "Split test: a random group number into a number field"),
    ("FireEvent", "Fire an external event"),
]
# Which form field holds each action's "field" setting.
FIELD_OF_ACTION = {
    "SetCoupon": "coupon_field",
    "SetValue": "value_field",
    "SetDate": "date_field",
    "DaysBetween": "days_field",
    "SplitTest": "split_field",
}


def _fields(types: tuple[str, ...] | None = None, **kwargs: Any) -> forms.ModelChoiceField:
    field = forms.ModelChoiceField(queryset=ProfileField.objects.none(), required=False, **kwargs)
    field.data_types = types  # type: ignore[attr-defined]  # read by add_setting_fields
    return field


class ActionStepForm(StepForm):
    settings_fieldsets = [
        ("Action", {"fields": ["action"]}),
        ("Set coupon", {"fields": ["pool", "coupon_field"], "classes": ["action-SetCoupon"]}),
        (
            "Set value",
            {"fields": ["value_field", "value", "clear_value"], "classes": ["action-SetValue"]},
        ),
        ("Set date", {"fields": ["date_field", "offset_days"], "classes": ["action-SetDate"]}),
        (
            "Days between",
            {"fields": ["days_field", "since_field", "unit"], "classes": ["action-DaysBetween"]},
        ),
        ("Split test", {"fields": ["split_field", "weights"], "classes": ["action-SplitTest"]}),
        ("Fire event", {"fields": ["event"], "classes": ["action-FireEvent"]}),
    ]

    action = forms.ChoiceField(choices=[("", "---------"), *ACTION_CHOICES], required=False)
    pool = forms.ModelChoiceField(
        queryset=CouponPool.objects.none(), required=False, label="Coupon pool"
    )
    coupon_field = _fields(TEXT_TYPES, label="Into field")
    value_field = _fields(None, label="Field")
    value = forms.CharField(required=False, help_text="In the field's own format.")
    clear_value = forms.BooleanField(required=False, label="Clear the field instead")
    date_field = _fields((DataType.DATE,), label="Date field")
    offset_days = forms.IntegerField(
        required=False, initial=0, help_text="Days after the step-entry date (negative: before)."
    )
    days_field = _fields((DataType.NUMERIC,), label="Number field")
    since_field = _fields((DataType.DATE,), label="Time since date field")
    unit = forms.ChoiceField(choices=[(u, u) for u in UNITS], required=False, initial="days")
    split_field = _fields((DataType.NUMERIC,), label="Group number field")
    weights = forms.CharField(
        required=False, help_text="One whole number per group, e.g. 50, 50 or 1, 1, 2."
    )
    event = forms.ModelChoiceField(queryset=Event.objects.none(), required=False)

    def add_setting_fields(self) -> None:
        list_fields = ProfileField.objects.filter(list=self.email_list)
        for field in self.fields.values():
            if hasattr(field, "data_types"):
                types = field.data_types
                field.queryset = list_fields.filter(data_type__in=types) if types else list_fields
        self.fields["pool"].queryset = CouponPool.objects.filter(list=self.email_list)
        self.fields["event"].queryset = Event.objects.filter(list=self.email_list)

    def field_for_problem(self, problem: str) -> str | None:
        action = self.cleaned_data.get("action") or ""
        words = [
            ("action is one of", "action"),
            ("other_field", "since_field"),
            ("give a value", "value"),
            ("pool", "pool"),
            ("offset_days", "offset_days"),
            ("unit", "unit"),
            ("weights", "weights"),
            ("event", "event"),
            ("field", FIELD_OF_ACTION.get(action)),
        ]
        for word, field in words:
            if re.search(rf"\b{re.escape(word)}\b", problem):
                return field
        return "value" if action == "SetValue" else None  # clean_value's own message

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        action = settings.get("action")
        initial: dict[str, Any] = {"action": action}
        if action in FIELD_OF_ACTION:
            initial[FIELD_OF_ACTION[action]] = settings.get("field")
        if action == "SetValue":
            initial["clear_value"] = settings.get("value") is None
            initial["value"] = settings.get("value") or ""
        initial["pool"] = settings.get("pool")
        initial["offset_days"] = settings.get("offset_days", 0)
        initial["since_field"] = settings.get("other_field")
        initial["unit"] = settings.get("unit", "days")
        initial["weights"] = ", ".join(str(w) for w in settings.get("weights") or [])
        initial["event"] = settings.get("event")
        return initial

    def clean_weights(self) -> list[int] | None:
        text = self.cleaned_data["weights"].strip()
        if not text:
            return None
        parts = [part for part in re.split(r"[,\s]+", text) if part]
        if not all(re.fullmatch(r"[0-9]+", part) for part in parts):
            raise ValidationError("weights are whole numbers separated by commas, e.g. 50, 50.")
        return [int(part) for part in parts]

    def clean(self) -> dict[str, Any]:
        cleaned = self.cleaned_data
        field, value = cleaned.get("value_field"), (cleaned.get("value") or "").strip()
        if cleaned.get("action") == "SetValue" and not cleaned.get("clear_value"):
            if not value:
                self.add_error("value", "Give a value, or tick “Clear the field instead”.")
            elif field is not None:
                # Stored in the field's canonical form, as imports and the API store it.
                try:
                    cleaned["value"] = clean_value(field, value)
                except ValidationError as error:
                    self.add_error("value", error)
        return super().clean()

    def settings_from(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        action = cleaned.get("action") or ""

        def pk(name: str) -> int | None:
            chosen = cleaned.get(name)
            return chosen.pk if chosen is not None else None

        settings: dict[str, Any] = {"action": action}
        if action in FIELD_OF_ACTION:
            settings["field"] = pk(FIELD_OF_ACTION[action])
        if action == "SetCoupon":
            settings["pool"] = pk("pool")
        elif action == "SetValue":
            settings["value"] = None if cleaned.get("clear_value") else cleaned.get("value")
        elif action == "SetDate":
            offset = cleaned.get("offset_days")
            settings["offset_days"] = offset if offset is not None else 0
        elif action == "DaysBetween":
            settings["other_field"] = pk("since_field")
            settings["unit"] = cleaned.get("unit") or "days"
        elif action == "SplitTest":
            settings["weights"] = cleaned.get("weights")
        elif action == "FireEvent":
            settings = {"action": action, "event": pk("event")}
        return settings
