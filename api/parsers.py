"""The only request body the API reads: a bounded, well-formed JSON document."""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


class StrictJSONParser(JSONParser):
    """JSON with a size limit (the view's ``max_body_bytes``), strict UTF-8, no
    NaN or Infinity and no repeated keys: anything else is a clear 400 or 413
    before a single value reaches a serializer."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        view = (parser_context or {}).get("view")
        limit = getattr(view, "max_body_bytes", settings.API_MAX_BODY_BYTES)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestDataTooBig(f"The request body is larger than the {limit:,} bytes allowed.")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ParseError(
                f"The request body is not UTF-8 (byte {error.start}): send UTF-8 JSON."
            ) from None
        if not text.strip():
            raise ParseError("The request body is empty; send a JSON document.")
        try:
            data = json.loads(
                text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates
            )
        except json.JSONDecodeError as error:
            raise ParseError(
                f"The request body is not valid JSON: {error.msg} "
                f"(line {error.lineno}, column {error.colno})."
            ) from None
        except (ValueError, RecursionError) as error:
            raise ParseError(f"The request body is not valid JSON: {error}.") from None
        if _LONE_SURROGATE.search(raw):
            _check_surrogates(data)
        return data


# A \uD800-\uDFFF escape: JSON allows one alone, text (and PostgreSQL) does not.
_LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _check_surrogates(data: Any) -> None:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError(
            "The request body holds an unpaired UTF-16 surrogate escape (\\uD800-\\uDFFF); "
            "send whole characters."
        ) from None
