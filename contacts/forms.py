"""The admin's contact form: the list's profile fields as typed form fields,
both when adding a contact and when changing one."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.core.exceptions import ValidationError

from contacts.addresses import normalise_email
from contacts.models import Contact, SubscriptionState
from contacts.services.common import blocked_results
from lists.field_types import clean_value, to_python
from lists.forms import form_field_for
from lists.models import List, ProfileField
from lists.profile_schema import ProfileSchema

BASE_FIELDS = ["list", "email", "external_contact_id"]
PROFILE_PREFIX = "profile_"
MAX_ID_DIGITS = 18  # a longer number is no id (and would overflow the query)


def profile_form_name(field: ProfileField) -> str:
    return f"{PROFILE_PREFIX}{field.pk}"


def list_of_new_contact(values: Mapping[str, object]) -> List | None:
    """The list a new contact's form is for: the ``list`` it was given (the
    submitted form, or the add page's ``?list=``), or the only list there
    is; None when there is no telling."""
    ref = values.get("list")
    if isinstance(ref, str) and ref.isdigit() and len(ref) <= MAX_ID_DIGITS:
        return List.objects.filter(pk=int(ref)).first()
    if isinstance(ref, int):
        return List.objects.filter(pk=ref).first()
    if ref in (None, ""):
        only = list(List.objects.order_by("pk")[:2])
        return only[0] if len(only) == 1 else None
    return None


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = BASE_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.profile_fields: list[ProfileField] = []
        if self.instance.pk:
            # Its list and address are read-only (ContactAdmin.get_readonly_fields).
            email_list: List | None = self.instance.list
        else:
            email_list = list_of_new_contact(self.data if self.is_bound else self.initial)
            if email_list is not None and not self.is_bound:
                self.initial["list"] = email_list.pk
        if email_list is not None:
            self.profile_fields = ProfileSchema(email_list).fields
        for field in self.profile_fields:
            stored = self.instance.profile.get(field.key) if self.instance.pk else None
            self.fields[profile_form_name(field)] = form_field_for(
                field, initial=to_python(field, stored)
            )

    def clean_email(self) -> str:
        if self.instance.pk:
            return self.instance.email
        return normalise_email(self.cleaned_data["email"])

    def _get_validation_exclusions(self) -> set[str]:
        # Django's hook naming the fields the model's constraints are not checked on.
        exclude: set[str] = super()._get_validation_exclusions()  # type: ignore[misc]  # undeclared in django-stubs
        data = self.cleaned_data
        if self.instance.pk is None and data.get("list") and data.get("email"):
            # One only ever sent transactional email is added as a new address is
            # (subscribing takes its row): its key is not "already on the list".
            known = Contact.objects.filter(list=data["list"], email=data["email"])
            if known.filter(state=SubscriptionState.NEVER_SUBSCRIBED).exists():
                exclude.add("email")
        return exclude

    def clean(self) -> dict:
        super().clean()  # a ModelForm's returns its cleaned_data
        data = self.cleaned_data
        for field in self.profile_fields:
            name = profile_form_name(field)
            if name in data:
                try:
                    clean_value(field, data[name])
                except ValidationError as error:
                    self.add_error(name, error)
        if self.instance.pk:
            return data
        self._check_values_are_of_this_list()
        if data.get("list") and data.get("email"):
            blocked = blocked_results(data["list"], [data["email"]])
            if blocked:
                why = blocked[data["email"]].error
                assert why is not None  # a blocked address's result says why
                self.add_error("email", why)
            elif (
                Contact.objects.filter(list=data["list"], email=data["email"])
                # One only ever sent transactional email is added as a new address is.
                .exclude(state=SubscriptionState.NEVER_SUBSCRIBED)
                .exists()
            ):
                self.add_error("email", "This address is already on the list.")
        return data

    def _check_values_are_of_this_list(self) -> None:
        # Without its script, the add page keeps the fields of the list first
        # shown when another list is chosen: their values would be lost.
        ours = {profile_form_name(field) for field in self.profile_fields}
        strays = [
            key
            for key, value in self.data.items()
            if key.startswith(PROFILE_PREFIX) and key not in ours and str(value).strip()
        ]
        if strays and self.cleaned_data.get("list"):
            self.add_error(
                "list",
                f"The profile values entered were for another list's fields. Below are the "
                f"fields of “{self.cleaned_data['list']}”: fill them in and save again.",
            )

    def profile_values(self) -> dict[ProfileField, object]:
        """The submitted profile values, blank for "no value"."""
        return {
            field: self.cleaned_data.get(profile_form_name(field)) for field in self.profile_fields
        }

    def cleaned_profile(self) -> dict[str, str | None]:
        """The submitted profile values as stored: ``{field key: value or None}``."""
        return {
            field.key: clean_value(field, value) for field, value in self.profile_values().items()
        }
