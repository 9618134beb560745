"""``route("List/<list_id>/Contact", view)``: a path that also matches with a
trailing slash, as Listrak's routes do."""

from __future__ import annotations

import re
from typing import Any

from django.urls import URLPattern, re_path

_PARAM = re.compile(r"<(\w+)>")


def route(pattern: str, view: Any, name: str | None = None) -> URLPattern:
    regex = _PARAM.sub(r"(?P<\1>[^/]+)", pattern)
    return re_path(rf"^{regex}/?$", view, name=name)
