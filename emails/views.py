"""Public pages behind the links of sent emails (``emails.tracking``):
the open pixel, tracked links, the browser and pass-along versions, and the
unsubscribe page with its RFC 8058 one-click POST. A forged or altered link
gets a 404 and records nothing."""

from __future__ import annotations

import base64
import hmac
import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template import Context, Template
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from contacts.models import SubscriptionState
from emails import feedback
from emails.models import Delivery
from emails.render import render as render_email
from emails.render import rendered_fields
from emails.tracking import engagement
from emails.tracking.link_text import is_tracked, rendered_problem

#: A transparent 1 by 1 pixel GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _visitor(request: HttpRequest) -> engagement.Visitor:
    return engagement.Visitor(
        ip=request.META.get("REMOTE_ADDR", ""),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )


def _delivery(kind: str, token: str) -> Delivery:
    delivery = engagement.delivery_for(kind, token)
    if delivery is None:
        raise Http404("This link is not valid.")
    return delivery


@never_cache
@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    engagement.record_open(_delivery("open", token), _visitor(request))
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    found = engagement.link_for(token)
    if found is None:
        raise Http404("This link is not valid.")
    delivery, link = found
    context = rendered_fields(delivery)
    url = Template(link.url).render(Context(context, autoescape=False)).strip()
    # Only where the template itself says: a profile value must never pick the host.
    if not is_tracked(url) or rendered_problem(link.url, url) is not None:
        raise Http404("This link is not valid.")
    engagement.record_click(delivery, _visitor(request), link=link, url=url)
    return HttpResponseRedirect(url)


@never_cache
@require_GET
def browser_version(request: HttpRequest, token: str) -> HttpResponse:
    """The email as a web page, from its "view in your browser" link."""
    return _email_page(request, token, link="view", click="browser")


@never_cache
@require_GET
def pass_along(request: HttpRequest, token: str) -> HttpResponse:
    """The email as a web page, from its "forward to a friend" link."""
    return _email_page(request, token, link="share", click="pass_along")


#: An email shown on this site: its own inline styles, images and fonts from
#: anywhere (as a mail client shows them), and no script at all.
EMAIL_PAGE_POLICY = {
    "default-src": ["'none'"],
    "img-src": ["*", "data:"],
    "style-src": ["'unsafe-inline'", "*"],
    "font-src": ["*", "data:"],
    "script-src": ["'none'"],
    "form-action": ["'none'"],
}


def _email_page(request: HttpRequest, token: str, *, link: str, click: str) -> HttpResponse:
    """The email of the ``link`` token's delivery as a page, its visit
    recorded as a click of kind ``click``."""
    delivery = _delivery(link, token)
    engagement.record_click(delivery, _visitor(request), kind=click)
    rendered = render_email(delivery, pixel=False)
    if rendered.html:
        response = HttpResponse(rendered.html, content_type="text/html; charset=utf-8")
    else:
        response = HttpResponse(rendered.text, content_type="text/plain; charset=utf-8")
    response._csp_replace = EMAIL_PAGE_POLICY  # type: ignore[attr-defined]  # django-csp's per-response policy
    return response


@never_cache
@csrf_exempt  # mail providers POST here (RFC 8058); the signed token is the authority
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks, POST unsubscribes: link scanners that fetch every URL of a
    message must not unsubscribe anyone. A POST whose body is
    ``List-Unsubscribe=One-Click`` is a mail provider's one-click request."""
    delivery = _delivery("unsubscribe", token)
    contact = delivery.contact
    context = {"email": contact.email, "list_name": contact.list.name}
    if request.method == "GET":
        template = (
            "emails/tracking/unsubscribed.html"
            if contact.state in (SubscriptionState.UNSUBSCRIBED, SubscriptionState.NEVER_SUBSCRIBED)
            else "emails/tracking/unsubscribe.html"
        )
        return render(request, template, context)
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    engagement.unsubscribe(delivery, one_click=one_click)
    return render(request, "emails/tracking/unsubscribed.html", context)


@csrf_exempt  # a server-to-server call, authenticated by its bearer secret
@require_http_methods(["POST"])
def email_feedback(request: HttpRequest) -> HttpResponse:
    """The bounce and complaint webhook: ``Authorization: Bearer
    <EMAIL_FEEDBACK_SECRET>`` and a JSON body of reports (see
    ``emails.feedback``). A bad request names every problem and
    changes nothing."""
    secret = settings.EMAIL_FEEDBACK_SECRET
    if not secret:
        return JsonResponse({"error": "The email feedback webhook is turned off."}, status=404)
    # The scheme is required (the bare secret is no credential) and, as in
    # every HTTP auth scheme, matched without regard to case.
    scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), secret.encode()
    ):
        refused = JsonResponse({"error": "Missing or wrong bearer secret."}, status=401)
        refused["WWW-Authenticate"] = 'Bearer realm="email-feedback"'
        return refused
    try:
        payload = json.loads(request.body)
    except RequestDataTooBig:
        return JsonResponse({"error": "The body is too large."}, status=413)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return JsonResponse({"error": f"The body is not JSON: {error}"}, status=400)
    try:
        reports = feedback.parse_reports(payload)
    except ValidationError as error:
        return JsonResponse({"errors": error.messages}, status=400)
    unsubscribed = feedback.apply_reports(reports)
    return JsonResponse({"processed": len(reports), "unsubscribed": unsubscribed})
