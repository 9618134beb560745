"""The List admin, with its profile field groups and fields inline.

It is registered here rather than in ``lists/admin.py`` because deleting a
list and changing or deleting a profile field go through contacts' services
(``delete_list``, ``change_field``, ``delete_field``: they look at or remove
the values contacts hold), and ``lists`` must not import ``contacts``. The
model is the lists app's, so its pages keep their names
(``admin:lists_list_change``) and its template (admin/lists/list/).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.text import capfirst

from contacts.services import (
    ValuesOfAnotherType,
    ValuesTooLong,
    change_field,
    check_values_fit,
    delete_field,
    delete_list,
)
from lists.admin import DeletesThroughServices, NamedForm, adopt
from lists.models import List, ProfileField, ProfileFieldGroup
from lists.services import (
    FieldGroupNotEmpty,
    check_field_group_empty,
    create_field,
    create_field_group,
    create_list,
    delete_field_group,
    update_field_group,
    update_list,
)

# --- Profile field groups and fields, inline ---------------------------------------


class UniqueNamesFormSet(BaseInlineFormSet):
    """Two rows of one submission may not take one name: each form checks
    its name against the database only."""

    def clean(self) -> None:
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            name = (getattr(form, "cleaned_data", None) or {}).get("name")
            if not name or self._should_delete_form(form):  # type: ignore[attr-defined]  # private BaseFormSet API, not in django-stubs
                continue
            if name.lower() in seen:
                assert self.model is not None  # an inline formset's model
                noun = self.model._meta.verbose_name_plural
                raise ValidationError(f"Two {noun} are named {name!r} (names ignore case).")
            seen.add(name.lower())


class ProfileFieldGroupFormSet(UniqueNamesFormSet):
    def clean(self) -> None:
        super().clean()
        refusals = []
        for form in self.initial_forms:
            if form.instance.pk and self._should_delete_form(form):  # type: ignore[attr-defined]  # private BaseFormSet API, not in django-stubs
                try:
                    check_field_group_empty(group=form.instance)
                except FieldGroupNotEmpty as refusal:
                    refusals.append(refusal)
        if refusals:
            raise ValidationError(refusals)

    # The admin always saves with commit=True; these save through the services.
    # (The forms are NamedForms: the inline's ``form``.)
    def save_new(self, form: ModelForm, commit: bool = True) -> ProfileFieldGroup:
        data = form.cleaned_data
        return create_field_group(
            email_list=self.instance, name=data["name"], position=data["position"]
        )

    def save_existing(
        self, form: ModelForm, obj: ProfileFieldGroup, commit: bool = True
    ) -> ProfileFieldGroup:
        update_field_group(
            group=obj, name=form.cleaned_data["name"], position=form.cleaned_data["position"]
        )
        return obj

    def delete_existing(self, obj: ProfileFieldGroup, commit: bool = True) -> None:
        delete_field_group(group=obj)


class ProfileFieldForm(NamedForm):
    """A new type or length must fit the values contacts already hold."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        retyped = {"data_type", "max_length"} & set(self.changed_data)
        if (
            self.instance.pk
            and retyped
            and not cleaned.get("DELETE")
            and {"data_type", "max_length"} <= cleaned.keys()
        ):
            try:
                # The instance still holds the field's current type and length.
                check_values_fit(
                    field=self.instance,
                    data_type=cleaned["data_type"],
                    max_length=cleaned["max_length"],
                )
            except (ValuesOfAnotherType, ValuesTooLong) as misfit:
                self.add_error(None, misfit)
        return cleaned


class ProfileFieldFormSet(UniqueNamesFormSet):
    # The forms are ProfileFieldForms: the inline's ``form``.
    def save_new(self, form: ModelForm, commit: bool = True) -> ProfileField:
        return create_field(**_field_values(form))

    def save_existing(
        self, form: ModelForm, obj: ProfileField, commit: bool = True
    ) -> ProfileField:
        # Checked again, under a lock, by the service: a refusal now would be
        # a race with another change of this field.
        change_field(field=obj, **_field_values(form))
        return obj

    def delete_existing(self, obj: ProfileField, commit: bool = True) -> None:
        delete_field(field=obj)  # and its values, from every contact of the list


def _field_values(form: ModelForm) -> dict[str, Any]:
    keys = ("group", "name", "data_type", "max_length", "position")
    return {key: form.cleaned_data[key] for key in keys}


class ProfileFieldGroupInline(admin.TabularInline):
    model = ProfileFieldGroup
    form = NamedForm
    formset = ProfileFieldGroupFormSet
    extra = 0
    fields = ["name", "position"]


class ProfileFieldInline(admin.TabularInline):
    model = ProfileField
    form = ProfileFieldForm
    formset = ProfileFieldFormSet
    fk_name = "list"
    extra = 0
    fields = ["name", "group", "data_type", "max_length", "position"]
    verbose_name_plural = "profile fields (save new groups first, then add their fields)"

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "group":
            list_id = (
                request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            )
            kwargs["queryset"] = ProfileFieldGroup.objects.filter(list_id=list_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- Lists ------------------------------------------------------------------------


@admin.register(List)
class ListAdmin(DeletesThroughServices):
    list_display = [
        "name",
        "folder",
        "from_email",
        "time_zone",
        "double_opt_in",
        "bounce_handling",
        "created_at",
    ]
    list_filter = ["folder"]
    list_select_related = ["folder"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]
    fieldsets = [
        (
            None,
            {"fields": ["name", "folder", "from_name", "from_email", "time_zone", "created_at"]},
        ),
        (
            "Subscription",
            {"fields": ["double_opt_in", "bounce_handling", "bounce_unsubscribe_count"]},
        ),
    ]
    inlines = [ProfileFieldGroupInline, ProfileFieldInline]

    def save_model(self, request: HttpRequest, obj: List, form: Any, change: bool) -> None:
        if change:
            changes = {key: form.cleaned_data[key] for key in form.changed_data}
            update_list(email_list=obj, **changes)
        else:
            adopt(obj, create_list(**{key: form.cleaned_data[key] for key in form.fields}))

    def delete_model(self, request: HttpRequest, obj: List) -> None:
        # Refused while an import of the list waits or runs; never Django's
        # cascade, whose collector would read every contact it deletes.
        delete_list(email_list=obj)

    def get_deleted_objects(
        self, objs: QuerySet[List] | Sequence[List], request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[str]]:
        """What deleting ``objs`` removes, counted per kind of row instead of
        Django's list of every row (a list may hold millions of contacts).
        Deleting needs the delete permission of every kind with an admin of
        its own, as in Django, but for what hangs off the contacts (their
        activity log, which no one may delete by hand, enrollments, …): that
        goes with them, as ``delete_list`` says. Rows that PROTECT the list
        (conversations, messages, coupon pools) stop the deletion."""
        to_delete: list[Any] = []
        model_count: Counter[str] = Counter()
        perms_needed: set[str] = set()
        protected: list[str] = []
        for email_list in objs:
            model_count[str(List._meta.verbose_name_plural)] += 1
            contents = []
            for relation in List._meta.related_objects:
                if not (relation.one_to_many or relation.one_to_one):
                    continue
                model = relation.related_model
                rows = model._base_manager.filter(**{relation.field.name: email_list})
                if relation.on_delete in (models.PROTECT, models.RESTRICT):
                    label = capfirst(model._meta.verbose_name)
                    protected.extend(f"{label}: {row}" for row in rows)
                    continue
                count = rows.count()
                if not count:
                    continue
                opts = model._meta
                noun = opts.verbose_name if count == 1 else opts.verbose_name_plural
                contents.append(f"{count} {noun}")
                model_count[str(opts.verbose_name_plural)] += count
                model_admin = self.admin_site._registry.get(model)
                if model_admin and not model_admin.has_delete_permission(request):
                    perms_needed.add(str(opts.verbose_name))
            if email_list.contacts.exists():
                contents.append("the contacts' activity, and whatever else refers to them")
            to_delete.extend([f"List: {email_list}", contents])
        return to_delete, dict(model_count), perms_needed, protected
