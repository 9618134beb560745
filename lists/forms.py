"""Profile fields as typed Django form fields (the admin edits contacts with them)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.widgets import AdminDateWidget

from lists.models import DataType, ProfileField

SWITCH_CHOICES = [("", "—"), ("on", "On"), ("off", "Off")]


def form_field_for(field: ProfileField, *, initial: object = None) -> forms.Field:
    """A form field for ``field`` whose cleaned value ``lists.field_types.clean_value``
    accepts (blank means no value)."""
    common: dict[str, Any] = {"label": field.name, "required": False, "initial": initial}
    data_type = DataType(field.data_type)
    if data_type == DataType.NUMERIC:
        return forms.DecimalField(decimal_places=2, max_digits=18, **common)
    if data_type == DataType.DATE:
        return forms.DateField(
            widget=AdminDateWidget, input_formats=["%Y-%m-%d", "%m/%d/%Y"], **common
        )
    if data_type in (DataType.CHECK_BOX, DataType.RADIO_BUTTON):
        # Three states, not a plain checkbox: "no value" differs from "off".
        if isinstance(initial, bool):
            common["initial"] = "on" if initial else "off"
        return forms.ChoiceField(choices=SWITCH_CHOICES, **common)
    if data_type in (DataType.COMMENT_AREA, DataType.CONTENT_BLOCK):
        return forms.CharField(
            max_length=field.max_length, widget=forms.Textarea(attrs={"rows": 3}), **common
        )
    return forms.CharField(max_length=field.max_length, **common)
