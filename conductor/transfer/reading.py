"""Checking the shape of a document before anything is looked up or created:
every key known, every value of its type, names and keys unique, threads
that can be built. Each problem names its place (``threads[1].parent_step``)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from conductor.models import ChildEvent, ConversationStatus, CouponKind, TriggerKind
from conductor.steps.registry import all_units
from conductor.transfer.errors import TransferError
from conductor.transfer.exporting import FORMAT_VERSION, MESSAGE_KEYS
from lists.models import DataType

Check = Callable[[Any, str, list[str]], None]


def _text(max_length: int | None = None, *, blank: bool = True) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> None:
        if not isinstance(value, str):
            problems.append(f"{path}: must be a string, not {value!r}.")
        elif not blank and not value.strip():
            problems.append(f"{path}: must not be blank.")
        elif max_length is not None and len(value) > max_length:
            problems.append(f"{path}: at most {max_length} characters, not {len(value)}.")

    return check


def _choice(values: list[str]) -> Check:
    def check(value: Any, path: str, problems: list[str]) -> None:
        if value not in values:
            problems.append(f"{path}: must be one of {', '.join(values)}, not {value!r}.")

    return check


def _step_kind(value: Any, path: str, problems: list[str]) -> None:
    # Read when checking, not at import: kinds may be registered later.
    _choice([str(unit.kind) for unit in all_units()])(value, path, problems)


def _whole(value: Any, path: str, problems: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(f"{path}: must be a whole number from 0, not {value!r}.")


def _boolean(value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, bool):
        problems.append(f"{path}: must be true or false, not {value!r}.")


def _json_object(value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: must be an object.")


def _or_null(check: Check) -> Check:
    def nullable(value: Any, path: str, problems: list[str]) -> None:
        if value is not None:
            check(value, path, problems)

    return nullable


def _email(value: Any, path: str, problems: list[str]) -> None:
    _text(254)(value, path, problems)
    if isinstance(value, str) and value:
        try:
            validate_email(value)
        except ValidationError:
            problems.append(f"{path}: {value!r} is not an email address.")


def _date(value: Any, path: str, problems: list[str]) -> None:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        problems.append(f"{path}: must be a date as YYYY-MM-DD, not {value!r}.")


def _step_key(value: Any, path: str, problems: list[str]) -> None:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        problems.append(f"{path}: must be a step key (a UUID), not {value!r}.")


TRIGGER = {"kind": _choice(TriggerKind.values), "event": _or_null(_text(100, blank=False))}
SHAPES: dict[str, dict[str, Check]] = {
    "conversation": {"name": _text(200, blank=False), "status": _choice(ConversationStatus.values)},
    "triggers": TRIGGER,
    "profile_fields": {"name": _text(100, blank=False), "data_type": _choice(DataType.values)},
    "messages": {
        **dict.fromkeys(MESSAGE_KEYS, _text()),
        "name": _text(200, blank=False),
        "subject": _text(500),
        "from_name": _text(200),
        "from_email": _email,
    },
    "coupon_pools": {
        "name": _text(200, blank=False),
        "kind": _choice(CouponKind.values),
        "static_code": _text(100),
        "expiry_cutoff": _or_null(_date),
    },
    "threads": {
        "name": _text(100, blank=False),
        "main": _boolean,
        "position": _whole,
        "child_event": _choice(["", *ChildEvent.values]),
        "link_url": _text(2000),
        "parent_step": _or_null(_step_key),
    },
    "steps": {
        "key": _step_key,
        "thread": _whole,
        "position": _whole,
        "kind": _step_kind,
        "name": _text(100),
        "settings": _json_object,
    },
}
TOP_LEVEL = {"format", "list", *SHAPES}


def _shaped(data: Any, path: str, shape: dict[str, Check], problems: list[str]) -> bool:
    """Whether ``data`` is an object with exactly ``shape``'s keys, each valid."""
    before = len(problems)
    if not isinstance(data, dict):
        problems.append(f"{path}: must be an object.")
        return False
    problems.extend(f"{path}: unknown key {key!r}." for key in sorted(set(data) - set(shape)))
    for key, check in shape.items():
        if key not in data:
            problems.append(f"{path}.{key}: required.")
        else:
            check(data[key], f"{path}.{key}", problems)
    return len(problems) == before


def read_document(document: Any) -> dict[str, Any]:
    """``document`` itself once its shape is right; TransferError otherwise."""
    if not isinstance(document, dict):
        raise TransferError(["The file must hold one JSON object."])
    if document.get("format") != FORMAT_VERSION:
        # Another format's keys would only produce misleading problems.
        raise TransferError(
            [
                f"format: this file is format {document.get('format')!r}; only {FORMAT_VERSION} "
                "can be imported."
            ]
        )
    problems = [f"unknown key {key!r}." for key in sorted(set(document) - TOP_LEVEL)]
    problems += [f"{key}: required." for key in sorted(TOP_LEVEL - set(document))]
    if "list" in document:
        _text(200, blank=False)(document["list"], "list", problems)
    if "conversation" in document:
        _shaped(document["conversation"], "conversation", SHAPES["conversation"], problems)
    valid: dict[str, bool] = {}
    for section in ("triggers", "profile_fields", "messages", "coupon_pools", "threads", "steps"):
        items = document.get(section)
        if items is None:
            valid[section] = False  # required, or null: already a problem when absent
            if section in document:
                problems.append(f"{section}: must be a list.")
            continue
        if not isinstance(items, list):
            problems.append(f"{section}: must be a list.")
            valid[section] = False
            continue
        results = [
            _shaped(item, f"{section}[{n}]", SHAPES[section], problems)
            for n, item in enumerate(items)
        ]
        valid[section] = all(results)
    if valid["triggers"]:
        _check_triggers(document["triggers"], problems)
    for section in ("profile_fields", "messages", "coupon_pools"):
        if valid[section]:
            _unique_names(document[section], section, problems)
    if valid["coupon_pools"]:
        for n, pool in enumerate(document["coupon_pools"]):
            if pool["kind"] == CouponKind.STATIC and not pool["static_code"].strip():
                problems.append(f"coupon_pools[{n}].static_code: a Static pool needs its code.")
    if valid["threads"] and valid["steps"]:
        _check_threads(document["threads"], document["steps"], problems)
    if problems:
        raise TransferError(problems)
    return document


def _check_triggers(triggers: list[dict[str, Any]], problems: list[str]) -> None:
    seen: set[tuple[str, str]] = set()
    for n, trigger in enumerate(triggers):
        external = trigger["kind"] == TriggerKind.EXTERNAL_EVENT
        if external != (trigger["event"] is not None):
            problems.append(f"triggers[{n}].event: only an ExternalEvent trigger names an event.")
        identity = (trigger["kind"], (trigger["event"] or "").lower())
        if identity in seen:
            problems.append(f"triggers[{n}]: the same trigger twice.")
        seen.add(identity)


def _unique_names(items: list[dict[str, Any]], section: str, problems: list[str]) -> None:
    # Names are the references, compared as the database compares them: in any case.
    seen: set[str] = set()
    for n, item in enumerate(items):
        if item["name"].lower() in seen:
            problems.append(f"{section}[{n}].name: {item['name']!r} appears twice.")
        seen.add(item["name"].lower())


def _check_threads(
    threads: list[dict[str, Any]], steps: list[dict[str, Any]], problems: list[str]
) -> None:
    """One main thread; child threads hang off steps that exist; steps in
    threads that exist, with unique keys; and every thread can be built,
    which a thread hanging off its own step (or its descendant's) cannot."""
    mains = [n for n, thread in enumerate(threads) if thread["main"]]
    if len(mains) != 1:
        problems.append(f"threads: exactly one must be the main thread, not {len(mains)}.")
    step_thread: dict[str, int] = {}
    for n, step in enumerate(steps):
        if step["thread"] >= len(threads):
            problems.append(f"steps[{n}].thread: there is no threads[{step['thread']}].")
        key = str(uuid.UUID(step["key"]))
        if key in step_thread:
            problems.append(f"steps[{n}].key: {step['key']} appears twice.")
        step_thread[key] = step["thread"]
    parents: dict[int, int] = {}
    for n, thread in enumerate(threads):
        where = f"threads[{n}]"
        parent = thread["parent_step"]
        if thread["main"]:
            if parent is not None or thread["child_event"]:
                problems.append(f"{where}: the main thread has no parent_step or child_event.")
            continue
        if parent is None or not thread["child_event"]:
            problems.append(f"{where}: a child thread needs a parent_step and a child_event.")
        elif str(uuid.UUID(parent)) not in step_thread:
            problems.append(f"{where}.parent_step: no step has the key {parent}.")
        else:
            parents[n] = step_thread[str(uuid.UUID(parent))]
    # Built from the main thread outwards, as the import will build them.
    built = set(mains)
    while grown := {n for n, parent in parents.items() if parent in built} - built:
        built |= grown
    for n in sorted(set(parents) - built):
        problems.append(
            f"threads[{n}].parent_step: the thread hangs off its own step, or off a step "
            "of a thread hanging off it."
        )
