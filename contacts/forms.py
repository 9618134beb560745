"""The admin's contact form: the list's profile fields as typed form fields."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from contacts.addresses import normalise_email
from contacts.models import Contact
from contacts.services.common import blocked_results
from lists.field_types import to_python
from lists.forms import form_field_for
from lists.models import ProfileField
from lists.profile_schema import ProfileSchema

BASE_FIELDS = ["list", "email", "external_contact_id"]


def profile_form_name(field: ProfileField) -> str:
    return f"profile_{field.pk}"


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = BASE_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.profile_fields: list[ProfileField] = []
        if self.instance.pk:
            # Absent for staff who may only view contacts: the admin shows them read-only.
            for name in ("list", "email"):
                if name in self.fields:
                    self.fields[name].disabled = True
            self.schema = ProfileSchema(self.instance.list)
            self.profile_fields = self.schema.fields
            for field in self.profile_fields:
                stored = self.instance.profile.get(field.key)
                self.fields[profile_form_name(field)] = form_field_for(
                    field, initial=to_python(field, stored)
                )

    def clean_email(self) -> str:
        if self.instance.pk:
            return self.instance.email
        return normalise_email(self.cleaned_data["email"])

    def clean(self) -> dict:
        super().clean()  # a ModelForm's returns its cleaned_data
        data = self.cleaned_data
        if self.instance.pk:
            try:
                self.schema.clean(self.profile_values())
            except ValidationError as error:
                self.add_error(None, error)
        elif data.get("list") and data.get("email"):
            blocked = blocked_results(data["list"], [data["email"]])
            if blocked:
                why = blocked[data["email"]].error
                assert why is not None  # a blocked address's result says why
                self.add_error("email", why)
            elif Contact.objects.filter(list=data["list"], email=data["email"]).exists():
                self.add_error("email", "This address is already on the list.")
        return data

    def profile_values(self) -> dict[ProfileField, object]:
        """The submitted profile values, blank for "no value"."""
        return {
            field: self.cleaned_data.get(profile_form_name(field)) for field in self.profile_fields
        }
