"""The broadcast and split test pages' own views, besides Django's: how many
contacts an audience reaches now (JSON, for the page's script and the
filter builder), a broadcast's or split test's progress (JSON, refreshed
while it sends), the list to write a new one for, and the buttons that
unschedule, cancel and schedule. Each checks its permission first."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode

from broadcasts.audiences import matching_contacts
from broadcasts.models import SavedAudience
from conductor.filters import parse_criteria
from lists.models import List

#: Who may count an audience: whoever may see, write or change a broadcast or split test.
COUNT_PERMISSIONS = [
    f"broadcasts.{action}_{model}"
    for model in ("broadcast", "splittest")
    for action in ("view", "add", "change")
]


def audience_count(request: HttpRequest, list_id: int) -> HttpResponse:
    """``{"count": N}``: the list's subscribed contacts the audience reaches
    now (``?audience=everyone|saved|criteria``, ``saved_audience=<id>``,
    ``criteria=<json>``; the filter builder sends the criteria alone), or
    ``{"error": "…", "problems": [...]}`` naming what is wrong."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    if not any(request.user.has_perm(name) for name in COUNT_PERMISSIONS):
        raise PermissionDenied("Counting an audience needs a permission on broadcasts.")
    email_list = get_object_or_404(List, pk=list_id)
    source = request.POST if request.method == "POST" else request.GET
    audience = source.get("audience", "criteria")
    if audience == "everyone":
        return JsonResponse({"count": matching_contacts(email_list, criteria={}).count()})
    if audience == "saved":
        return _count_saved(email_list, source.get("saved_audience", ""))
    text = source.get("criteria", "").strip()
    if not text:
        return JsonResponse({"count": matching_contacts(email_list, criteria={}).count()})
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        return _error([f"The conditions are not valid JSON: {error}."])
    if not isinstance(data, dict):
        return _error(["The conditions must be a JSON object (a Listrak filter)."])
    try:
        parse_criteria(email_list, data)
    except ValidationError as error:
        return _error(error.messages)
    return JsonResponse({"count": matching_contacts(email_list, criteria=data).count()})


def _count_saved(email_list: List, asked: str) -> JsonResponse:
    if not asked:
        return _error(["Choose a saved audience."])
    saved = (
        SavedAudience.objects.filter(list=email_list, pk=int(asked)).first()
        if asked.isascii() and asked.isdigit()
        else None
    )
    if saved is None:
        return _error([f"The list {email_list} has no saved audience {asked}."])
    try:
        contacts = matching_contacts(email_list, criteria={}, saved_audience=saved)
        return JsonResponse({"count": contacts.count()})
    except ValidationError as error:
        return _error([f"The saved audience “{saved}” no longer fits the list:", *error.messages])


def _error(problems: list[str]) -> JsonResponse:
    return JsonResponse({"error": " ".join(problems), "problems": problems}, status=400)


def choose_list(model_admin: ModelAdmin, request: HttpRequest) -> HttpResponse | None:
    """The add page's first question, which list it is for: None when
    ``?list=`` names one (the form follows), a redirect when there is one
    list only, else a page of the lists to choose from."""
    asked = request.GET.get("list", "")
    if asked.isascii() and asked.isdigit() and List.objects.filter(pk=int(asked)).exists():
        return None
    lists = list(List.objects.order_by("name", "pk"))
    here = request.path
    if len(lists) == 1 and not asked:
        return HttpResponseRedirect(f"{here}?{urlencode({'list': lists[0].pk})}")
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": f"New {opts.verbose_name}: which list?",
        "lists": [(f"{here}?{urlencode({'list': item.pk})}", item) for item in lists],
        "not_found": asked,
    }
    return TemplateResponse(request, "admin/broadcasts/choose_list.html", context)


def asked_list(request: HttpRequest) -> List:
    """The list ``?list=`` names (``choose_list`` made sure of it); a 404 for
    anything else, such as a hand-made URL."""
    asked = request.GET.get("list", "")
    found = (
        List.objects.filter(pk=int(asked)).first() if asked.isascii() and asked.isdigit() else None
    )
    if found is None:
        raise Http404("No such list.")
    return found


def post_only(request: HttpRequest) -> HttpResponse | None:
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


def refused(request: HttpRequest, error: ValidationError, *, before: str = "") -> None:
    """Each problem of ``error`` as an error message on the next page."""
    for problem in error.messages:
        messages.error(request, f"{before}{problem}")


def back_to(model_admin: ModelAdmin, object_id: Any) -> HttpResponseRedirect:
    opts = model_admin.model._meta
    return HttpResponseRedirect(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
    )
