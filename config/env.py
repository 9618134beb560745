"""Reading settings from the environment, strictly.

django-environ parses the values; these helpers add what it does not do:
a bad value stops the process at start with a message naming the variable,
instead of silently turning ``DEBUG=ture`` into ``False``.
"""

from __future__ import annotations

import importlib.util
import re
import zoneinfo
from collections.abc import Callable
from typing import TypeVar

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

T = TypeVar("T")

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_DOTTED_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def _raw(name: str) -> str | None:
    value = env.str(name, default=None)
    return None if value is None else value.strip()


def _fail(name: str, value: str, expected: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"Environment variable {name}={value!r} is invalid: {expected}.")


def env_bool(name: str, *, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _fail(name, value, "expected one of true/false, yes/no, on/off, 1/0")


def env_int(name: str, *, default: int, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise _fail(name, value, "expected a whole number") from None
    if minimum is not None and number < minimum:
        raise _fail(name, value, f"expected a number of at least {minimum}")
    return number


def env_str(name: str, *, default: str) -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_list(name: str, *, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_time_zone(name: str, *, default: str) -> str:
    value = env_str(name, default=default)
    # The names a list's time zone may take (lists.models.time_zone_names), not any tz file.
    if value not in zoneinfo.available_timezones():
        raise _fail(name, value, "expected an IANA time zone such as UTC or Europe/Paris")
    return value


def env_parsed(name: str, *, default: str, parse: Callable[[str], T], expected: str) -> T:
    """Parse a URL-like value with django-environ, naming the variable when it is bad."""
    value = env_str(name, default=default)
    try:
        return parse(value)
    except Exception as exc:  # environ raises several types for a bad URL
        raise _fail(name, value, f"{expected} ({exc})") from None


def env_dotted_path(name: str) -> str:
    """A class named by its dotted path (``package.module.Class``), or ""
    when unset. Its module must exist, but is not run here: settings are
    still loading, and the module may read them. ``import_dotted_path``
    imports the class once the apps are ready."""
    value = env_str(name, default="")
    if not value:
        return ""
    expected = "expected the dotted path of a class, such as emails.mailbox.MailboxBackend"
    if not _DOTTED_PATH.fullmatch(value):
        raise _fail(name, value, expected)
    module = value.rpartition(".")[0]
    try:
        found = importlib.util.find_spec(module)  # runs the parent packages only
    except Exception as exc:  # a parent that is missing, or fails as it loads
        raise _fail(name, value, f"{expected} (cannot import {module}: {exc})") from None
    if found is None:
        raise _fail(name, value, f"{expected} (there is no module {module})")
    return value


def import_dotted_path(name: str, value: str) -> object:
    """What ``value``, the dotted path environment variable ``name`` gave,
    names; a path that cannot be imported names the variable."""
    try:
        return import_string(value)
    except ImportError as exc:
        raise _fail(name, value, f"cannot import it ({exc})") from None
