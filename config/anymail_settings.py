"""django-anymail's settings (the ``ANYMAIL`` dict), read from the
environment: every ``ANYMAIL_<NAME>`` variable becomes ``ANYMAIL["<NAME>"]``.

So each email service's own settings pass through as anymail names them
(``ANYMAIL_POSTMARK_SERVER_TOKEN``, ``ANYMAIL_MAILGUN_API_KEY``, …) without
this platform listing them. ``true`` and ``false`` become booleans, and a value
starting with ``{`` or ``[`` is read as JSON (``ANYMAIL_AMAZON_SES_CLIENT_PARAMS``);
every other value is kept as written. An empty variable counts as unset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

PREFIX = "ANYMAIL_"
#: The shortest password of ANYMAIL_WEBHOOK_SECRET: whoever guesses it can
#: bounce and unsubscribe contacts (as with EMAIL_FEEDBACK_SECRET).
SHORTEST_PASSWORD = 16


def anymail_settings(environ: Mapping[str, str]) -> dict[str, object]:
    """The ``ANYMAIL`` setting from ``environ``; a bad value stops the start
    with a message naming its variable."""
    found: dict[str, object] = {}
    for variable, raw in sorted(environ.items()):
        name = variable.removeprefix(PREFIX)
        value = raw.strip()
        if not variable.startswith(PREFIX) or not name or not value:
            continue
        found[name] = _value(variable, value)
    if "WEBHOOK_SECRET" in found:
        _check_webhook_secret(found["WEBHOOK_SECRET"])
    return found


def _value(variable: str, value: str) -> object:
    if value.lower() in {"true", "false"}:
        return value.lower() == "true"
    if value[0] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ImproperlyConfigured(
                f"Environment variable {variable} is invalid: it starts like JSON but is "
                f"not ({error})."
            ) from None
    return value


def _check_webhook_secret(secret: object) -> None:
    # One "user:password", or a JSON list of them while changing it at the service.
    secrets = secret if isinstance(secret, list) else [secret]
    for one in secrets:
        user, colon, password = str(one).partition(":") if isinstance(one, str) else ("", "", "")
        if not (user and colon and len(password) >= SHORTEST_PASSWORD):
            raise ImproperlyConfigured(
                f"Environment variable {PREFIX}WEBHOOK_SECRET is invalid: expected "
                f'"user:password" with a password of at least {SHORTEST_PASSWORD} random '
                "characters (anyone who guesses it can unsubscribe your contacts)."
            )
