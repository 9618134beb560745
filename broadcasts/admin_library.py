"""Campaigns and saved audiences in the admin. Every write goes through
``broadcasts.library``.

A campaign is a name and its list; its page and the campaigns' list say how
many broadcasts each groups. A saved audience's conditions are built with the
filter builder of Go To steps (``conductor.filters.builder``), profile fields
only, with its live count of the subscribed contacts matching now; a new
audience's list is chosen first (``?list=<id>``), since the conditions are
on its fields. The audiences' list shows each one's conditions in words but
no count: a count per row would scan the contacts once per row.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode

from broadcasts.library import (
    check_audience_name_free,
    checked_criteria,
    create_campaign,
    create_saved_audience,
    delete_campaign,
    delete_saved_audience,
    rename_campaign,
    update_saved_audience,
)
from broadcasts.models import Campaign, SavedAudience
from conductor.filters import criteria_q, parse_criteria
from conductor.filters.builder import CriteriaBuilder, builder_data
from conductor.filters.words import criteria_words
from conductor.steps.context import Names
from contacts.models import Contact, SubscriptionState
from lists.admin import DeletesThroughServices, adopt
from lists.models import List, ProfileField
from lists.services import NameTaken

# --- Campaigns ---------------------------------------------------------------------------


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = ["name", "list"]
        help_texts = {
            "name": "Groups broadcasts in reports; Segment gets it as campaign_name.",
            "list": "The list whose broadcasts it groups.",
        }


@admin.register(Campaign)
class CampaignAdmin(DeletesThroughServices):
    form = CampaignForm
    list_display = ["name", "list", "broadcast_count", "created_at"]
    list_filter = ["list"]
    list_select_related = ["list"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return super().get_queryset(request).annotate(broadcast_count=Count("broadcasts"))

    def get_fields(self, request: HttpRequest, obj: Campaign | None = None) -> tuple[str, ...]:
        return ("name", "list", "broadcast_count", "created_at") if obj else ("name", "list")

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        # A campaign groups the broadcasts of one list: it stays in it.
        return ["list", "broadcast_count", "created_at"] if obj else []

    @admin.display(description="Broadcasts", ordering="broadcast_count")
    def broadcast_count(self, obj: Campaign) -> int:
        return getattr(obj, "broadcast_count", 0)

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        if change:
            rename_campaign(campaign=obj, name=form.cleaned_data["name"])
        else:
            adopt(obj, create_campaign(email_list=obj.list, name=obj.name))

    def delete_model(self, request: HttpRequest, obj: Campaign) -> None:
        delete_campaign(campaign=obj)  # its broadcasts stay, in no campaign


# --- Saved audiences -------------------------------------------------------------------


def audience_builder_data(email_list: List, *, count_url: str) -> dict[str, Any]:
    """What the filter builder offers for an audience of ``email_list``:
    its profile fields (no engagement: that counts a conversation's emails),
    in an audience's words, counting at ``count_url``."""
    return {
        **builder_data(email_list, conversation_id=None, count_url=count_url),
        "noConditions": "No conditions yet: add one to say who is in this audience.",
        "everyoneWords": "Without conditions, the audience would be all ",
    }


def field_names(list_id: int) -> Names:
    """The names and types of a list's profile fields, to put criteria in words."""
    rows = list(ProfileField.objects.filter(list_id=list_id).values_list("pk", "name", "data_type"))
    return Names(
        messages={},
        fields={pk: name for pk, name, _ in rows},
        pools={},
        events={},
        steps={},
        field_types={pk: data_type for pk, _, data_type in rows},
    )


class SavedAudienceForm(forms.ModelForm):
    """The name, and the conditions as the builder's rows; what the form
    submits is their JSON (Listrak's filter shape), checked as a Go To
    step's criteria are. The admin sets the list (``email_list``)."""

    email_list: ClassVar[List]
    count_url: ClassVar[str]

    criteria = forms.CharField(
        required=False,
        label="Contacts who match",
        widget=CriteriaBuilder(),
        help_text=(
            "Conditions on the list's profile fields. A broadcast sent to this audience "
            "goes to the subscribed contacts matching them when it starts sending."
        ),
    )

    class Meta:
        model = SavedAudience
        fields = ["name"]
        help_texts = {"name": "How broadcasts name this audience; each name once per list."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.instance.list = self.email_list  # shown on the add page
        if "criteria" in self.fields:
            saved = self.instance.criteria  # as JSON text, not the model form's dict
            self.initial["criteria"] = json.dumps(saved, indent=2) if saved else ""
            widget = self.fields["criteria"].widget
            assert isinstance(widget, CriteriaBuilder)  # declared above
            widget.data = audience_builder_data(self.email_list, count_url=self.count_url)

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        try:
            check_audience_name_free(email_list=self.email_list, name=name, audience=self.instance)
        except NameTaken as taken:
            raise ValidationError(taken.worded()) from None
        return name

    def clean_criteria(self) -> dict[str, Any]:
        text = self.cleaned_data["criteria"].strip()
        try:
            data = json.loads(text) if text else {}
        except json.JSONDecodeError as error:
            raise ValidationError(f"Criteria are not valid JSON: {error}.") from error
        try:
            return checked_criteria(email_list=self.email_list, criteria=data)
        except ValidationError as refused:
            # Each problem names its place in the criteria: the builder shows it on its row.
            raise ValidationError(refused.messages) from None

    def full_clean(self) -> None:
        super().full_clean()
        if "criteria" in self.fields:
            widget = self.fields["criteria"].widget
            assert isinstance(widget, CriteriaBuilder)
            widget.data = {**widget.data, "errors": list(self.errors.get("criteria", []))}


@admin.register(SavedAudience)
class SavedAudienceAdmin(DeletesThroughServices):
    form = SavedAudienceForm
    list_filter = ["list"]
    list_select_related = ["list"]
    search_fields = ["name"]

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        names: dict[int, Names] = {}  # one query per list on the page

        @admin.display(description="Conditions")
        def conditions(obj: SavedAudience) -> str:
            if obj.list_id not in names:
                names[obj.list_id] = field_names(obj.list_id)
            return criteria_words(obj.criteria, names[obj.list_id])

        return ["name", "list", conditions, "last_changed"]

    # --- The page ------------------------------------------------------------------------

    def _may_change(self, request: HttpRequest, obj: SavedAudience | None) -> bool:
        return obj is None or self.has_change_permission(request, obj)

    def get_fields(self, request: HttpRequest, obj: SavedAudience | None = None) -> tuple[str, ...]:
        if not self._may_change(request, obj):
            return ("name", "list", "conditions", "matches_now", "last_changed")
        return ("name", "list", "criteria", "last_changed") if obj else ("list", "name", "criteria")

    def get_readonly_fields(
        self, request: HttpRequest, obj: SavedAudience | None = None
    ) -> list[str]:
        if not self._may_change(request, obj):
            return list(self.get_fields(request, obj))
        # The conditions are on the list's fields: an audience stays in its list.
        return ["list", "last_changed"] if obj else ["list"]

    def get_form(
        self, request: HttpRequest, obj: SavedAudience | None = None, change: bool = False, **kwargs
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        email_list = obj.list if obj is not None else self.chosen_list(request)
        assert email_list is not None  # add_view asks for the list first
        count_url = reverse("admin:broadcasts_savedaudience_criteria_count", args=[email_list.pk])
        attrs = {"email_list": email_list, "count_url": count_url}
        return type(form.__name__, (form,), attrs)

    @admin.display(description="Last changed", ordering="modified_at")
    def last_changed(self, obj: SavedAudience) -> Any:
        return obj.modified_at

    @admin.display(description="Conditions")
    def conditions(self, obj: SavedAudience) -> str:
        return criteria_words(obj.criteria, field_names(obj.list_id))

    @admin.display(description="Subscribed contacts matching now")
    def matches_now(self, obj: SavedAudience) -> str:
        try:
            criteria = parse_criteria(obj.list, obj.criteria)
        except ValidationError as error:  # a field deleted since
            return "No count: the conditions no longer apply. " + " ".join(error.messages)
        contacts = Contact.objects.filter(list=obj.list_id, state=SubscriptionState.SUBSCRIBED)
        return f"{contacts.filter(criteria_q(criteria)).count():,}"

    def save_model(self, request: HttpRequest, obj: SavedAudience, form: Any, change: bool) -> None:
        name, criteria = form.cleaned_data["name"], form.cleaned_data["criteria"]
        if change:
            update_saved_audience(audience=obj, name=name, criteria=criteria)
        else:
            adopt(obj, create_saved_audience(email_list=obj.list, name=name, criteria=criteria))

    def delete_model(self, request: HttpRequest, obj: SavedAudience) -> None:
        delete_saved_audience(audience=obj)  # refused while a broadcast has chosen it

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[str]]:
        # Broadcasts that chose the audience keep it: deleting it is refused
        # for that, whoever asks, not for a permission to delete broadcasts
        # (which Django would ask of what protects it too).
        to_delete, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        return to_delete, counts, set() if protected else perms_needed, protected

    # --- A new audience's list -------------------------------------------------------------

    @staticmethod
    def chosen_list(request: HttpRequest) -> List | None:
        raw = request.GET.get("list", "")
        return List.objects.filter(pk=raw).first() if raw.isascii() and raw.isdigit() else None

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied  # before showing any list
        if self.chosen_list(request) is None:
            return self.choose_list(request)
        return super().add_view(request, form_url, extra_context)

    def choose_list(self, request: HttpRequest) -> HttpResponse:
        """The page asking which list a new audience is of (straight on
        when there is only one)."""
        lists = list(List.objects.order_by("name", "id"))
        add_url = reverse("admin:broadcasts_savedaudience_add")
        if len(lists) == 1:
            return HttpResponseRedirect(f"{add_url}?{urlencode({'list': lists[0].pk})}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Choose the list of the new saved audience",
            "subtitle": None,
            "choices": [(f"{add_url}?{urlencode({'list': each.pk})}", each) for each in lists],
        }
        return TemplateResponse(request, "admin/broadcasts/savedaudience/choose_list.html", context)

    # --- The live count ------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        count = path(
            "criteria-count/<int:list_id>/",
            self.admin_site.admin_view(self.criteria_count),
            name="broadcasts_savedaudience_criteria_count",
        )
        return [count, *super().get_urls()]  # first: it is no audience's id

    def criteria_count(self, request: HttpRequest, list_id: int) -> HttpResponse:
        """``{"count": N}``: the list's subscribed contacts matching the
        criteria (``?criteria=<json>``, or POSTed when too long for an
        address); ``{"error": …, "problems": […]}`` when they are wrong."""
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        if not (
            self.has_view_permission(request)
            or self.has_add_permission(request)
            or self.has_change_permission(request)
        ):
            raise PermissionDenied("Counting contacts needs a permission on saved audiences.")
        email_list = get_object_or_404(List, pk=list_id)
        source = request.POST if request.method == "POST" else request.GET
        text = source.get("criteria", "").strip()
        contacts = Contact.objects.filter(list=email_list, state=SubscriptionState.SUBSCRIBED)
        if not text:
            return JsonResponse({"count": contacts.count()})
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as error:
            return _problems([f"Criteria are not valid JSON: {error}."])
        if not isinstance(data, dict):
            return _problems(["Criteria must be a JSON object (a Listrak filter)."])
        try:
            criteria = parse_criteria(email_list, data)
        except ValidationError as error:
            return _problems(error.messages)
        return JsonResponse({"count": contacts.filter(criteria_q(criteria)).count()})


def _problems(problems: list[str]) -> JsonResponse:
    return JsonResponse({"error": " ".join(problems), "problems": problems}, status=400)
