"""The signup form a point shows, built from the fields it asks for; and the
admin's form of a point."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from config.origins import origin
from contacts.addresses import normalise_email
from lists.field_types import FALSE_WORDS, clean_value
from lists.models import DataType, ProfileField
from signups.models import PointField, SubscriptionPoint

#: The hidden field people never see and bots fill in.
HONEYPOT = "website"
#: The "shown at" token (``signups.tokens``).
TOKEN = "token"
CONSENT = "consent"
#: Types a signup form can ask for (a content block is not a visitor's to fill).
ASKABLE = [t for t in DataType if t != DataType.CONTENT_BLOCK]


def field_name(field: ProfileField | int) -> str:
    """The form field of a profile field: ``field_<id>``, in the snippets too."""
    return f"field_{field if isinstance(field, int) else field.pk}"


class SwitchInput(forms.CheckboxInput):
    """A checkbox that also reads "off", "false" and "0" as unticked, as the
    API does (Django's reads any text but "false" as ticked): a JSON post's
    ``"consent": "0"`` must not subscribe anyone."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> bool:
        value = data.get(name)
        if isinstance(value, str) and value.strip().lower() in FALSE_WORDS:
            return False
        return super().value_from_datadict(data, files, name)


def _form_field(point_field: PointField) -> forms.Field:
    field = point_field.field
    common: dict[str, Any] = {"label": field.name, "required": point_field.required}
    match field.data_type:
        case DataType.CHECK_BOX | DataType.RADIO_BUTTON:
            return forms.BooleanField(widget=SwitchInput, **common)
        case DataType.NUMERIC:
            widget: forms.Widget = forms.NumberInput(attrs={"step": "0.01"})
        case DataType.DATE:
            widget = forms.DateInput(attrs={"type": "date"})
        case DataType.COMMENT_AREA:
            widget = forms.Textarea(attrs={"rows": 3, "maxlength": field.max_length})
        case _:
            widget = forms.TextInput(attrs={"maxlength": field.max_length})
    return forms.CharField(widget=widget, strip=False, **common)


class SignupForm(forms.Form):
    """An address, the point's profile fields, its consent checkbox if it has
    one, the honeypot and the token. ``cleaned_values`` are the profile
    values in their stored form, by field key."""

    email = forms.CharField(
        label="Email address",
        max_length=320,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, point: SubscriptionPoint, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.point = point
        self.point_fields = point.asked
        for point_field in self.point_fields:
            self.fields[field_name(point_field.field)] = _form_field(point_field)
        if point.consent_text:
            self.fields[CONSENT] = forms.BooleanField(
                label=point.consent_text, required=False, widget=SwitchInput
            )
        self.fields[HONEYPOT] = forms.CharField(
            required=False,
            label="Leave this empty",
            widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
        )
        self.fields[TOKEN] = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_email(self) -> str:
        return normalise_email(self.cleaned_data["email"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        self.cleaned_values: dict[str, str | None] = {}
        for point_field in self.point_fields:
            name = field_name(point_field.field)
            if name not in cleaned:
                continue  # refused already, next to its field
            value = cleaned[name]
            if isinstance(value, bool) and not value and not point_field.required:
                value = None  # an unticked box says nothing
            try:
                self.cleaned_values[point_field.field.key] = clean_value(point_field.field, value)
            except ValidationError as error:
                self.add_error(name, error)
        return cleaned

    @property
    def honeypot_filled(self) -> bool:
        return bool(self.data.get(HONEYPOT))

    @property
    def visible_fields_only(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name not in (HONEYPOT, TOKEN)]


class PointForm(forms.ModelForm):
    """The admin's form of a point: origins checked and normalised, the
    thank-you page on one of them, the event on the point's list."""

    # Declared here, not made from the model field: Django 5.2's URLField
    # warns about the scheme it assumes (https, as Django 6 will).
    redirect_url = forms.URLField(
        label="Thank-you page",
        required=False,
        assume_scheme="https",
        help_text=SubscriptionPoint._meta.get_field("redirect_url").help_text,
        widget=forms.URLInput(attrs={"class": "vURLField"}),
    )

    class Meta:
        model = SubscriptionPoint
        fields = [
            "list",
            "name",
            "is_active",
            "event",
            "double_opt_in",
            "method",
            "heading",
            "intro",
            "button_label",
            "consent_text",
            "thank_you_text",
            "redirect_url",
            "allowed_origins",
            "popup_opening",
            "popup_delay_seconds",
            "signups_per_minute",
        ]
        widgets = {
            "allowed_origins": forms.Textarea(
                attrs={"rows": 3, "placeholder": "https://www.example.com"}
            ),
            "intro": forms.Textarea(attrs={"rows": 2}),
            "thank_you_text": forms.Textarea(attrs={"rows": 2}),
        }
        labels = {"thank_you_text": "Thank-you text"}
        # The admin shows help texts as HTML: no angle brackets in them.
        help_texts = {
            "event": (
                "Fired for the contact on each signup, so a conversation's trigger and its "
                "message variants can tell this point apart. Left empty, a new event named "
                "after the point is made (“Signup: Footer” for a point named Footer)."
            ),
        }

    def clean_allowed_origins(self) -> str:
        lines = [line.strip() for line in self.cleaned_data["allowed_origins"].splitlines()]
        origins: list[str] = []
        problems: list[str] = []
        for line in filter(None, lines):
            try:
                normalised = origin(line.lower().rstrip("/"))
            except ValueError as error:
                problems.append(f"“{line}”: {error}.")
                continue
            if normalised not in origins:
                origins.append(normalised)
        if problems:
            raise ValidationError(
                ["Each line must be an origin such as https://www.example.com.", *problems]
            )
        return "\n".join(origins)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        redirect = cleaned.get("redirect_url")
        origins = (cleaned.get("allowed_origins") or "").split()
        if redirect:
            try:
                where = origin(origin_of(redirect))
            except ValueError:
                where = ""
            if where not in origins:
                self.add_error(
                    "redirect_url",
                    "The thank-you page must be on one of the allowed origins "
                    f"({', '.join(origins) or 'none yet'}); "
                    f"add {origin_of(redirect)} there first.",
                )
        email_list = cleaned.get("list") or (self.instance.list if self.instance.list_id else None)
        event = cleaned.get("event")
        if event is not None and email_list is not None and event.list_id != email_list.pk:
            self.add_error("event", f"Event “{event}” belongs to another list than {email_list}.")
        return cleaned


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-cased: where a thank-you page
    is, for the allowed origins and the hosted page's form-action."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return f"{scheme.lower()}://{host.lower()}"
