"""Subscription points in the admin, for marketers: the settings in plain
words, the fields a point asks for, the snippets to put it on a site with a
live preview, and its report (``signups.admin_page``).

A point is saved through ``signups.services.save_point``, which gives it
the event “Signup: <name>” when none is chosen. Its list can no longer
change once it has taken signups: they belong to that list. Signups and
rate-limit windows have no admin pages of their own: the point's page lists
its latest signups, and its report counts them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from lists.models import Event, ProfileField
from signups import snippets
from signups.admin_page import panel_context, report_context, warnings
from signups.forms import ASKABLE, PointForm
from signups.models import PointField, SubscriptionPoint
from signups.reports import with_recent_signups
from signups.services import save_point

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _Recent(TypedDict):
    """What ``with_recent_signups`` annotates a point with."""

    signups_today: int
    signups_week: int


# --- The fields a point asks for ----------------------------------------------------


class ProfileFieldChoice(forms.ModelChoiceField):
    """Offers the fields of the point's list (its ``queryset``), but takes any
    profile field posted, so that the form can say what is wrong with one of
    another list or a content block instead of "not one of the choices"."""

    def to_python(self, value: Any) -> ProfileField | None:
        if value in self.empty_values:
            return None
        try:
            return ProfileField.objects.select_related("list").get(pk=value)
        except (ValueError, TypeError, ProfileField.DoesNotExist):
            raise ValidationError(f"There is no profile field “{value}”.") from None

    def label_from_instance(self, obj: ProfileField) -> str:
        return f"{obj.name} ({obj.get_data_type_display()})"


class EventOfAnyList(forms.ModelChoiceField):
    """An event, named with its list: on the add page the list is not chosen yet."""

    def label_from_instance(self, obj: Event) -> str:
        return f"{obj.list}: {obj.name}"


class PointFieldForm(forms.ModelForm):
    field = ProfileFieldChoice(
        queryset=ProfileField.objects.none(),
        label="Profile field",
        help_text="A field of the point's list; the form uses its type's input.",
    )

    class Meta:
        model = PointField
        fields = ["field", "required", "position"]
        help_texts = {
            "required": "The visitor must fill it in.",
            "position": "The form asks the fields in this order, lowest first.",
        }

    def clean_field(self) -> ProfileField:
        field: ProfileField = self.cleaned_data["field"]
        email_list = self.instance.point.list  # the inline formset set the point
        if field.list_id != email_list.pk:
            raise ValidationError(
                f"“{field.name}” is a field of the list “{field.list}”, not of this point's "
                f"list “{email_list}”: choose one of its fields."
            )
        if field.data_type not in ASKABLE:
            raise ValidationError(
                f"“{field.name}” is a content block, which visitors cannot fill in: choose "
                "a field of another type."
            )
        return field


class PointFieldFormSet(BaseInlineFormSet):
    def add_fields(self, form: forms.ModelForm, index: int | None) -> None:
        super().add_fields(form, index)
        choice = form.fields["field"]
        assert isinstance(choice, ProfileFieldChoice)  # PointFieldForm's
        choice.queryset = ProfileField.objects.filter(
            list_id=self.instance.list_id, data_type__in=ASKABLE
        ).order_by("name", "id")

    def clean(self) -> None:
        # Before Django's check of the unique rows, whose words name no field.
        kept = [
            form.cleaned_data["field"]
            for form in self.forms
            if form.cleaned_data.get("field") and not form.cleaned_data.get("DELETE")
        ]
        twice = sorted(f.name for f, n in Counter(kept).items() if n > 1)
        if twice:
            raise ValidationError(
                f"The form would ask for {', '.join(f'“{n}”' for n in twice)} twice: keep one row."
            )
        super().clean()


class PointFieldInline(admin.TabularInline):
    model = PointField
    form = PointFieldForm
    formset = PointFieldFormSet
    fields = ["field", "required", "position"]
    verbose_name = "field"
    verbose_name_plural = "What it asks"

    def get_extra(self, request: HttpRequest, obj: SubscriptionPoint | None = None, **kwargs: Any):
        return 0 if obj is not None and obj.fields.exists() else 1

    # The fields asked are part of the point, not a model staff are given apart:
    # who may change the point chooses them, who may view it sees them.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("signups.view_subscriptionpoint") or self._may_change(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_change(request)

    @staticmethod
    def _may_change(request: HttpRequest) -> bool:
        return request.user.has_perm("signups.change_subscriptionpoint")


# --- Points -----------------------------------------------------------------------------

FIELDSETS: list[tuple[str, dict[str, Any]]] = [
    ("The point", {"fields": ["list", "name", "is_active"]}),
    # "What it asks" (the fields inline) follows: change_form.html puts it there.
    (
        "What happens",
        {
            "fields": ["event", "double_opt_in", "method", "consent_text"],
            "description": "What a signup does for the person who sends the form.",
        },
    ),
    (
        "What visitors see",
        {
            "fields": ["heading", "intro", "button_label", "thank_you_text", "redirect_url"],
            "description": "On the hosted page and in the pop-up; the HTML form shows the "
            "fields and the button, and takes your site's own styles.",
        },
    ),
    (
        "Where it is used",
        {"fields": ["allowed_origins", "popup_opening", "popup_delay_seconds"]},
    ),
    ("Limits", {"fields": ["signups_per_minute"]}),
]


@admin.register(SubscriptionPoint)
class SubscriptionPointAdmin(admin.ModelAdmin):
    form = PointForm
    list_display = [
        "name",
        "list",
        "event_shown",
        "is_active",
        "people_today",
        "people_week",
        "hosted_page",
    ]
    list_filter = ["list", "is_active"]
    list_select_related = ["list", "event"]
    search_fields = ["name"]
    search_help_text = "A point's name, or part of it."
    change_form_template = "admin/signups/subscriptionpoint/change_form.html"
    inlines = [PointFieldInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SubscriptionPoint]:
        return with_recent_signups(super().get_queryset(request))

    # --- The list of points ---------------------------------------------------------

    @admin.display(description="event", ordering="event__name")
    def event_shown(self, obj: SubscriptionPoint) -> str:
        if obj.event is None:
            return "—"
        return obj.event.name if obj.event.is_active else f"{obj.event.name} (blocked)"

    @admin.display(description="signups today", ordering="signups_today")
    def people_today(self, obj: WithAnnotations[SubscriptionPoint, _Recent]) -> int:
        return obj.signups_today

    @admin.display(description="last 7 days", ordering="signups_week")
    def people_week(self, obj: WithAnnotations[SubscriptionPoint, _Recent]) -> int:
        return obj.signups_week

    @admin.display(description="page")
    def hosted_page(self, obj: SubscriptionPoint) -> SafeString:
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Open</a>',
            snippets.hosted_url(obj),
        )

    # --- A point's page -----------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: SubscriptionPoint | None = None):
        if obj is None or not self._list_is_fixed(obj):
            return FIELDSETS
        first, *rest = FIELDSETS
        return [(first[0], {"fields": ["fixed_list", "name", "is_active"]}), *rest]

    def get_readonly_fields(self, request: HttpRequest, obj: SubscriptionPoint | None = None):
        return ["fixed_list"] if obj is not None and self._list_is_fixed(obj) else []

    def get_inlines(self, request: HttpRequest, obj: SubscriptionPoint | None):
        # On the add page the list is not chosen yet, so its fields are not known.
        return self.inlines if obj is not None else []

    @staticmethod
    def _list_is_fixed(obj: SubscriptionPoint) -> bool:
        return obj.pk is not None and obj.signups.exists()

    @admin.display(description="list")
    def fixed_list(self, obj: SubscriptionPoint) -> SafeString:
        return format_html(
            '{}<span class="sp-fixed-note">It cannot change: the point has taken signups, '
            "which belong to this list.</span>",
            obj.list,
        )

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "event":
            match = request.resolver_match
            object_id = match.kwargs.get("object_id") if match else None
            if object_id is not None:
                # The events of the point's own list.
                kwargs["queryset"] = Event.objects.filter(list__subscription_points__pk=object_id)
            else:
                kwargs["queryset"] = Event.objects.select_related("list").order_by(
                    "list__name", "name", "id"
                )
                kwargs["form_class"] = EventOfAnyList
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "event" and field is not None:
            # Deleting an event belongs on its own page, not beside a point's choice of it.
            field.widget.can_delete_related = False  # the RelatedFieldWidgetWrapper
        return field

    def save_model(self, request: HttpRequest, obj: SubscriptionPoint, form, change: bool) -> None:
        save_point(obj)

    def response_add(self, request: HttpRequest, obj: SubscriptionPoint, post_url_continue=None):
        # Its fields, its snippets and its preview are on its page: go there.
        stay = ("_addanother", "_saveasnew", IS_POPUP_VAR)
        if any(key in request.POST for key in stay) or not self.has_change_permission(request, obj):
            return super().response_add(request, obj, post_url_continue)
        messages.success(
            request,
            f"The subscription point “{obj}” was added, with the event “{obj.event}”. "
            "Now choose the fields it asks for; its snippets are at the foot of the page.",
        )
        return HttpResponseRedirect(
            reverse("admin:signups_subscriptionpoint_change", args=[obj.pk])
        )

    def change_view(self, request: HttpRequest, object_id: str, form_url="", extra_context=None):
        point = self.get_object(request, object_id)
        extra = {**(extra_context or {})}
        if point is not None and self.has_view_or_change_permission(request, point):
            extra.update(
                point_warnings=warnings(point),
                panel=panel_context(point),
                report=report_context(point, request),
            )
        return super().change_view(request, object_id, form_url, extra)

    def get_deleted_objects(
        self, objs: QuerySet[SubscriptionPoint] | Sequence[SubscriptionPoint], request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[str]]:
        """What deleting ``objs`` removes, counted instead of Django's list of
        every signup (a point may have taken thousands)."""
        to_delete: list[Any] = []
        counts: Counter[str] = Counter()
        for point in objs:
            counts["subscription points"] += 1
            signups = point.signups.count()
            fields = point.fields.count()
            counts["signups"] += signups
            counts["fields asked"] += fields
            to_delete.extend(
                [
                    f"Subscription point: {point}",
                    [
                        f"{signups} signups (its report's history; the contacts stay)",
                        f"{fields} fields it asks for (the list's profile fields stay)",
                    ],
                ]
            )
        return to_delete, dict(counts), set(), []
