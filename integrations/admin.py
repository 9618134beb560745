"""Segment integrations in the admin: the write key entered once and shown
masked, the synced lists, and per integration the backlog, deliveries, dead
letters and the last error. Every write goes through
``integrations.segment.services``. The actions need the change permission:
staff who may only view integrations can neither send nor requeue. A
server's answer is shown by its status only (``Answer.describe``), never
its body."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from integrations.models import DEFAULT_ENDPOINT, SegmentIntegration, SegmentListSync, mask
from integrations.segment import services
from integrations.segment.endpoints import allowed_origins
from lists.models import ProfileField

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _Counts(TypedDict):
    """What ``services.with_counts`` annotates an integration with."""

    backlog: int
    delivered: int
    dead_letters: int
    last_error: str | None
    last_error_at: datetime.datetime | None


class SegmentIntegrationForm(forms.ModelForm):
    # Never rendered back into the page: the key is typed once.
    write_key = forms.CharField(
        label="Write key",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )
    # Checked by clean_endpoint alone: a proxy's one-label host name
    # (https://segment-relay:8443) is no URL to Django's URLField.
    endpoint = forms.CharField(max_length=200, strip=True, initial=DEFAULT_ENDPOINT)

    class Meta:
        model = SegmentIntegration
        fields = ["name", "write_key", "endpoint", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved_key = self.instance.write_key if self.instance.pk else ""
        # The form's initial data would otherwise carry the key.
        self.initial["write_key"] = ""
        help_text = "The source's write key, from Segment."
        if self.saved_key:
            help_text = (
                f"Saved key: {mask(self.saved_key)}. Leave blank to keep it, or type a new one."
            )
        self.fields["write_key"].help_text = help_text
        allowed = ", ".join(allowed_origins())
        self.fields["endpoint"].help_text = f"Allowed (SEGMENT_ALLOWED_HOSTS): {allowed}."

    def clean_write_key(self) -> str:
        key = self.cleaned_data["write_key"]
        if not key and not self.saved_key:
            raise forms.ValidationError("The write key is required.")
        return key or self.saved_key

    def clean_endpoint(self) -> str:
        return services.validate_endpoint(self.cleaned_data["endpoint"])


class ProfileFieldChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: ProfileField) -> str:
        return f"{obj.list}: {obj.name}"


class ListSyncInline(admin.TabularInline):
    model = SegmentListSync
    extra = 0
    fields = ["list", "user_id_field", "backfill"]
    readonly_fields = ["backfill"]
    verbose_name_plural = "synced lists (adding one identifies all its contacts)"

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        if db_field.name == "user_id_field":
            kwargs["form_class"] = ProfileFieldChoice
            kwargs["queryset"] = ProfileField.objects.select_related("list")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="backfill")
    def backfill(self, obj: SegmentListSync) -> str:
        if obj.pk is None:
            return ""
        return f"done {obj.backfilled_at:%Y-%m-%d %H:%M}" if obj.backfilled_at else "in progress"


@admin.register(SegmentIntegration)
class SegmentIntegrationAdmin(admin.ModelAdmin):
    form = SegmentIntegrationForm
    inlines = [ListSyncInline]
    list_display = [
        "name",
        "endpoint",
        "enabled",
        "key",
        "backlog",
        "delivered",
        "dead_letters",
        "last_error",
    ]
    readonly_fields = ["backlog", "delivered", "dead_letters", "last_error", "dead_letter_table"]
    actions = ["retry_dead_letters", "send_test_identify"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SegmentIntegration]:
        return services.with_counts(super().get_queryset(request))

    def get_fieldsets(self, request: HttpRequest, obj: SegmentIntegration | None = None):
        settings_fields = {"fields": ["name", "write_key", "endpoint", "enabled"]}
        if obj is None:
            return [(None, settings_fields)]
        delivery = ["backlog", "delivered", "dead_letters", "last_error", "dead_letter_table"]
        return [(None, settings_fields), ("Delivery", {"fields": delivery})]

    @admin.display(description="write key")
    def key(self, obj: SegmentIntegration) -> str:
        return obj.masked_write_key

    @admin.display(description="backlog")
    def backlog(self, obj: WithAnnotations[SegmentIntegration, _Counts]) -> int:
        return obj.backlog

    @admin.display(description="delivered")
    def delivered(self, obj: WithAnnotations[SegmentIntegration, _Counts]) -> int:
        return obj.delivered

    @admin.display(description="dead letters")
    def dead_letters(self, obj: WithAnnotations[SegmentIntegration, _Counts]) -> int:
        return obj.dead_letters

    @admin.display(description="last error")
    def last_error(self, obj: WithAnnotations[SegmentIntegration, _Counts]) -> str:
        if not obj.last_error:
            return "—"
        return f"{obj.last_error_at:%Y-%m-%d %H:%M:%S}: {obj.last_error}"

    @admin.display(description="latest dead letters")
    def dead_letter_table(self, obj: SegmentIntegration) -> str:
        letters = services.recent_dead_letters(integration=obj)
        if not letters:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((d.message_id, d.kind, d.attempts, d.answer, d.dead_at) for d in letters),
        )
        return format_html(
            "<table><tr><th>messageId</th><th>message</th><th>attempts</th>"
            "<th>answer</th><th>dead since</th></tr>{}</table>",
            rows,
        )

    def save_model(
        self, request: HttpRequest, obj: SegmentIntegration, form: Any, change: bool
    ) -> None:
        if not change:
            created = services.create_integration(
                name=obj.name, write_key=obj.write_key, endpoint=obj.endpoint, enabled=obj.enabled
            )
            obj.pk, obj.created_at = created.pk, created.created_at
            return
        turned_on = "enabled" in form.changed_data and obj.enabled
        obj.save()
        if turned_on:
            services.enable_integration(integration=obj)
        if "endpoint" in form.changed_data:
            services.endpoint_changed(integration=obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not SegmentListSync:
            return super().save_formset(request, form, formset, change)
        syncs = formset.save(commit=False)
        moved = {sync.pk for sync, fields in formset.changed_objects if "list" in fields}
        for sync in formset.deleted_objects:
            services.stop_sync(sync=sync)
        for sync in syncs:
            if sync.pk in moved:  # another list in the same row: a new sync
                services.stop_sync(sync=sync)
            services.sync_list(
                integration=form.instance, email_list=sync.list, user_id_field=sync.user_id_field
            )
        return None

    def delete_model(self, request: HttpRequest, obj: SegmentIntegration) -> None:
        services.delete_integration(integration=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SegmentIntegration]) -> None:
        for integration in queryset:
            services.delete_integration(integration=integration)

    @admin.action(
        description="Retry the dead letters of the selected integrations", permissions=["change"]
    )
    def retry_dead_letters(
        self, request: HttpRequest, queryset: QuerySet[SegmentIntegration]
    ) -> None:
        for integration in queryset:
            count = services.retry_dead_letters(integration=integration)
            self.message_user(
                request, f"{integration.name}: {count} dead letters queued again.", messages.SUCCESS
            )

    @admin.action(
        description="Send a test identify to the selected integrations", permissions=["change"]
    )
    def send_test_identify(
        self, request: HttpRequest, queryset: QuerySet[SegmentIntegration]
    ) -> None:
        for integration in queryset:
            try:
                answer = services.send_test_identify(integration=integration)
            except ValidationError as refused:
                self.message_user(
                    request,
                    f"{integration.name}: test identify not sent. {' '.join(refused.messages)}",
                    messages.ERROR,
                )
                continue
            level = messages.SUCCESS if answer.delivered else messages.ERROR
            self.message_user(
                request, f"{integration.name}: test identify, {answer.describe()}", level
            )
