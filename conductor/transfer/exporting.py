"""Building the portable document of one version of a conversation."""

from __future__ import annotations

import json
from typing import Any

from conductor.models import CouponPool, Step, Thread, Trigger, Version
from conductor.steps.unit import unit_of
from conductor.transfer.errors import TransferError
from conductor.transfer.references import EVENT, FIELD, MESSAGE, POOL, swap_settings
from emails.models import Message
from lists.models import Event, ProfileField

FORMAT_VERSION = 1
MESSAGE_KEYS = ("name", "subject", "html_body", "text_body", "from_name", "from_email")


def dump(document: dict[str, Any]) -> str:
    """The document as text: sorted keys and fixed indentation, so that two
    exports of the same conversation are byte-identical and diff line by line."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def trigger_reference(trigger: Trigger) -> dict[str, str | None]:
    """A trigger as a file names it: its kind, and its event's name."""
    event = trigger.event if trigger.event_id else None
    return {"kind": trigger.kind, "event": event.name if event is not None else None}


def _thread_order(thread: Thread) -> tuple[bool, int, str, int]:
    return (not thread.is_main, thread.position, thread.name, thread.pk)


class _Exporter:
    """Swaps ids for names, remembering what the steps use so the document
    carries exactly those fields' types, messages and pools."""

    def __init__(self, version: Version) -> None:
        self.version = version
        self.list = version.conversation.list
        self.fields = {f.pk: f for f in ProfileField.objects.filter(list=self.list)}
        self.events = {e.pk: e for e in Event.objects.filter(list=self.list)}
        self.messages = {m.pk: m for m in Message.objects.filter(list=self.list)}
        self.pools = {p.pk: p for p in CouponPool.objects.filter(list=self.list)}
        self.triggers = {
            t.pk: t
            for t in Trigger.objects.filter(conversation=version.conversation).select_related(
                "event"
            )
        }
        self.used: dict[str, set[int]] = {FIELD: set(), MESSAGE: set(), POOL: set()}
        self.problems: list[str] = []

    def swap(self, category: str, value: Any, path: str) -> Any:
        by_category: dict[str, dict[int, Any]] = {
            FIELD: self.fields,
            EVENT: self.events,
            MESSAGE: self.messages,
            POOL: self.pools,
        }
        known = by_category.get(category, self.triggers)
        # A Wait's field id may be stored as digits: forms post numbers as text.
        if isinstance(value, str) and value.strip().isdecimal():
            value = int(value)
        found = known.get(value) if isinstance(value, int) and not isinstance(value, bool) else None
        if found is None:
            owner = "this conversation" if category == "trigger" else f"list {self.list.name!r}"
            self.problems.append(f"{path}: {value!r} is not a {category} of {owner}.")
            return value
        if category in self.used:
            self.used[category].add(found.pk)
        return trigger_reference(found) if category == "trigger" else found.name

    def unique_names(self, category: str, objects: list[Any]) -> None:
        """Names stand for objects in the file, so two used ones may not share one."""
        seen: dict[str, Any] = {}
        for obj in objects:
            other = seen.setdefault(obj.name.lower(), obj)
            if other is not obj:
                self.problems.append(
                    f"{category}s {other.pk} and {obj.pk} are both named {obj.name!r}; "
                    "rename one to export this conversation."
                )

    def document(self) -> dict[str, Any]:
        threads = sorted(self.version.threads.all(), key=_thread_order)
        index = {thread.pk: position for position, thread in enumerate(threads)}
        steps = sorted(
            Step.objects.filter(version=self.version),
            key=lambda s: (index[s.thread_id], s.position, str(s.key)),
        )
        # int | None: a thread without a parent step looks up None and finds no key.
        keys: dict[int | None, str] = {step.pk: str(step.key) for step in steps}
        step_entries = [
            {
                "key": str(step.key),
                "thread": index[step.thread_id],
                "position": step.position,
                "kind": step.kind,
                "name": step.name,
                "settings": swap_settings(
                    unit_of(step).references,
                    step.settings,
                    self.swap,
                    path=f"steps[{n}].settings",
                    to_file=True,
                ),
            }
            for n, step in enumerate(steps)
        ]
        triggers = sorted(
            (trigger_reference(t) for t in self.triggers.values()),
            key=lambda t: (t["kind"], t["event"] or ""),
        )
        fields = [self.fields[pk] for pk in self.used[FIELD]]
        messages = [self.messages[pk] for pk in self.used[MESSAGE]]
        pools = [self.pools[pk] for pk in self.used[POOL]]
        self.unique_names("message", messages)
        self.unique_names("coupon pool", pools)
        if self.problems:
            raise TransferError(self.problems)
        return {
            "format": FORMAT_VERSION,
            "list": self.list.name,
            "conversation": {
                "name": self.version.conversation.name,
                "status": self.version.conversation.status,
            },
            "triggers": triggers,
            "profile_fields": sorted(
                ({"name": f.name, "data_type": f.data_type} for f in fields),
                key=lambda f: f["name"].lower(),
            ),
            "messages": sorted(
                ({key: getattr(m, key) for key in MESSAGE_KEYS} for m in messages),
                key=lambda m: m["name"].lower(),
            ),
            "coupon_pools": sorted(
                (
                    {
                        "name": p.name,
                        "kind": p.kind,
                        "static_code": p.static_code,
                        "expiry_cutoff": p.expiry_cutoff.isoformat() if p.expiry_cutoff else None,
                    }
                    for p in pools
                ),
                key=lambda p: p["name"].lower(),
            ),
            "threads": [
                {
                    "name": thread.name,
                    "main": thread.is_main,
                    "position": thread.position,
                    "child_event": thread.child_event,
                    "link_url": thread.link_url,
                    "parent_step": keys.get(thread.parent_step_id),
                }
                for thread in threads
            ],
            "steps": step_entries,
        }


def export_version(version: Version) -> dict[str, Any]:
    """The portable document of ``version`` (see ``conductor.transfer``).

    Raises TransferError naming every setting that refers to something that
    no longer exists, and every pair of used messages or pools sharing a name.
    """
    return _Exporter(version).document()
