"""Wait: holds the contact until the release time of its rule
(``conductor.waits``: duration, fixed date, profile date, anniversary).
Settings: the rule's own settings, e.g. ``{"kind": "duration", "days": 2}``,
typed as ``conductor.waits.WaitRule`` (``wait_rule_from_settings``).

Its form offers the rule's kind and fields; the rule reads the settings back
itself, so a value it refuses is shown on the field it names.
"""

from __future__ import annotations

import datetime
from typing import Any, cast

from django import forms
from django.contrib.admin.widgets import AdminDateWidget
from django.core.exceptions import ValidationError

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import NEXT, Hold, Outcome
from conductor.forms.base import StepForm
from conductor.models import Enrollment, Step, StepKind
from conductor.steps.context import Names, VersionContext, label
from conductor.steps.references import FIELD, Reference
from conductor.steps.unit import StepKindUnit
from conductor.waits import RULE_KINDS, wait_rule_from_settings
from conductor.waits.settings_reader import WEEKDAYS
from lists.models import DataType, ProfileField

RULE_CHOICES = [
    ("duration", "For a time (days, hours, minutes)"),
    ("fixed_date", "Until a date and time"),
    ("profile_date", "Until the date in a profile field"),
    ("anniversary", "Until the anniversary of a profile date (advanced)"),
]
assert {kind for kind, _ in RULE_CHOICES} == set(RULE_KINDS)
NTH_CHOICES = [("1", "1st"), ("2", "2nd"), ("3", "3rd"), ("4", "4th"), ("-1", "Last")]


def _number(**kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(required=False, **kwargs)


class WaitStepForm(StepForm):
    settings_fieldsets = [
        ("Wait", {"fields": ["rule"]}),
        ("For a time", {"fields": [("days", "hours", "minutes")], "classes": ["wait-duration"]}),
        ("Until a date", {"fields": ["date"], "classes": ["wait-fixed_date"]}),
        (
            "Profile date or anniversary",
            {"fields": ["date_field", "offset_days"], "classes": ["wait-profile_date"]},
        ),
        (
            "Anniversary",
            {
                "fields": ["mode", ("nth", "weekday"), "next_year_if_passed"],
                "classes": ["wait-anniversary"],
            },
        ),
        (
            "Time of day",
            {
                "fields": ["time"],
                "description": "For a date, a profile date or an anniversary, in the list's zone.",
            },
        ),
    ]
    problem_fields = [
        ("kind", "rule"),
        ("field_id", "date_field"),
        ("field", "date_field"),
        ("offset_days", "offset_days"),
        ("next_year_if_passed", "next_year_if_passed"),
        ("weekday", "weekday"),
        ("nth", "nth"),
        ("mode", "mode"),
        ("days", "days"),
        ("hours", "hours"),
        ("minutes", "minutes"),
        ("date", "date"),
        ("time", "time"),
    ]

    rule = forms.ChoiceField(choices=RULE_CHOICES, initial="duration", label="Wait")
    days = _number(min_value=0, initial=0)
    hours = _number(min_value=0, initial=0)
    minutes = _number(min_value=0, initial=0)
    date = forms.DateField(required=False, widget=AdminDateWidget)
    time = forms.TimeField(
        required=False,
        widget=forms.TimeInput(format="%H:%M"),
        help_text="HH:MM",
    )
    date_field = forms.ModelChoiceField(
        queryset=ProfileField.objects.none(), required=False, label="Date field"
    )
    offset_days = _number(initial=0, help_text="Days after the date (negative: before).")
    mode = forms.ChoiceField(
        choices=[
            ("anniversary", "Same month and day"),
            ("nth_weekday", "Nth weekday of the month"),
        ],
        required=False,
        initial="anniversary",
    )
    nth = forms.TypedChoiceField(choices=NTH_CHOICES, coerce=int, required=False, empty_value=None)
    weekday = forms.ChoiceField(
        choices=[("", "---------")] + [(day, day.capitalize()) for day in WEEKDAYS],
        required=False,
    )
    next_year_if_passed = forms.BooleanField(
        required=False, label="Next year if this year's date has passed"
    )

    def add_setting_fields(self) -> None:
        date_field = cast(forms.ModelChoiceField, self.fields["date_field"])  # declared above
        date_field.queryset = ProfileField.objects.filter(
            list=self.email_list, data_type=DataType.DATE
        )

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        initial = {key: value for key, value in settings.items() if key in self.fields}
        initial["rule"] = settings.get("kind")
        initial["date_field"] = settings.get("field_id")
        return initial

    def settings_from(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        kind = cleaned.get("rule")
        time = cleaned["time"].strftime("%H:%M") if cleaned.get("time") else None
        field = cleaned.get("date_field")
        at_date = {
            "field_id": field.pk if field else None,
            "offset_days": cleaned.get("offset_days") or 0,
            "time": time,
        }
        if kind == "duration":
            raw: dict[str, Any] = {
                "days": cleaned.get("days") or 0,
                "hours": cleaned.get("hours") or 0,
                "minutes": cleaned.get("minutes") or 0,
            }
        elif kind == "fixed_date":
            day = cleaned.get("date")
            raw = {"date": day.isoformat() if day else None, "time": time}
        elif kind == "profile_date":
            raw = at_date
        else:
            raw = {
                **at_date,
                "mode": cleaned.get("mode") or None,
                "next_year_if_passed": bool(cleaned.get("next_year_if_passed")),
            }
            if raw["mode"] == "nth_weekday":
                raw |= {"nth": cleaned.get("nth"), "weekday": cleaned.get("weekday") or None}
        raw = {"kind": kind, **raw}
        try:
            return wait_rule_from_settings(raw).to_settings()  # the rule's canonical form
        except ValidationError:
            return raw  # the unit's check names each problem on its field


class WaitUnit(StepKindUnit):
    kind = StepKind.WAIT
    label = StepKind.WAIT.label
    form = WaitStepForm
    colour = "#ede9fe"
    references = (Reference("field_id", FIELD),)
    waits = True

    def check(self, step: Step, context: VersionContext) -> list[str]:
        try:
            rule = wait_rule_from_settings(step.settings)
        except ValidationError as error:
            return [f"{label(step)}: {message}" for message in error.messages]
        field_id = getattr(rule, "field_id", None)
        if field_id is None:
            return []
        field = context.fields.get(field_id)
        if field is None or field.data_type != DataType.DATE:
            return [f"{label(step)}: field {field_id} is not a Date profile field of this list."]
        return []

    def release_at(
        self, *, step: Step, enrollment: Enrollment, now: datetime.datetime
    ) -> datetime.datetime | Hold:
        rule = wait_rule_from_settings(step.settings)
        release = rule.release_at(
            entered_at=now,
            zone=enrollment.conversation.list.zone,
            profile=enrollment.contact.profile,
        )
        if release is None:
            # Releasing at once could send a dated email on the wrong day; hold it visibly.
            field = getattr(rule, "field_id", "?")
            return Hold(f"{step}: the contact has no date in profile field {field}.")
        return max(release, now)

    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        """Due means released: the release time was set when the contact arrived."""
        return {e.pk: NEXT for e in batch.enrollments}

    def summary(self, step: Step, names: Names) -> str:
        s = step.settings
        kind, time = s.get("kind"), s.get("time", "")
        field = names.field(s, "field_id")
        offset = f" {s.get('offset_days', 0):+d} d" if s.get("offset_days") else ""
        if kind == "duration":
            return _duration_words(s.get("days", 0), s.get("hours", 0), s.get("minutes", 0))
        if kind == "fixed_date":
            return f"until {s.get('date')} {time}"
        if kind == "profile_date":
            return f"until {field}{offset} at {time}"
        if kind == "anniversary":
            if s.get("mode") == "nth_weekday":
                nth = "last" if s.get("nth") == -1 else f"#{s.get('nth')}"
                what = f"{nth} {s.get('weekday')} of {field}'s month"
            else:
                what = f"anniversary of {field}"
            return f"{what}{offset} at {time}"
        return "no rule chosen"


def _duration_words(days: object, hours: object, minutes: object) -> str:
    """ "2 days", "1 day 3 hours", "30 minutes"; "no time" when all are zero."""
    parts = [
        f"{amount} {unit}{'' if amount == 1 else 's'}"
        for amount, unit in ((days, "day"), (hours, "hour"), (minutes, "minute"))
        if amount
    ]
    return " ".join(parts) or "no time"
