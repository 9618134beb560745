"""The content library's admin: content blocks (what any message puts in
with ``{{ content.<key> }}``) and the folders that file them, of the whole
account or of one list. Every write goes through ``emails.content_library``;
a block a message uses is refused deletion, in words naming the messages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django_ace import AceWidget  # type: ignore[import-untyped]  # it ships no types

from emails.content_library import (
    IN_FOLDER,
    block_problems,
    create_block,
    delete_block,
    folder_paths,
    folder_problems,
    messages_using,
    save_folder,
    update_block,
)
from emails.mailbox import preview_html
from emails.models import ContentBlock, ContentFolder
from lists.admin import DeletesThroughServices, adopt

BLOCK_HELP = {
    "name": "What staff know it by. Renaming it changes nothing in the messages that use it.",
    "folder": "Only files the block: a message of any list may use any block.",
    "content_type": (
        "Kept as Listrak's type for the API. Both are sent the same way: this server has "
        "no dynamic content rules choosing between versions of a block."
    ),
    "html": (
        "Put into a message's HTML body as it is written, not escaped. Its links are tracked "
        "like the message's own. No merge fields or tags: write those in the message, "
        "around the block."
    ),
    "text": (
        "Put into a message's text body and subject. Leave it blank to use text made from "
        "the HTML, as a message's text part is made from its HTML body."
    ),
}
FOLDER_HELP = {
    "list": (
        "Blank: a folder of the whole account. A list's folder files blocks for that list; "
        "any message may still use any block."
    ),
    "parent": (
        "The folder it goes inside, of the same list (or of the whole account, for an "
        "account's folder); blank: at the top. Deleting a folder deletes the folders inside "
        "it; their blocks stay, in no folder."
    ),
}


def _editor(mode: str, rows: int) -> AceWidget:
    # As the message form's (emails.forms): no Ace worker, styles as static files (strict CSP).
    return AceWidget(
        mode=mode,
        theme="textmate",
        wordwrap=True,
        width=None,
        height=None,
        showprintmargin=False,
        useworker=False,
        toolbar=False,
        tabsize=2,
        fontsize="14px",
        useStrictCSP=True,
        attrs={"rows": rows, "class": "vLargeTextField"},
    )


def _label_folders_by_path(field: forms.Field | None) -> None:
    """Show each folder of a choice as its place in the tree, and whose it is."""
    if not isinstance(field, forms.ModelChoiceField):
        return
    paths = folder_paths()

    def label(folder: ContentFolder) -> str:
        place = paths.get(folder.pk, folder.name)
        return f"{place} (list “{folder.list}”)" if folder.list_id else place

    if field.queryset is not None:
        field.queryset = field.queryset.select_related("list")
    field.label_from_instance = label  # type: ignore[method-assign,assignment]  # Django's hook


# --- Folders ---------------------------------------------------------------------------


class ContentFolderForm(forms.ModelForm):
    class Meta:
        model = ContentFolder
        fields = ["name", "list", "parent"]
        labels = {"parent": "Inside"}
        help_texts = FOLDER_HELP

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        probe = ContentFolder(
            pk=self.instance.pk,
            name=cleaned.get("name") or "",
            list=cleaned.get("list"),
            parent=cleaned.get("parent"),
        )
        for field, problems in folder_problems(probe).items():
            if field not in self.errors:
                self.add_error(field if field in self.fields else None, problems)
        return cleaned


@admin.register(ContentFolder)
class ContentFolderAdmin(admin.ModelAdmin):
    form = ContentFolderForm
    list_display = ["place", "of", "blocks_inside"]
    list_filter = ["list"]
    list_select_related = ["list", "parent__parent"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContentFolder]:
        return super().get_queryset(request).annotate(block_count=Count("blocks"))

    @admin.display(description="Folder", ordering="name")
    def place(self, obj: ContentFolder) -> str:
        return _place(obj)

    @admin.display(description="Of")
    def of(self, obj: ContentFolder) -> str:
        return f"List “{obj.list}”" if obj.list_id else "The whole account"

    @admin.display(description="Blocks")
    def blocks_inside(self, obj: ContentFolder) -> int:
        return getattr(obj, "block_count", 0)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "parent":
            _label_folders_by_path(field)
        return field

    def save_model(self, request: HttpRequest, obj: ContentFolder, form: Any, change: bool) -> None:
        save_folder(obj)


# --- Blocks ----------------------------------------------------------------------------


class ContentBlockForm(forms.ModelForm):
    class Meta:
        model = ContentBlock
        fields = ["name", "folder", "content_type", "html", "text"]
        labels = {"content_type": "Type", "html": "HTML", "text": "Text"}
        help_texts = BLOCK_HELP
        widgets = {"html": _editor("html", 18), "text": _editor("text", 10)}

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        problems = block_problems(
            name=cleaned.get("name") or "",
            html=cleaned.get("html") or "",
            text=cleaned.get("text") or "",
        )
        for field, listed in problems.items():
            if field not in self.errors:
                self.add_error(field, listed)
        return cleaned


@admin.register(ContentBlock)
class ContentBlockAdmin(DeletesThroughServices):
    form = ContentBlockForm
    list_display = ["name", "merge_field", "folder_place", "content_type", "modified_at"]
    list_filter = ["content_type", "folder"]
    list_select_related = ["folder__parent__parent"]
    search_fields = ["name", "key"]
    search_help_text = "A block's name or key, or part of one."
    readonly_fields = ["use_it_as", "html_preview", "used_by", "modified_at"]

    class Media:
        # The copy button, and the editors' and preview's sizes.
        js = ["emails/content_block.js"]
        css = {"all": ["emails/content_block.css"]}

    def get_fieldsets(self, request: HttpRequest, obj: ContentBlock | None = None) -> Any:
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ["name", "use_it_as", "folder", "content_type"]}),
            ("Content", {"fields": ["html", "html_preview", "text"], "classes": ["block-content"]}),
        ]
        if obj is not None:
            fieldsets.append(("Used by", {"fields": ["used_by", "modified_at"]}))
        return fieldsets

    @admin.display(description="Merge field", ordering="key")
    def merge_field(self, obj: ContentBlock) -> SafeString:
        return format_html("<code>{}</code>", _tag(obj.key))

    @admin.display(description="Folder", ordering="folder__name")
    def folder_place(self, obj: ContentBlock) -> str:
        return _place(obj.folder) if obj.folder is not None else "—"

    @admin.display(description="Use it as")
    def use_it_as(self, obj: ContentBlock) -> SafeString:
        if obj.pk is None:
            return format_html(
                '<p class="block-note">Made from the name when you save: a block named “Spring '
                "footer” is {}. It never changes after, even when the block is renamed.</p>",
                _tag("spring_footer"),
            )
        tag = _tag(obj.key)
        return format_html(
            '<code class="block-merge-field">{}</code> '
            '<button type="button" class="button block-copy" data-copy="{}">Copy</button>'
            '<p class="block-note">Put it in a message\'s subject or bodies (the message editor '
            "lists the blocks beside the bodies). The key never changes, even when the "
            "block is renamed.</p>",
            tag,
            tag,
        )

    @admin.display(description="HTML as shown")
    def html_preview(self, obj: ContentBlock) -> SafeString:
        if obj.pk is None:
            return format_html('<p class="block-note">{}</p>', "Shown once the block is saved.")
        if not obj.html.strip():
            return format_html(
                '<p class="block-note">{}</p>', "No HTML: an HTML body gets the block's text."
            )
        # sandbox: no scripts, no same origin, no forms: the block cannot act in the admin.
        return format_html(
            '<iframe class="block-preview" title="The block\'s HTML as a mail client shows it" '
            'sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" '
            'srcdoc="{}"></iframe>'
            '<p class="block-note">As saved: its scripts do not run, its links open in a new '
            "tab.</p>",
            preview_html(obj.html),
        )

    @admin.display(description="Messages")
    def used_by(self, obj: ContentBlock) -> SafeString:
        users = messages_using(obj)
        if not users:
            return format_html('<p class="block-note">{}</p>', "No message uses it yet.")
        return format_html(
            '<ul class="block-users">{}</ul>',
            format_html_join(
                "",
                '<li><a href="{}">{}</a></li>',
                ((reverse("admin:emails_message_change", args=[m.pk]), m.name) for m in users),
            ),
        )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "folder":
            _label_folders_by_path(field)
        return field

    def save_model(self, request: HttpRequest, obj: ContentBlock, form: Any, change: bool) -> None:
        name, html, text, folder = obj.name, obj.html, obj.text, obj.folder
        if change:
            update_block(
                block=obj,
                name=name,
                html=html,
                text=text,
                folder=folder,
                content_type=obj.content_type,
            )
        else:
            saved = create_block(
                name=name, html=html, text=text, folder=folder, content_type=obj.content_type
            )
            adopt(obj, saved)

    def delete_model(self, request: HttpRequest, obj: ContentBlock) -> None:
        delete_block(block=obj)


def _place(folder: ContentFolder) -> str:
    """The folder's place in the tree: "Seasonal › Spring" (a handful of levels)."""  # noqa: RUF002 - the admin's breadcrumb sign
    names = [folder.name]
    at, seen = folder.parent, {folder.pk}
    while at is not None and at.pk not in seen:
        names.append(at.name)
        seen.add(at.pk)
        at = at.parent
    return IN_FOLDER.join(reversed(names))


def _tag(key: str) -> str:
    return f"{{{{ content.{key} }}}}"
