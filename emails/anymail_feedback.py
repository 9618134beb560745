"""Bounces and complaints reported by an email service's own webhooks
(``/anymail/<service>/tracking/``: Postmark, Mailgun, SendGrid, Amazon SES
and the others django-anymail knows), applied by the rules of
``emails.feedback`` as the platform's own webhook's reports are.

Anymail checks each request (the ``ANYMAIL_WEBHOOK_SECRET`` basic auth, and
the service's signature where it signs) and turns it into events of one
shape (its ``tracking`` signal). Of those:

- ``bounced``: a hard bounce, unless the service says the failure was
  temporary (Postmark ``SoftBounce``, Amazon SES ``Transient`` or
  ``Undetermined``, SendGrid ``blocked``): then a soft bounce.
- ``rejected`` because the address is invalid or bounced before: a hard bounce.
- ``complained``: a complaint.
- anything else (delivered, deferred, opened, …) changes nothing: opens and
  clicks come through the email's own tracked links.

The email is found by the ``delivery_id`` metadata it was sent with
(``emails.render.build_email``), or else by its ``Message-ID`` when the
service reports that one. An event about no email this platform sent, or
about another address than the email went to, is logged and ignored: the
service is answered 200 (retrying would not help) and nothing changes. A
service reports each email's fate once: a repeat of an event already
recorded for that email changes nothing.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from anymail.exceptions import AnymailConfigurationError
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern
from django.views.decorators.csrf import csrf_exempt

from emails.feedback import MAX_REASON, Claim, Report, apply_reports, check_claims, delivery_id_of

logger = logging.getLogger(__name__)

#: Anymail's reasons for refusing to send that mean the address is no good.
BAD_ADDRESS = (RejectReason.INVALID, RejectReason.BOUNCED)


def record_tracking_event(event: AnymailTrackingEvent, esp_name: str, **_: object) -> None:
    """The receiver of anymail's ``tracking`` signal: apply a bounce or a
    complaint about an email of this platform; log and ignore what names
    none."""
    kind = report_kind(event, esp_name)
    if kind is None:
        return
    delivery_id = _delivery_id(event)
    if delivery_id is None:
        logger.warning(
            "emails: ignored a %s %s event for %s: it names no email this platform sent "
            "(message %s, metadata %s).",
            esp_name,
            event.event_type,
            event.recipient,
            event.message_id,
            event.metadata,
        )
        return
    claim = Claim(
        delivery_id=delivery_id,
        email=event.recipient or "",
        kind=kind,
        reason=_reason(event),
        named_as=f"delivery id {delivery_id}",
    )
    (checked,) = check_claims([claim], service=esp_name)
    if not isinstance(checked, Report):
        field, problem = checked
        logger.warning(
            "emails: ignored a %s %s event: %s: %s", esp_name, event.event_type, field, problem
        )
        return
    apply_reports([checked])


def report_kind(event: AnymailTrackingEvent, esp_name: str) -> str | None:
    """The ``emails.feedback`` kind of report ``event`` makes, or None."""
    if event.event_type == EventType.COMPLAINED:
        return "complaint"
    if event.event_type == EventType.REJECTED and event.reject_reason in BAD_ADDRESS:
        return "hard_bounce"
    if event.event_type == EventType.BOUNCED:
        raw = event.esp_event if isinstance(event.esp_event, Mapping) else {}
        temporary = _TEMPORARY.get(esp_name, lambda _raw: False)(raw)
        return "soft_bounce" if temporary else "hard_bounce"
    return None


#: Services whose ``bounced`` events include failures the service calls
#: temporary, and how their own event says so.
_TEMPORARY: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "Postmark": lambda raw: raw.get("Type") != "HardBounce",
    "Amazon SES": lambda raw: (raw.get("bounce") or {}).get("bounceType") != "Permanent",
    "SendGrid": lambda raw: raw.get("type") == "blocked",
}


def _delivery_id(event: AnymailTrackingEvent) -> int | None:
    metadata = event.metadata if isinstance(event.metadata, Mapping) else {}
    given = str(metadata.get("delivery_id", "")).strip()
    if given.isascii() and given.isdigit() and len(given) <= 18:
        return int(given)
    if isinstance(event.message_id, str):
        return delivery_id_of(event.message_id)
    return None


def _reason(event: AnymailTrackingEvent) -> str:
    reason = event.mta_response or event.description or ""
    return " ".join(str(reason).split())[:MAX_REASON]


# --- The webhook URLs ------------------------------------------------------------


def tracking_urls() -> list[URLPattern]:
    """Anymail's tracking webhook URLs (``<service>/tracking/``; not its
    inbound ones: this platform receives no mail), each answering 404 until
    ANYMAIL_WEBHOOK_SECRET is set: anymail itself would only warn."""
    from anymail import urls

    return [
        URLPattern(url.pattern, _guarded(url.callback, url.name), url.default_args, url.name)
        for url in urls.urlpatterns
        if isinstance(url, URLPattern) and url.name and url.name.endswith("_tracking_webhook")
    ]


def _guarded(view: Callable[..., HttpResponse], name: str) -> Callable[..., HttpResponse]:
    service = name.removesuffix("_tracking_webhook")

    @csrf_exempt  # a server-to-server call, authenticated by anymail
    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET"):
            return JsonResponse(
                {"error": "The email service webhooks are turned off: set ANYMAIL_WEBHOOK_SECRET."},
                status=404,
            )
        try:
            return view(request, *args, **kwargs)
        except AnymailConfigurationError as error:  # a missing key, or the wrong webhook
            logger.warning("emails: the %s webhook is not set up: %s", service, error)
            message = " ".join(str(error).split())
            return JsonResponse(
                {"error": f"The {service} webhook is not set up: {message}"}, status=404
            )
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
            # Anymail reads the body as the service writes it; anything else fails there.
            logger.warning("emails: a %s webhook body was not understood", service, exc_info=True)
            return JsonResponse(
                {"error": f"The body is not a {service} tracking webhook: {error!r}"}, status=400
            )

    return guarded
