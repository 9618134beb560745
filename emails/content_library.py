"""The content library (Listrak's ``Content`` and ``ContentFolder``):
reusable blocks that any message puts in with ``{{ content.<key> }}``,
filed in folders of the whole account or of one list.

A block is written into a message's templates when the email is rendered
(``with_blocks``, which ``emails.render`` calls): its HTML into the HTML
body, its text into the text body and the subject. So its links are found
and tracked like the message's own, and an edit to a block reaches every
email rendered after it. A block is put in exactly as written: it holds no
merge fields or tags (``block_problems``); what is personal goes in the
message around it.

A block's key is made from its name when it is created and never changes,
so renaming a block breaks no message. A block that a message uses, or
that an email waiting to be sent uses, cannot be deleted (``delete_block``);
an email whose block is gone all the same is skipped with the reason, like
any email that cannot be rendered.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.html import escape

from emails.content_tags import TEMPLATE_SYNTAX, keys_in, written_in
from emails.html_body import text_from_html
from emails.models import (
    BlockType,
    ContentBlock,
    ContentFolder,
    Delivery,
    DeliveryStatus,
    Message,
    MessageContent,
)
from emails.template_checks import merge_name
from emails.tracking.link_text import address_problem, html_links, text_links
from lists.models import List
from lists.services import shown

#: The longest key made from a name, leaving room for "_2", "_3", ... (the field holds 100).
_KEY_LENGTH = 90
NO_SYNTAX = (
    "A block is put into messages exactly as it is written: merge fields and tags "
    "({{ … }}, {% … %}, {# … #}) are not filled in inside it. Write them in the "
    "message, around the block."
)
#: Between a folder and the folder inside it, as the admin's breadcrumbs write it.
IN_FOLDER = " \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} "
#: The emails not yet handed to the mail server: rendered later, with the block as it is then.
_UNSENT = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


# --- Rendering -----------------------------------------------------------------------


def block_html(block: ContentBlock) -> str:
    """What ``{{ content.<key> }}`` puts in an HTML body: the block's HTML;
    its text, escaped and with its line breaks, when it has no HTML."""
    if block.html.strip() or not block.text.strip():
        return block.html
    return escape(block.text).replace("\n", "<br>\n")


def block_text(block: ContentBlock) -> str:
    """What ``{{ content.<key> }}`` puts in a text body or a subject: the
    block's text; made from its HTML when it has none, the way a message's
    text part is made from its HTML body (``emails.html_body``)."""
    if block.text.strip() or not block.html.strip():
        return block.text
    return text_from_html(block.html).strip()


class MissingBlocks(ValueError):
    """A message names blocks the library does not have (deleted since)."""

    def __init__(self, keys: Iterable[str]) -> None:
        tags = [f"{{{{ content.{key} }}}}" for key in sorted(keys)]
        if len(tags) == 1:
            said = f"the content block {tags[0]} no longer exists"
        else:
            said = f"the content blocks {', '.join(tags[:-1])} and {tags[-1]} no longer exist"
        super().__init__(said)


def with_blocks(message: Message) -> Message:
    """``message`` with each ``{{ content.<key> }}`` of its subject and
    bodies replaced by that block as it is now: an unsaved stand-in with the
    same id (never saved), or ``message`` itself when it uses no block.
    Raises MissingBlocks naming the blocks that no longer exist."""
    keys = keys_in(message.subject, message.html_body, message.text_body)
    if not keys:
        return message
    blocks = {block.key: block for block in ContentBlock.objects.filter(key__in=keys)}
    if missing := keys - set(blocks):
        raise MissingBlocks(missing)
    html = {key: block_html(block) for key, block in blocks.items()}
    text = {key: block_text(block) for key, block in blocks.items()}
    stand_in = Message(
        **{f.attname: getattr(message, f.attname) for f in Message._meta.concrete_fields}
    )
    if Message.list.is_cached(message):
        stand_in.list = message.list
    stand_in.subject = written_in(message.subject, text)
    stand_in.html_body = written_in(message.html_body, html)
    stand_in.text_body = written_in(message.text_body, text)
    return stand_in


# --- Blocks ----------------------------------------------------------------------------


def block_problems(*, name: str, html: str, text: str) -> dict[str, list[str]]:
    """Why a block with these values may not be saved, by model field
    (``name``, ``html``, ``text``); empty when it may. A block holds no
    template syntax, and its links' addresses are whole (the checks of a
    message's links: ``link_text.address_problem``)."""
    problems: dict[str, list[str]] = {}
    if not name.strip():
        problems["name"] = ["Give the block a name."]
    for field, source, found in (("html", html, html_links), ("text", text, text_links)):
        listed = [NO_SYNTAX] if TEMPLATE_SYNTAX.search(source) else []
        listed += list(dict.fromkeys(p for url in found(source) if (p := address_problem(url))))
        if listed:
            problems[field] = listed
    return problems


def make_key(name: str) -> str:
    """A key no block has, made from ``name`` as a profile field's merge
    name is ("Spring footer": ``spring_footer``, then ``spring_footer_2``)."""
    base = merge_name(name)[:_KEY_LENGTH].strip("_") or "block"
    if not base[0].isalpha():
        base = f"block_{base}"[:_KEY_LENGTH]
    taken = set(ContentBlock.objects.filter(key__startswith=base).values_list("key", flat=True))
    key, number = base, 1
    while key in taken:
        number += 1
        key = f"{base}_{number}"
    return key


def _check(*, name: str, html: str, text: str, content_type: str) -> None:
    problems = block_problems(name=name, html=html, text=text)
    if content_type not in BlockType.values:
        problems["content_type"] = [f"{content_type!r} is not a type of block."]
    if problems:
        raise ValidationError(problems)


def create_block(
    *,
    name: str,
    html: str = "",
    text: str = "",
    folder: ContentFolder | None = None,
    content_type: str = BlockType.SAVED,
) -> ContentBlock:
    """A new block, its key made from its name (``make_key``). Raises
    ValidationError by field (``block_problems``)."""
    _check(name=name, html=html, text=text, content_type=content_type)
    values = {"name": name.strip(), "html": html, "text": text, "folder": folder}
    for attempt in range(5):  # another block may take the same key meanwhile
        try:
            with transaction.atomic():
                return ContentBlock.objects.create(
                    key=make_key(name), content_type=content_type, **values
                )
        except IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def update_block(
    *,
    block: ContentBlock,
    name: str,
    html: str,
    text: str,
    folder: ContentFolder | None,
    content_type: str,
) -> ContentBlock:
    """Change a block; its key stays (messages name the block by it). Raises
    ValidationError by field (``block_problems``), and DoesNotExist when
    it was deleted meanwhile."""
    _check(name=name, html=html, text=text, content_type=content_type)
    with transaction.atomic():
        ContentBlock.objects.select_for_update().get(pk=block.pk)
        block.name, block.html, block.text = name.strip(), html, text
        block.folder, block.content_type = folder, content_type
        block.modified_at = timezone.now()
        block.save(update_fields=["name", "html", "text", "folder", "content_type", "modified_at"])
    return block


def _naming(key: str) -> Q:
    # A superset (SQLite's LIKE ignores case): ``keys_in`` decides.
    needle = f"content.{key}"
    return (
        Q(subject__contains=needle) | Q(html_body__contains=needle) | Q(text_body__contains=needle)
    )


def messages_using(block: ContentBlock) -> list[Message]:
    """The messages whose subject or bodies put ``block`` in, by name."""
    found = Message.objects.filter(_naming(block.key)).only(
        "name", "subject", "html_body", "text_body"
    )
    return [m for m in found if block.key in keys_in(m.subject, m.html_body, m.text_body)]


def unsent_emails_using(block: ContentBlock) -> int:
    """How many emails not yet sent are rendered from frozen content (a
    published conversation version's, a broadcast's) that puts ``block`` in."""
    frozen = MessageContent.objects.filter(_naming(block.key)).only(
        "subject", "html_body", "text_body"
    )
    ids = [c.pk for c in frozen if block.key in keys_in(c.subject, c.html_body, c.text_body)]
    if not ids:
        return 0
    return Delivery.objects.filter(content_id__in=ids, status__in=_UNSENT).count()


def delete_block(*, block: ContentBlock) -> None:
    """Delete ``block``, unless a message puts it in, or an email waiting to
    be sent does: a ValidationError names them."""
    with transaction.atomic():
        locked = ContentBlock.objects.select_for_update().filter(pk=block.pk).first()
        if locked is None:
            return  # deleted meanwhile
        tag = f"{{{{ content.{locked.key} }}}}"
        users = [f"“{m.name}”" for m in messages_using(locked)]
        if users:
            which = "message" if len(users) == 1 else "messages"
            raise ValidationError(
                f"“{locked.name}” is used by the {which} {shown(users)}: "
                f"take {tag} out of {'it' if len(users) == 1 else 'them'} first."
            )
        if waiting := unsent_emails_using(locked):
            raise ValidationError(
                f"“{locked.name}” is in {waiting} email{'s' if waiting != 1 else ''} waiting to "
                "be sent (by a published conversation version or a broadcast): delete it once "
                f"{'it is' if waiting == 1 else 'they are'} sent."
            )
        locked.delete()


# --- Folders ---------------------------------------------------------------------------


def _where(list_id: int | None) -> str:
    if list_id is None:
        return "the whole account"
    return f"list “{List.objects.filter(pk=list_id).values_list('name', flat=True).first()}”"


def folder_problems(folder: ContentFolder) -> dict[str, list[str]]:
    """Why ``folder`` (saved or not) may not be saved as it is, by model
    field: a folder goes inside a folder of the same list (or of the whole
    account, for an account's folder), never inside itself, and the folders
    inside it stay of its list."""
    problems: dict[str, list[str]] = {}
    if not folder.name.strip():
        problems["name"] = ["Give the folder a name."]
    parent = folder.parent
    if parent is not None and parent.list_id != folder.list_id:
        problems["parent"] = [
            f"“{parent}” is a folder of {_where(parent.list_id)}: a folder of "
            f"{_where(folder.list_id)} goes inside a folder of the same, or at the top."
        ]
    elif parent is not None and folder.pk is not None and folder.pk in _up_from(parent):
        problems["parent"] = [
            f"“{parent}” is inside this folder: a folder cannot go inside itself."
        ]
    if folder.pk is not None:
        same = Q(list__isnull=True) if folder.list_id is None else Q(list_id=folder.list_id)
        others = ContentFolder.objects.filter(parent=folder).exclude(same)
        if names := [f"“{f.name}”" for f in others[:11]]:
            theirs = _where(others[0].list_id)
            problems["list"] = [
                f"The folders inside it ({shown(names)}) are of {theirs}: move them out "
                f"first, or leave this folder of {theirs}."
            ]
    return problems


def _up_from(folder: ContentFolder) -> set[int]:
    """``folder`` and the folders it is inside, by id."""
    parents = dict(ContentFolder.objects.values_list("pk", "parent_id"))
    seen: set[int] = set()
    at: int | None = folder.pk
    while at is not None and at not in seen:
        seen.add(at)
        at = parents.get(at)
    return seen


def save_folder(folder: ContentFolder) -> ContentFolder:
    """Save ``folder`` (new or changed), or raise ValidationError by field
    (``folder_problems``)."""
    folder.name = folder.name.strip()
    if problems := folder_problems(folder):
        raise ValidationError(problems)
    folder.save()
    return folder


def folder_paths() -> dict[int, str]:
    """Every folder's place in the tree, by id: "Seasonal › Spring"."""  # noqa: RUF002 - the admin's breadcrumb sign
    rows = {
        pk: (name, parent)
        for pk, name, parent in ContentFolder.objects.values_list("pk", "name", "parent_id")
    }
    paths: dict[int, str] = {}
    for pk in rows:
        names: list[str] = []
        at: int | None = pk
        while at is not None and at in rows and len(names) <= len(rows):
            name, at = rows[at]
            names.append(name)
        paths[pk] = IN_FOLDER.join(reversed(names))
    return paths
