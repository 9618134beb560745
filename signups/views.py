"""The public side of subscription points: the hosted page, the posts from
embedded forms and pop-ups, and the scripts those use.

Posts come from other sites (the shop's), so they carry no CSRF token: they
are exempt, and safe to be, because they act for nobody signed in; a staff
member's session cookie, if the browser sends one, is never looked at. Each
answers as a page (the hosted and embedded forms) or as JSON (a JSON body,
or ``Accept: application/json``: the pop-up script).
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from signups import services, throttle, tokens
from signups.forms import CONSENT, HONEYPOT, TOKEN, SignupForm, field_name, origin_of
from signups.models import SignupOutcome, SubscriptionPoint

CLOSED = "This signup form is closed."
SEND_AGAIN = "Please check your details and press the button again."
EXPIRED = "This form was open a long time; please press the button again."
#: The names of a signup form's own fields (forms.field_name and the rest).
_OURS = re.compile(r"email|token|website|consent|field_[0-9]+")
_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def _point(key: str) -> SubscriptionPoint | None:
    return (
        SubscriptionPoint.objects.select_related("list", "event")
        .filter(key=key, is_active=True)
        .first()
    )


def post_url(point: SubscriptionPoint) -> str:
    """Where forms and the pop-up post, absolute (they live on other sites)."""
    return f"{settings.PUBLIC_BASE_URL}{reverse('signup-page', kwargs={'key': point.key})}"


def _wants_json(request: HttpRequest) -> bool:
    return request.content_type == "application/json" or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", "")
    )


def _json(status: int, **body: Any) -> JsonResponse:
    return JsonResponse(body, status=status)


def _page(
    request: HttpRequest,
    point: SubscriptionPoint,
    form: SignupForm | None = None,
    *,
    note: str = "",
    status: int = 200,
) -> HttpResponse:
    form = form or SignupForm(point)
    # A fresh token each time the form is shown.
    data = form.data.copy() if isinstance(form.data, QueryDict) else dict(form.data)
    data[TOKEN] = tokens.make_token(point.key)
    if form.is_bound:
        form.data = data
    else:
        form.initial[TOKEN] = data[TOKEN]
    response = render(
        request,
        "signups/page.html",
        {"point": point, "form": form, "note": note, "honeypot": form[HONEYPOT]},
        status=status,
    )
    if point.redirect_url:
        # Browsers hold a form's redirect to the page's form-action too.
        response._csp_update = {"form-action": [origin_of(point.redirect_url)]}  # type: ignore[attr-defined]
    return response


def _thanks(request: HttpRequest, point: SubscriptionPoint, as_json: bool) -> HttpResponse:
    if as_json:
        return _json(200, ok=True, message=point.thank_you_text, redirect=point.redirect_url)
    if point.redirect_url:
        return HttpResponseRedirect(point.redirect_url, status=303)
    return render(request, "signups/thanks.html", {"point": point})


def _refusal(
    request: HttpRequest, point: SubscriptionPoint | None, as_json: bool, status: int, message: str
) -> HttpResponse:
    if as_json:
        return _json(status, ok=False, errors={"__all__": [message]})
    return render(
        request, "signups/refused.html", {"point": point, "message": message}, status=status
    )


def _client_address(request: HttpRequest) -> str:
    """The visitor's address: from the header the proxy in front sets
    (``SIGNUP_CLIENT_ADDRESS_HEADER``), else the connection's."""
    header = settings.SIGNUP_CLIENT_ADDRESS_HEADER
    if header:
        # X-Forwarded-For lists each hop; the last is the one our own proxy added.
        given = request.headers.get(header, "").split(",")[-1].strip()
        if given:
            return given
    return request.META.get("REMOTE_ADDR", "")


def _data(request: HttpRequest, form_names: set[str]) -> tuple[dict[str, Any] | QueryDict, str]:
    """The posted values and a problem with them ("" when none)."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            return {}, "The body is not valid JSON."
        if not isinstance(data, dict):
            return {}, "The body must be a JSON object of field names and values."
        bad = sorted(k for k, v in data.items() if not isinstance(v, str | int | float | bool))
        if bad:
            return (
                {},
                f"Values must be text, numbers or true/false; not those of: {', '.join(bad)}.",
            )
        data = {k: v for k, v in data.items() if v is not False}  # an unticked box is absent
    else:
        try:
            data = request.POST
        except (MultiPartParserError, SuspiciousOperation):  # no boundary; too many fields
            return {}, "The form's body could not be read."
        except BadRequest:  # a form-encoded body declared in another charset than UTF-8
            return {}, "The form's body could not be read: send it in UTF-8."
    unknown = sorted(set(data) - form_names)
    if request.content_type != "application/json":
        # Shop platforms add fields of their own to every form on their pages
        # (Magento's form_key, a CMS's nonce): an embedded form carries them here.
        # Only names of the point's own kind are the visitor's.
        unknown = [name for name in unknown if _OURS.fullmatch(name)]
    if unknown:
        return {}, f"This form does not ask for: {', '.join(unknown[:10])}."
    return data, ""


@never_cache
@csrf_exempt
@require_http_methods(["GET", "POST"])
def signup_page(request: HttpRequest, key: str) -> HttpResponse:
    point = _point(key)
    as_json = _wants_json(request)
    if point is None:
        return _refusal(request, None, as_json, 404, CLOSED)
    if request.method == "GET":
        return _page(request, point)
    length = request.headers.get("content-length", "")
    if (length.isdigit() and int(length) > settings.SIGNUP_MAX_BODY_BYTES) or len(
        request.body
    ) > settings.SIGNUP_MAX_BODY_BYTES:
        return _refusal(
            request,
            point,
            as_json,
            413,
            f"The form sent more than {settings.SIGNUP_MAX_BODY_BYTES} bytes.",
        )
    wait = throttle.over_limit(
        throttle.address_limit(_client_address(request)),
        throttle.point_limit(point.pk, point.signups_per_minute),
    )
    if wait is not None:
        minutes = max(1, round(wait / 60))
        response = _refusal(
            request,
            point,
            as_json,
            429,
            f"Too many signups from here just now; please try again in {minutes} "
            f"minute{'s' if minutes != 1 else ''}.",
        )
        response["Retry-After"] = str(wait)
        return response
    form = SignupForm(point)
    data, problem = _data(request, set(form.fields))
    if problem:
        return _refusal(request, point, as_json, 400, problem)
    form = SignupForm(point, data)
    if form.honeypot_filled:
        # A bot: it is told what a person would be, and nothing is written but the count.
        services.refuse_bot(point=point, outcome=SignupOutcome.HONEYPOT)
        return _thanks(request, point, as_json)
    check = tokens.check_token(point.key, data.get(TOKEN))
    if check != tokens.Check.OK:
        if check == tokens.Check.TOO_FAST:
            services.refuse_bot(point=point, outcome=SignupOutcome.TOO_FAST)
        note = EXPIRED if check == tokens.Check.EXPIRED else SEND_AGAIN
        if as_json:
            return _json(
                400, ok=False, errors={"__all__": [note]}, token=tokens.make_token(point.key)
            )
        return _page(request, point, form, note=note, status=400)
    if not form.is_valid():
        if as_json:
            return _json(400, ok=False, errors={k: list(v) for k, v in form.errors.items()})
        return _page(request, point, form, status=400)
    services.sign_up(
        point=point,
        email=form.cleaned_data["email"],
        values=form.cleaned_values,
        consent=bool(form.cleaned_data.get(CONSENT)),
    )
    return _thanks(request, point, as_json)


def popup_config(point: SubscriptionPoint, *, preview: bool = False) -> dict[str, Any]:
    """What the pop-up script needs to draw and post the point's form."""
    form = SignupForm(point)
    fields = [
        {
            "name": field_name(pf.field),
            "label": pf.field.name,
            "type": pf.field.data_type,
            "required": pf.required,
            "maxLength": pf.field.max_length,
        }
        for pf in form.point_fields
    ]
    return {
        "key": point.key,
        "postUrl": post_url(point),
        "token": tokens.make_token(point.key),
        "heading": point.heading,
        "intro": point.intro,
        "button": point.button_label,
        "consent": point.consent_text,
        "fields": fields,
        "opening": point.popup_opening,
        "delaySeconds": point.popup_delay_seconds,
        "honeypot": HONEYPOT,
        "preview": preview,
    }


def _script(template: str, config: dict[str, Any]) -> HttpResponse:
    text = json.dumps(config).translate(_JSON_ESCAPES)
    body = render_to_string(template, {"config": mark_safe(text)})
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-store"  # each load carries a fresh token
    return response


@csrf_exempt
@require_GET
def popup_script(request: HttpRequest, key: str) -> HttpResponse:
    """The pop-up. With ``?preview=1`` (the admin's "Show the pop-up"), for
    signed-in staff who may view points only: shown at once, posting and
    remembering nothing, and for a closed point too."""
    preview = request.GET.get("preview") == "1"
    if preview:
        # The only public path that looks at the session: staff previewing.
        user = request.user
        if not (
            user.is_active and user.is_staff and user.has_perm("signups.view_subscriptionpoint")
        ):
            return HttpResponse(
                "/* The preview is for signed-in staff who may view subscription points. */",
                content_type="text/javascript",
                status=403,
            )
        point = SubscriptionPoint.objects.select_related("list", "event").filter(key=key).first()
    else:
        point = _point(key)
    if point is None:
        return HttpResponse(
            "/* This signup form is closed. */", content_type="text/javascript", status=404
        )
    return _script("signups/popup.js", popup_config(point, preview=preview))


@require_GET
def form_script(request: HttpRequest, key: str) -> HttpResponse:
    """For the embedded form: puts a fresh token into the point's forms on the page."""
    point = _point(key)
    if point is None:
        return HttpResponse(
            "/* This signup form is closed. */", content_type="text/javascript", status=404
        )
    return _script("signups/form.js", {"key": point.key, "token": tokens.make_token(point.key)})
