"""How many contacts Go To criteria match now, for the filter builder of a
step page: ``GET <conversation>/criteria-count/?criteria=<json>`` (or POST,
for criteria too long for an address) answers ``{"count": N}`` or
``{"error": "…"}``. Only subscribed contacts are counted: the others get
no emails from the conversation. Blank criteria match every one of them."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path

from conductor.filters import criteria_q, parse_criteria
from conductor.models import Conversation
from contacts.models import Contact, SubscriptionState


def criteria_count_urls(model_admin: ModelAdmin) -> list[URLPattern]:
    """The count's URL, for the conversation admin's ``get_urls``."""

    def view(request: HttpRequest, object_id: str) -> HttpResponse:
        return criteria_count(model_admin, request, object_id)

    return [
        path(
            "<path:object_id>/criteria-count/",
            model_admin.admin_site.admin_view(view),
            name="conductor_conversation_criteria_count",
        )
    ]


def criteria_count(model_admin: ModelAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    conversation = get_object_or_404(Conversation.objects.select_related("list"), pk=object_id)
    if not model_admin.has_view_permission(request, conversation):
        raise PermissionDenied("Counting contacts needs the permission to view conversations.")
    source = request.POST if request.method == "POST" else request.GET
    text = source.get("criteria", "").strip()
    contacts = Contact.objects.filter(list=conversation.list, state=SubscriptionState.SUBSCRIBED)
    if not text:
        return JsonResponse({"count": contacts.count()})
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        return _error([f"Criteria are not valid JSON: {error}."])
    if not isinstance(data, dict):
        return _error(["Criteria must be a JSON object (a Listrak filter)."])
    try:
        criteria = parse_criteria(conversation.list, data, conversation_id=conversation.pk)
    except ValidationError as error:
        return _error(error.messages)
    return JsonResponse({"count": contacts.filter(criteria_q(criteria)).count()})


def _error(problems: list[str]) -> JsonResponse:
    return JsonResponse({"error": " ".join(problems), "problems": problems}, status=400)
