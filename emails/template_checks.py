"""Checking a message's templates before any contact gets them: each must
compile as rendering compiles it (``emails.render``), and use only merge
fields that exist. Problems are worded for the marketer who wrote the
template, with their line: "Line 2: {{ profile.firstname }} is not a merge
field of list “Shop”; did you mean {{ profile.first_name }}?".

A message is checked when it is saved (``Message.clean``), imported, and
when a conversation version sending it is published, so a template saved
before these checks existed is caught before it goes out.

What a template may use is what rendering gives it: ``email``,
``email_key``, ``profile.<field>`` (the list's profile fields), ``coupon``
(the code a conversation's Set Coupon action gave the contact: a plain
value, so ``coupon.x`` is refused; publishing refuses a conversation that
sends it with no such action), ``trigger.*`` (what brought the contact in:
it varies, so any name goes), ``list.name``,
``links.browser``/``pass_along``/``unsubscribe``, ``content.<key>`` (a
block of the content library, standing alone between ``{{`` and ``}}``:
it is written in before the template is compiled, ``emails.content_tags``),
and the names the template sets itself with ``{% for %}`` and ``{% with %}``. A tracked link
is filled in when the contact clicks it, from the contact's merge fields
alone, so it may not use ``links`` or names the template sets.
``merge_fields_used`` says which merge fields a message uses.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.template.base import FilterExpression, Node, NodeList, Variable, VariableNode
from django.template.defaulttags import ForNode, IfNode
from django.template.loader_tags import BlockNode
from django.template.smartif import TokenBase

from emails.content_tags import CONTENT, block_tags, keys_in
from emails.template_syntax import compiled
from emails.tracking.link_text import HREF, TEXT_URL, address_problems, is_tracked

if TYPE_CHECKING:
    from emails.models import Message
    from lists.models import ProfileField

#: The model fields holding templates, and how a marketer knows them.
TEMPLATE_FIELDS = {"subject": "Subject", "html_body": "HTML body", "text_body": "Text body"}
#: The merge fields rendering gives every template (``emails.render.merge_fields``).
TOP_LEVEL = ("email", "email_key", "profile", "coupon", "trigger", "list", "links", CONTENT)
#: Merge fields that are one value, with no names after them.
PLAIN = ("coupon",)
#: ``links.*``: the email's own pages, added when it is rendered.
PAGE_LINKS = ("browser", "pass_along", "unsubscribe")
#: ``list.*``.
LIST_FIELDS = ("name",)
#: Every Django context has these.
_BUILT_IN = frozenset({"True", "False", "None"})
#: Tags that set a name for the rest of the template keep it in one of these
#: (``{% cycle ... as x %}``, ``{% firstof ... as x %}``, ``{% regroup ... as x %}``, ...).
_NAME_SETTERS = ("asvar", "var_name", "variable_name", "varname", "variable", "target_var")

_NOT_IN_NAME = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=4096)
def merge_name(field_name: str) -> str:
    """How templates write a profile field after ``profile.``: its name in
    lower case, each run of other characters an underscore ("First Name":
    ``first_name``)."""
    return _NOT_IN_NAME.sub("_", field_name.lower()).strip("_")


@dataclass(frozen=True)
class TemplateProblem:
    """One problem of one template field, with the lines it is on."""

    field: str  # "subject", "html_body" or "text_body"
    lines: tuple[int, ...]
    text: str

    def __str__(self) -> str:
        """As the message's form shows it under the field: "Line 3: ..."."""
        return f"{_lines(self.lines)}: {self.text}" if self.lines else self.text

    def described(self) -> str:
        """As it reads away from the form: "HTML body, line 3: ..."."""
        where = _lines(self.lines).lower() if self.lines else ""
        label = TEMPLATE_FIELDS[self.field]
        return f"{label}, {where}: {self.text}" if where else f"{label}: {self.text}"


def _lines(lines: tuple[int, ...]) -> str:
    if len(lines) == 1:
        return f"Line {lines[0]}"
    return f"Lines {', '.join(map(str, lines[:-1]))} and {lines[-1]}"


def found_problems(
    message: Message, fields: Iterable[ProfileField] | None
) -> list[TemplateProblem]:
    """Every problem of ``message``'s templates, in field order.
    ``fields``: the profile fields of its list; None when it has no list yet
    (then the names after ``profile.`` are not checked)."""
    names = _Names.of(message, fields)
    blocks = _block_keys(message)
    problems: list[TemplateProblem] = []
    for field in TEMPLATE_FIELDS:
        source = getattr(message, field) or ""
        links = _tracked_links(field, source)
        body, lines, error = compiled(_without_links(source, links))
        problems.extend(_block_problems(field, source, body, blocks))
        if body is None:
            problems.append(TemplateProblem(field, lines, error))
            set_in_body: frozenset[str] = frozenset()
        else:
            problems.extend(_name_problems(field, body, names))
            set_in_body = frozenset(_names_set(body, loops=True))
        for start, url in links:
            problems.extend(_link_problems(field, source, start, url, names, set_in_body))
    return _merged(problems)


def template_problems(
    message: Message, fields: Iterable[ProfileField] | None
) -> dict[str, list[str]]:
    """The problems of ``message``'s templates by model field (``subject``,
    ``html_body``, ``text_body``): syntax errors and merge fields that do not
    exist, each with its line. Empty when there is none."""
    found: dict[str, list[str]] = {}
    for problem in found_problems(message, fields):
        found.setdefault(problem.field, []).append(str(problem))
    return found


def message_problems(
    message: Message, fields: Iterable[ProfileField] | None
) -> dict[str, list[str]]:
    """What refuses ``message`` when it is saved, by model field: its
    tracked links' addresses (``link_text.address_problems``) and its
    templates (``template_problems``)."""
    found = address_problems(message)
    for field, problems in template_problems(message, fields).items():
        found[field] = [*found.get(field, []), *problems]
    return found


def described_problems(message: Message, fields: Iterable[ProfileField] | None) -> list[str]:
    """``message_problems`` as sentences that name their field, for where the
    message's form is not at hand (publishing, importing)."""
    links = [problem for listed in address_problems(message).values() for problem in listed]
    return links + [problem.described() for problem in found_problems(message, fields)]


def merge_fields_used(message: Message) -> set[str]:
    """The merge fields ``message``'s templates and tracked links use, by
    their first name (``{"profile", "coupon"}``); names a template sets
    itself are left out, and so is a template that does not compile (its
    problem is found apart)."""
    used: set[str] = set()
    for field in TEMPLATE_FIELDS:
        source = getattr(message, field) or ""
        links = _tracked_links(field, source)
        parts = [_without_links(source, links), *(url for _, url in links)]
        for part in parts:
            nodelist = compiled(part)[0]
            if nodelist is None:
                continue
            for _, lookups, bound in _uses(nodelist, frozenset(_names_set(nodelist))):
                if lookups[0] not in bound and lookups[0] not in _BUILT_IN:
                    used.add(lookups[0])
    return used


# --- Content blocks -------------------------------------------------------------------


def _block_keys(message: Message) -> frozenset[str]:
    """Every block's key, when ``message`` puts one in (else none is read)."""
    if not keys_in(*(getattr(message, field) or "" for field in TEMPLATE_FIELDS)):
        return frozenset()
    # By name: the models import this module, so it cannot import them.
    blocks = apps.get_model("emails", "ContentBlock").objects
    return frozenset(blocks.values_list("key", flat=True))


def _block_problems(
    field: str, source: str, body: NodeList | None, blocks: frozenset[str]
) -> Iterator[TemplateProblem]:
    """Each ``{{ content.<key> }}`` of the field naming no block, and each
    other use of ``content`` (in a tag, through a filter), which rendering
    would not fill in: a block is written in where it stands alone."""
    for tag in block_tags(source):
        if tag.key not in blocks:
            said = f"{{{{ content.{tag.key} }}}} is not a block of the content library"
            nearest = difflib.get_close_matches(tag.key.lower(), sorted(blocks), n=1)
            text = (
                f"{said}; did you mean {{{{ content.{nearest[0]} }}}}?" if nearest else f"{said}."
            )
            yield TemplateProblem(field, (tag.line(source),), text)
    if body is not None:
        for line, text in _block_misuses(body):
            yield TemplateProblem(field, (line,) if line else (), text)


def _block_misuses(nodelist: Iterable[Node]) -> Iterator[tuple[int | None, str]]:
    for node in nodelist:
        alone = None  # {{ content.<key> }} with no filter: what is written in
        if isinstance(node, VariableNode) and not node.filter_expression.filters:
            alone = node.filter_expression.var
        for line, variable in _node_variables(node):
            lookups = tuple(variable.lookups or ())
            if lookups[:1] != (CONTENT,) or (variable is alone and len(lookups) == 2):
                continue
            if len(lookups) == 1:
                yield (
                    line,
                    (
                        "{{ content }} is the content library: name one of its blocks, "
                        "as {{ content.<key> }} (the blocks are listed beside the bodies)."
                    ),
                )
            elif len(lookups) > 2:
                yield (
                    line,
                    (
                        f"{{{{ {'.'.join(lookups)} }}}} is not a content block: a block is "
                        f"written {{{{ content.{lookups[1]} }}}}, with nothing after its key."
                    ),
                )
            else:
                yield (
                    line,
                    (
                        f"{{{{ content.{lookups[1]} }}}} is written into the message as it is, "
                        "so it stands alone between {{ and }}: not inside a tag, with no filter."
                    ),
                )
        for attribute in getattr(node, "child_nodelists", ("nodelist",)):
            children = _attribute(node, attribute)
            if isinstance(children, Iterable):
                yield from _block_misuses([c for c in children if isinstance(c, Node)])


# --- Tracked links --------------------------------------------------------------------


def _tracked_links(field: str, source: str) -> list[tuple[int, str]]:
    """Where each tracked link of the field starts, and the link as written,
    found as rendering finds them (``emails.tracking.links.mark_html``,
    ``mark_text``): rendering compiles each link apart from its body."""
    if field == "html_body":
        found = []
        for match in HREF.finditer(source):
            written = match[3]
            if is_tracked(written):
                found.append((match.start(3) + len(written) - len(written.lstrip()), written))
        return [(start, written.strip()) for start, written in found]
    if field == "text_body":
        return [(match.start(), match[0]) for match in TEXT_URL.finditer(source)]
    return []


def _without_links(source: str, links: list[tuple[int, str]]) -> str:
    """``source`` with its tracked links blanked out as rendering does, each
    keeping its line breaks so that every line keeps its number."""
    parts, at = [], 0
    for start, url in links:
        parts += [source[at:start], "@@link@@", "\n" * url.count("\n")]
        at = start + len(url)
    return "".join([*parts, source[at:]])


def _link_problems(
    field: str, source: str, start: int, url: str, names: _Names, set_in_body: frozenset[str]
) -> Iterator[TemplateProblem]:
    """The problems of one tracked link, compiled on its own as a click
    renders it, on the lines of the field it is written on."""
    first_line = source.count("\n", 0, start) + 1
    nodelist, lines, error = compiled(url)
    if nodelist is None:
        found = [(lines, error)]
    else:
        bound = frozenset(_names_set(nodelist))
        found = [
            ((line,) if line else (), text)
            for line, lookups, _ in _uses(nodelist, bound)
            if (text := _link_name_problem(lookups, names, set_in_body - bound)) is not None
        ]
    for at, text in found:
        yield TemplateProblem(
            field, tuple(first_line + line - 1 for line in at), f"the link {url}: {text}"
        )


# --- Merge fields ---------------------------------------------------------------------


@dataclass
class _Names:
    """What the templates of one message may name."""

    profile: set[str] | None  # None: the message has no list yet
    list_name: str

    @classmethod
    def of(cls, message: Message, fields: Iterable[ProfileField] | None) -> _Names:
        profile = None if fields is None else {merge_name(f.name) for f in fields}
        return cls(profile, message.list.name if message.list_id is not None else "")


def _name_problems(field: str, nodelist: NodeList, names: _Names) -> Iterator[TemplateProblem]:
    # A name set with "as" may be used anywhere after it, inside tags that
    # do not open a new scope ({% if %}) too: taken as set everywhere.
    for line, lookups, bound in _uses(nodelist, frozenset(_names_set(nodelist))):
        text = _name_problem(lookups, names, bound)
        if text is not None:
            yield TemplateProblem(field, (line,) if line else (), text)


def _name_problem(lookups: tuple[str, ...], names: _Names, bound: frozenset[str]) -> str | None:
    """Why the merge field ``lookups`` (``("profile", "first_name")``) does not
    exist, with the nearest one that does; or None."""
    head = lookups[0]
    if head in bound or head in _BUILT_IN or head == CONTENT:  # blocks: _block_problems
        return None
    if head not in TOP_LEVEL:
        fields = {name: f"profile.{name}" for name in sorted(names.profile or ())}
        others = {name: name for name in sorted(bound) if name != "forloop"}
        return _unknown(head, {**fields, **others, **{name: name for name in TOP_LEVEL}}, names)
    if len(lookups) < 2:
        return None
    if head in PLAIN:
        return (
            f"{{{{ {head}.{lookups[1]} }}}} is not a merge field: "
            f"the {head} is one code, written {{{{ {head} }}}}."
        )
    known = {
        "profile": names.profile,
        "links": set(PAGE_LINKS),
        "list": set(LIST_FIELDS),
    }.get(head)
    if known is None or lookups[1] in known:
        return None  # trigger.*, email.*: anything goes
    written = f"{head}.{lookups[1]}"
    return _unknown(written, {name: f"{head}.{name}" for name in sorted(known)}, names)


def _unknown(written: str, candidates: dict[str, str], names: _Names) -> str:
    """That ``written`` is not a merge field, with the nearest candidate if
    one is close: "{{ profile.firstname }} is not a merge field of list
    “Shop”; did you mean {{ profile.first_name }}?"."""
    which = written.rpartition(".")[2]
    where = f" of list “{names.list_name}”" if written.startswith("profile.") else ""
    said = f"{{{{ {written} }}}} is not a merge field{where}"
    nearest = difflib.get_close_matches(which, list(candidates), n=1)
    if nearest:
        return f"{said}; did you mean {{{{ {candidates[nearest[0]]} }}}}?"
    return f"{said}."


def _link_name_problem(
    lookups: tuple[str, ...], names: _Names, set_by_template: frozenset[str]
) -> str | None:
    head = lookups[0]
    if head == CONTENT:
        return (
            f"{{{{ {'.'.join(lookups[:2])} }}}} cannot be part of a link's address: "
            "put the whole link in the content block instead."
        )
    if head == "links" or (head in set_by_template and head not in TOP_LEVEL):
        written = ".".join(lookups[:2])
        return (
            f"{{{{ {written} }}}} is empty when the link is followed: a link is filled in "
            "when the contact clicks it, from the contact's merge fields only."
        )
    return _name_problem(lookups, names, frozenset())


def _uses(
    nodelist: Iterable[Node], bound: frozenset[str]
) -> Iterator[tuple[int | None, tuple[str, ...], frozenset[str]]]:
    """Every merge field the nodes use: its line, its lookups
    (``("profile", "first_name")``), and the names set by the template
    where it is used. A node of a kind not known here is searched for
    variables all the same; nothing in it can make this fail."""
    for node in nodelist:
        for line, variable in _node_variables(node):
            if variable.lookups:
                yield line, tuple(variable.lookups), bound
        for attribute in getattr(node, "child_nodelists", ("nodelist",)):
            children = _attribute(node, attribute)
            if isinstance(children, Iterable):
                inside = bound | _names_set_by(node, attribute)
                yield from _uses([c for c in children if isinstance(c, Node)], inside)


def _node_variables(node: Node) -> Iterator[tuple[int | None, Variable]]:
    """The variables of ``node``'s own tag, each with its line."""
    line = _line_of(node)
    if isinstance(node, IfNode):
        # An {% elif %}'s condition is on the line its branch starts on, not the {% if %}'s.
        for n, (condition, branch) in enumerate(node.conditions_nodelists):
            at = _line_of(branch[0]) if n and branch else line
            yield from ((at, variable) for variable in _variables(condition))
        return
    yield from ((line, variable) for variable in _variables(_attributes(node)))


def _line_of(node: Node) -> int | None:
    line = getattr(getattr(node, "token", None), "lineno", None)
    return line if isinstance(line, int) else None


def _attributes(node: Node) -> dict[str, Any]:
    return vars(node) if hasattr(node, "__dict__") else {}


def _attribute(node: Node, name: str) -> Any:
    try:
        return getattr(node, name, None)
    except Exception:  # a tag's property may raise: its children are then not searched
        return None


def _names_set_by(node: Node, attribute: str) -> frozenset[str]:
    """The names ``node`` sets for the nodes in its ``attribute``."""
    if isinstance(node, ForNode):
        loop = [*node.loopvars, "forloop"] if attribute == "nodelist_loop" else []
        return frozenset(loop)
    if isinstance(node, BlockNode):
        return frozenset({"block"})
    extra = _attribute(node, "extra_context")  # {% with %}, {% blocktranslate with %}
    if not isinstance(extra, dict):
        return frozenset()
    return frozenset(name for name in extra if isinstance(name, str))


def _names_set(nodelist: Iterable[Node], loops: bool = False) -> Iterator[str]:
    """The names tags set for the rest of the template (``as x``); with
    ``loops``, also the names ``{% for %}`` and ``{% with %}`` set inside them."""
    for node in nodelist:
        for attribute in _NAME_SETTERS:
            value = _attribute(node, attribute)
            if isinstance(value, str) and value:
                yield value
        for attribute in getattr(node, "child_nodelists", ("nodelist",)):
            children = _attribute(node, attribute)
            if loops:
                yield from _names_set_by(node, attribute)
            if isinstance(children, Iterable):
                yield from _names_set([c for c in children if isinstance(c, Node)], loops)


def _variables(value: object, depth: int = 0) -> Iterator[Variable]:
    """The variables in one of a node's attributes: its filter expressions
    (and their filters' arguments), lists and dicts of them, and the terms
    of an ``{% if %}`` condition. Child nodes are searched on their own."""
    if depth > 8 or isinstance(value, Node | NodeList | str):
        return
    if isinstance(value, Variable):
        yield value
    elif isinstance(value, FilterExpression):
        yield from _variables(value.var, depth + 1)
        for _filter, arguments in value.filters:
            for is_variable, argument in arguments:
                if is_variable:
                    yield from _variables(argument, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in ("token", "origin"):
                yield from _variables(item, depth + 1)
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _variables(item, depth + 1)
    elif isinstance(value, TokenBase):  # a term or an operator of an {% if %}
        yield from _variables(vars(value), depth + 1)


def _merged(problems: list[TemplateProblem]) -> list[TemplateProblem]:
    """One problem per field and wording, with all its lines."""
    merged: dict[tuple[str, str], set[int]] = {}
    for problem in problems:
        merged.setdefault((problem.field, problem.text), set()).update(problem.lines)
    return [
        TemplateProblem(field, tuple(sorted(lines)), text)
        for (field, text), lines in merged.items()
    ]
