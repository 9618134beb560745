"""Event groups, events and folders of lists. Every write goes through
``lists.services`` (folders: ``lists.folders``).

The List admin, with its profile field groups and fields, is registered by
``contacts.list_admin``: deleting a list and changing or deleting a field go
through contacts' services, which this app must not import."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.db.models import Count, ProtectedError, QuerySet, RestrictedError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy

from lists.folders import (
    FolderNameTaken,
    check_folder_name_free,
    create_folder,
    delete_folder,
    rename_folder,
)
from lists.models import Event, EventGroup, Folder
from lists.services import (
    NameTaken,
    check_name_free,
    create_event,
    create_event_group,
    delete_event,
    delete_event_group,
    shown,
    update_event,
    update_event_group,
)


class NamedForm(forms.ModelForm):
    """The form of a row whose name is unique in its list: a name the list
    has (whatever its case) is an error on the name field, worded as the
    services word it, instead of the database constraint's bare name."""

    def clean(self) -> dict[str, Any]:
        super().clean()  # a ModelForm's returns its cleaned_data
        cleaned = self.cleaned_data
        name = cleaned.get("name")
        list_id = getattr(cleaned.get("list"), "pk", None) or self.instance.list_id
        if name and list_id:
            probe = type(self.instance)(pk=self.instance.pk, list_id=list_id, name=name)
            try:
                check_name_free(probe)
            except NameTaken as taken:
                # Failed fields are left out of model validation, so the
                # constraint does not report the clash a second time.
                self.add_error(None, taken)
        return cleaned


def refusal_text(refusal: Exception) -> str:
    """A service's refusal to delete, in words for the page."""
    if isinstance(refusal, ProtectedError | RestrictedError):
        users = sorted(
            f"{o._meta.verbose_name} {str(o)!r}"
            for o in (
                getattr(refusal, "protected_objects", None)
                or cast(RestrictedError, refusal).restricted_objects  # not a ProtectedError
            )
        )
        return f"it is still used by {shown(users)}."
    assert isinstance(refusal, ValidationError)
    return " ".join(refusal.messages)


REFUSALS = (ValidationError, ProtectedError, RestrictedError)


class DeletesThroughServices(admin.ModelAdmin):
    """Deletes through a service (``delete_model``, which subclasses define)
    instead of Django's cascade. A refusal is shown as an error message and
    nothing is deleted: not the object, not the admin's log entry."""

    actions = ["delete_selected"]

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)  # one transaction
        except REFUSALS as refusal:
            name = self.opts.verbose_name
            self.message_user(
                request, f"The {name} was not deleted: {refusal_text(refusal)}", messages.ERROR
            )
            if not self.has_view_or_change_permission(request):
                return HttpResponseRedirect(reverse("admin:index"))
            change = f"admin:{self.opts.app_label}_{self.opts.model_name}_change"
            return HttpResponseRedirect(reverse(change, args=[object_id]))

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The forms check the rules before saving; the services check again under
        # a lock while saving, and a change made in between (values written to a
        # field whose type is being changed) is refused here. Django's view is
        # one transaction, so the refusal leaves everything as it was.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as refusal:
            name = self.opts.verbose_name
            text = " ".join(refusal.messages)
            self.message_user(request, f"The {name} was not saved: {text}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)

    @admin.action(
        permissions=["delete"], description=gettext_lazy("Delete selected %(verbose_name_plural)s")
    )
    def delete_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Django's action (its confirmation page, its checks), all or
        nothing: one refused object leaves every selected one in place."""
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                return django_delete_selected(self, request, queryset)
        except REFUSALS as refusal:
            plural = self.opts.verbose_name_plural
            self.message_user(
                request, f"No {plural} were deleted: {refusal_text(refusal)}", messages.ERROR
            )
            return None


def adopt(obj: models.Model, saved: models.Model) -> None:
    """Make the admin's unsaved ``obj`` the row a service created."""
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False


@admin.register(EventGroup)
class EventGroupAdmin(DeletesThroughServices):
    form = NamedForm
    list_display = ["name", "list"]
    list_filter = ["list"]
    search_fields = ["name"]

    def get_readonly_fields(self, request: HttpRequest, obj: EventGroup | None = None) -> list[str]:
        return ["list"] if obj else []  # a group stays in its list, as its events do

    def save_model(self, request: HttpRequest, obj: EventGroup, form: Any, change: bool) -> None:
        if change:
            update_event_group(group=obj, name=form.cleaned_data["name"])
        else:
            adopt(obj, create_event_group(email_list=obj.list, name=obj.name))

    def delete_model(self, request: HttpRequest, obj: EventGroup) -> None:
        delete_event_group(group=obj)


@admin.register(Event)
class EventAdmin(DeletesThroughServices):
    form = NamedForm
    list_display = ["name", "list", "group", "status"]
    list_filter = ["list", "status"]
    search_fields = ["name"]

    def get_readonly_fields(self, request: HttpRequest, obj: Event | None = None) -> list[str]:
        return ["list"] if obj else []  # conversations trigger on it in this list

    def save_model(self, request: HttpRequest, obj: Event, form: Any, change: bool) -> None:
        values: dict[str, Any] = {"name": obj.name, "status": obj.status, "group_id": obj.group_id}
        if change:
            update_event(event=obj, **values)
        else:
            adopt(obj, create_event(email_list=obj.list, **values))

    def delete_model(self, request: HttpRequest, obj: Event) -> None:
        delete_event(event=obj)


class FolderForm(forms.ModelForm):
    class Meta:
        model = Folder
        fields = ["name"]
        help_texts = {"name": "Lists are grouped in folders for staff to find; each name once."}

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        try:
            check_folder_name_free(name=name, folder=self.instance)
        except FolderNameTaken as taken:
            raise ValidationError(taken.worded()) from None
        return name


@admin.register(Folder)
class FolderAdmin(DeletesThroughServices):
    """A folder's name, and how many lists it holds (the List admin chooses
    a list's folder and filters lists by it)."""

    form = FolderForm
    list_display = ["name", "list_count", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Folder]:
        return super().get_queryset(request).annotate(list_count=Count("lists"))

    @admin.display(description="Lists", ordering="list_count")
    def list_count(self, obj: Folder) -> SafeString:
        url = reverse("admin:lists_list_changelist") + f"?folder__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, getattr(obj, "list_count", 0))

    def save_model(self, request: HttpRequest, obj: Folder, form: Any, change: bool) -> None:
        if change:
            rename_folder(folder=obj, name=form.cleaned_data["name"])
        else:
            adopt(obj, create_folder(name=obj.name))

    def delete_model(self, request: HttpRequest, obj: Folder) -> None:
        delete_folder(folder=obj)  # its lists stay, in no folder
