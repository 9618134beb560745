"""Conversations as files: export one version to a portable JSON document,
import a document as a new conversation, in this database or another.

``manage.py export_conversation ID [--version N] [--output FILE] [--json]``
``manage.py import_conversation FILE [--list ID] [--json]``

The file format (``"format": 1``)
---------------------------------

One JSON object, written with sorted keys and a two-space indent so that two
exports of the same conversation are byte-identical and diff line by line.
It holds no database ids: the list's objects are named, and steps keep their
``key`` (a UUID), by which Go To targets and child threads refer to them::

    {
      "format": 1,
      "list": "Shop",
      "conversation": {"name": "Birthday", "status": "Published"},
      "triggers": [{"kind": "ExternalEvent", "event": "Order placed"},
                   {"kind": "Subscribe", "event": null}],
      "profile_fields": [{"name": "Birthday", "data_type": "Date"}],
      "messages": [{"name": "Happy birthday", "subject": "…", "html_body": "…",
                    "text_body": "…", "from_name": "", "from_email": ""}],
      "coupon_pools": [{"name": "Birthday codes", "kind": "Unique",
                        "static_code": "", "expiry_cutoff": "2026-01-31"}],
      "threads": [{"name": "Main", "main": true, "position": 0, "child_event": "",
                   "link_url": "", "parent_step": null}],
      "steps": [{"key": "5f0c…", "thread": 0, "position": 0, "kind": "Wait", "name": "",
                 "settings": {"kind": "anniversary", "field_id": "Birthday", …}}]
    }

- ``list``: the name of the list exported from; import uses the list of that
  name unless told ``--list ID``. ``conversation.status`` is for the reader:
  an import is always a new Unpublished conversation.
- ``steps[].thread`` is an index into ``threads``; a child thread's
  ``parent_step`` is the key of the Wait step it hangs off. Threads are in
  order (main first, then by position), steps by thread, position and key.
  A Go To's ``target`` is a step key, or ``"end"``: the end of its thread
  (the contact leaves the conversation).
- In ``settings``, each reference to the list is its name instead of its id:
  a profile field for Action ``field``/``other_field``, Wait ``field_id``, and
  Go To ``criteria`` comparisons (``segmentationFieldId`` becomes
  ``segmentationField``); an event for Action ``event``; a message for Message
  ``message`` and ``variants[].message`` and for a Go To engagement
  condition's ``message`` (its ``link`` is an address already); a coupon pool
  for Action ``pool``; and a variant's ``trigger`` becomes
  ``{"kind": …, "event": name or null}``.
  The rest of the settings is as each step kind stores it (``conductor.steps``),
  whose unit declares which of its settings are references
  (``StepKindUnit.references``). ``steps[].kind`` is a registered step kind.
- ``profile_fields`` lists the fields the steps use with their types: the
  target list must have fields of those names (in any case) and types.
  Events, likewise, must exist on the target list.
- ``messages`` and ``coupon_pools`` hold what the steps use (a pool's unique
  codes stay behind). Import creates those the target list lacks and reuses
  one of the same name (in any case), saying so.

Import checks the whole file before writing anything, names every problem
with its place (``steps[3].settings.field: no profile field named 'Birthday'
on list 'Shop'``), and writes in one transaction. The new working version may
still be unfinished: ``version_problems`` are reported, not refused.
"""

from conductor.transfer.errors import TransferError
from conductor.transfer.exporting import FORMAT_VERSION, dump, export_version
from conductor.transfer.importing import ImportResult, import_document

__all__ = [
    "FORMAT_VERSION",
    "ImportResult",
    "TransferError",
    "dump",
    "export_version",
    "import_document",
]
