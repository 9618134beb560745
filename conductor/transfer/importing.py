"""Creating a conversation from a document: every name resolved on the target
list and every problem found before anything is written, then one transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from conductor.models import Conversation, CouponPool, Step, Thread, Trigger
from conductor.steps.registry import unit_for
from conductor.transfer.errors import TransferError
from conductor.transfer.exporting import MESSAGE_KEYS
from conductor.transfer.reading import read_document
from conductor.transfer.references import EVENT, FIELD, MESSAGE, POOL, swap_settings
from conductor.versions import create_conversation, version_problems, working_version
from emails.models import Message
from emails.template_checks import described_problems
from lists.models import DataType, Event, List, ProfileField


@dataclass
class ImportResult:
    conversation: Conversation
    #: Why the new working version cannot be published yet (``version_problems``).
    problems: list[str]
    #: What was reused instead of created, e.g. a message already on the list.
    notes: list[str] = field(default_factory=list)


def _trigger_identity(kind: Any, event: Any) -> tuple[Any, str]:
    return kind, event.lower() if isinstance(event, str) else ""


class _Names:
    """Turns the file's names into ids of the target list. Messages, pools
    and triggers created by the import have no id until it writes them: they
    resolve to None while checking, then to their ids once created."""

    def __init__(self, document: dict[str, Any], email_list: List) -> None:
        self.list = email_list
        self.fields = {f.name.lower(): f for f in ProfileField.objects.filter(list=email_list)}
        self.events = {e.name.lower(): e for e in Event.objects.filter(list=email_list)}
        self.declared_types = {
            f["name"].lower(): f["data_type"] for f in document["profile_fields"]
        }
        self.messages: dict[str, int | None] = {
            m["name"].lower(): None for m in document["messages"]
        }
        self.pools: dict[str, int | None] = {
            p["name"].lower(): None for p in document["coupon_pools"]
        }
        self.triggers: dict[tuple[Any, str], int | None] = {
            _trigger_identity(t["kind"], t["event"]): None for t in document["triggers"]
        }
        self.problems: list[str] = []

    def swap(self, category: str, value: Any, path: str) -> Any:
        if category == "trigger":
            return self._trigger(value, path)
        if not isinstance(value, str):
            self.problems.append(f"{path}: must be a {category}'s name, not {value!r}.")
            return None
        if category == FIELD:
            return self.field(value, path)
        if category == EVENT:
            return self.event(value, path)
        section, known = {MESSAGE: ("messages", self.messages), POOL: ("coupon_pools", self.pools)}[
            category
        ]
        if value.lower() not in known:
            self.problems.append(f"{path}: no {category} named {value!r} in {section}.")
        return known.get(value.lower())

    def field(self, name: str, path: str) -> int | None:
        declared = self.declared_types.get(name.lower())
        found = self.fields.get(name.lower())
        if found is None:
            self.problems.append(
                f"{path}: no profile field named {name!r} on list {self.list.name!r}."
            )
        elif declared is None:
            # The declared type is what guards against a same-named field of another type.
            self.problems.append(f"{path}: {name!r} is not in profile_fields with its data_type.")
        elif found.data_type != declared:
            self.problems.append(
                f"{path}: profile field {found.name!r} on list {self.list.name!r} is "
                f"{DataType(found.data_type).label}, not {DataType(declared).label} as in the file."
            )
        else:
            return found.pk
        return None

    def event(self, name: str, path: str) -> int | None:
        found = self.events.get(name.lower())
        if found is None:
            self.problems.append(f"{path}: no event named {name!r} on list {self.list.name!r}.")
            return None
        return found.pk

    def _trigger(self, value: Any, path: str) -> int | None:
        if not isinstance(value, dict) or set(value) != {"kind", "event"}:
            self.problems.append(f'{path}: must be a trigger like {{"kind": …, "event": …}}.')
            return None
        identity = _trigger_identity(value["kind"], value["event"])
        if identity not in self.triggers:
            self.problems.append(f"{path}: {value!r} is not in triggers.")
        return self.triggers.get(identity)


def _resolve_list(document: dict[str, Any], list_id: int | None) -> List:
    if list_id is not None:
        found = List.objects.filter(pk=list_id).first()
        if found is None:
            raise TransferError([f"--list: there is no list {list_id}."])
        return found
    named = list(List.objects.filter(name=document["list"])[:2])
    if len(named) != 1:
        which = "no list" if not named else "several lists"
        raise TransferError([f"list: {which} named {document['list']!r}; choose one with --list."])
    return named[0]


def _swap_all(document: dict[str, Any], names: _Names) -> list[dict[str, Any]]:
    """Every step's settings with names swapped for ids; also checks the
    external events of the triggers."""
    for n, trigger in enumerate(document["triggers"]):
        if trigger["event"] is not None:
            names.event(trigger["event"], f"triggers[{n}].event")
    return [
        swap_settings(
            unit_for(step["kind"]).references,  # read_document made sure it is registered
            step["settings"],
            names.swap,
            path=f"steps[{n}].settings",
            to_file=False,
        )
        for n, step in enumerate(document["steps"])
    ]


def import_document(document: Any, *, list_id: int | None = None) -> ImportResult:
    """Create an unpublished conversation from ``document`` (see
    ``conductor.transfer``) in the list it names, or in list ``list_id``.

    Raises TransferError naming every problem, with nothing created.
    """
    document = read_document(document)
    email_list = _resolve_list(document, list_id)
    names = _Names(document, email_list)
    _swap_all(document, names)
    names.problems.extend(_new_message_problems(document, email_list))
    if names.problems:
        raise TransferError(names.problems)
    with transaction.atomic():
        notes = _messages_and_pools(document, names)
        conversation = create_conversation(
            email_list=email_list, name=document["conversation"]["name"]
        )
        for trigger in document["triggers"]:
            event_id = names.event(trigger["event"], "") if trigger["event"] else None
            created = Trigger.objects.create(
                conversation=conversation, kind=trigger["kind"], event_id=event_id
            )
            names.triggers[_trigger_identity(trigger["kind"], trigger["event"])] = created.pk
        _threads_and_steps(document, conversation, _swap_all(document, names))
    return ImportResult(
        conversation=conversation,
        problems=version_problems(working_version(conversation)),
        notes=notes,
    )


def _new_message_problems(document: dict[str, Any], email_list: List) -> list[str]:
    """What ``Message.clean`` would refuse in the messages the import creates
    (a message reused from the list is checked when a version sending it is
    published): templates that do not compile or name merge fields the list
    lacks, and links whose address comes from a merge field."""
    existing = {name.lower() for name in email_list.messages.values_list("name", flat=True)}
    fields = list(ProfileField.objects.filter(list=email_list))
    problems: list[str] = []
    for n, entry in enumerate(document["messages"]):
        if entry["name"].lower() in existing:
            continue
        message = Message(list=email_list, **entry)
        problems.extend(
            f"messages[{n}] ({entry['name']!r}): {problem}"
            for problem in described_problems(message, fields)
        )
    return problems


def _messages_and_pools(document: dict[str, Any], names: _Names) -> list[str]:
    """Create the messages and pools the list lacks; reuse those it has by name."""
    notes: list[str] = []
    for entry in document["messages"]:
        existing = (
            Message.objects.filter(list=names.list, name__iexact=entry["name"])
            .order_by("pk")
            .first()
        )
        if existing is None:
            existing = Message.objects.create(list=names.list, **entry)
        else:
            differs = any(getattr(existing, key) != entry[key] for key in MESSAGE_KEYS)
            notes.append(
                f"Reused message {existing.name!r} (id {existing.pk}) already on list "
                f"{names.list.name!r}"
                + ("; its contents differ from the file's." if differs else ".")
            )
        names.messages[entry["name"].lower()] = existing.pk
    for entry in document["coupon_pools"]:
        cutoff = dt.date.fromisoformat(entry["expiry_cutoff"]) if entry["expiry_cutoff"] else None
        pool = (
            CouponPool.objects.filter(list=names.list, name__iexact=entry["name"])
            .order_by("pk")
            .first()
        )
        if pool is None:
            pool = CouponPool.objects.create(
                list=names.list, name=entry["name"], kind=entry["kind"],
                static_code=entry["static_code"], expiry_cutoff=cutoff,
            )  # fmt: skip
        else:
            differs = (pool.kind, pool.static_code, pool.expiry_cutoff) != (
                entry["kind"], entry["static_code"], cutoff,
            )  # fmt: skip
            notes.append(
                f"Reused coupon pool {pool.name!r} (id {pool.pk}) already on list "
                f"{names.list.name!r}"
                + ("; its settings differ from the file's." if differs else ".")
            )
        names.pools[entry["name"].lower()] = pool.pk
    return notes


def _threads_and_steps(
    document: dict[str, Any], conversation: Conversation, settings: list[dict[str, Any]]
) -> None:
    """Threads in file order (so ids, and a later export, keep it), each
    child after the step it hangs off, which ``read_document`` made possible."""
    version = working_version(conversation)
    main = version.threads.get(is_main=True)  # made by create_conversation
    threads: list[Thread] = []
    for entry in document["threads"]:
        thread = main if entry["main"] else Thread(version=version, is_main=False)
        thread.name, thread.position = entry["name"], entry["position"]
        thread.child_event, thread.link_url = entry["child_event"], entry["link_url"]
        threads.append(thread)
    main.save()
    steps: dict[str, Step] = {}
    for entry, step_settings in zip(document["steps"], settings, strict=True):
        key = uuid.UUID(entry["key"])
        steps[str(key)] = Step(
            version=version, thread=threads[entry["thread"]], key=key, position=entry["position"],
            kind=entry["kind"], name=entry["name"], settings=step_settings,
        )  # fmt: skip
    while True:
        Step.objects.bulk_create(
            [s for s in steps.values() if s.pk is None and s.thread.pk is not None]
        )
        placeable = [
            (thread, entry)
            for thread, entry in zip(threads, document["threads"], strict=True)
            if thread.pk is None and steps[str(uuid.UUID(entry["parent_step"]))].pk is not None
        ]
        if not placeable:
            break
        for thread, entry in placeable:
            thread.parent_step = steps[str(uuid.UUID(entry["parent_step"]))]
            thread.save()
