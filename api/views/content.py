"""The content library: ``Content`` (blocks any message puts in with
``{{ content.<key> }}``) and ``ContentFolder``. Writes go through
``emails.content_library``, the admin's rules. Listrak has no DELETE here:
staff delete a block in the admin, which refuses one a message uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import INT32_MAX, ApiView, parse_id
from api.envelopes import (
    ResourceCreatedSerializer,
    collection,
    operation_schema,
    resource,
    responses,
)
from api.errors import found, invalid, not_found
from api.params import EnumField
from api.routes import route
from api.scopes import Scope
from api.serializers import ApiSerializer, TextField, WholeNumberField, validated
from api.views.lists import BODY_ERRORS, path_id
from emails.content_library import create_block, update_block
from emails.models import BlockType, ContentBlock, ContentFolder

CONTENT_ID = path_id("content_id", "Identifier used to locate the content.")
#: The model fields of a block by their names in this API, for the services' refusals.
PARAMETERS = {
    "name": "contentName",
    "html": "htmlContent",
    "text": "textContent",
    "folder": "contentFolderId",
    "content_type": "contentType",
}
READ_ONLY = (
    "Always false on this server: Listrak sets it for content used in a live dynamic "
    "content block, and this server has no dynamic content blocks (a DynamicContent "
    "block keeps its type and is sent like saved content)."
)
AS_WRITTEN = " Put into messages exactly as written: no merge fields or tags ({{ … }}, {% … %})."


@extend_schema_field(
    {
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": INT32_MAX,
        "nullable": True,
        "description": "Identifier of the content folder to place the content in "
        "(GET ContentFolder lists them); 0 for none, at the top of the library.",
    }
)
class ContentFolderIdField(WholeNumberField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=INT32_MAX, allow_null=True, **kwargs)


def _content_text(description: str) -> TextField:
    return TextField(
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        help_text=description + AS_WRITTEN,
    )


@extend_schema_serializer(component_name="Content")
class ContentSerializer(serializers.Serializer):
    contentId = serializers.IntegerField(source="pk")
    contentFolderId = serializers.IntegerField(
        source="folder_id",
        allow_null=True,
        help_text="Identifier of the content folder; null for none.",
    )
    contentName = serializers.CharField(source="name")
    textContent = serializers.CharField(
        source="text",
        allow_null=True,
        help_text="Plain text content of the content block; null for none.",
    )
    htmlContent = serializers.CharField(
        source="html",
        allow_null=True,
        help_text="HTML content of the content block; null for none.",
    )
    contentType = serializers.ChoiceField(source="content_type", choices=BlockType.values)
    contentReadOnly = serializers.SerializerMethodField(help_text=READ_ONLY)
    lastModifiedDate = serializers.DateTimeField(source="modified_at")
    contentKey = serializers.CharField(
        source="key",
        help_text="Not in Listrak's API: what a message writes to put the block in, as "
        "{{ content.<contentKey> }}. Made from the name when the block is created; never changed.",
    )

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_contentReadOnly(self, block: ContentBlock) -> bool:
        return False

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for key in ("textContent", "htmlContent"):
            data[key] = data[key] or None  # as Listrak: null when there is none
        return data


@extend_schema_serializer(component_name="ContentCreate")
class ContentCreateSerializer(ApiSerializer):
    contentFolderId = ContentFolderIdField(required=False)
    contentName = TextField(max_length=200, help_text="Name given to the content block.")
    textContent = _content_text("Plain text content: what text bodies and subjects get.")
    htmlContent = _content_text("HTML content: what HTML bodies get, not escaped.")
    contentType = EnumField(
        BlockType.values,
        required=False,
        help_text="Type of the content block; SavedContent unless told.",
    )


@extend_schema_serializer(component_name="ContentUpdate")
class ContentUpdateSerializer(ApiSerializer):
    """Every field may be left out (or null): it keeps its value."""

    contentFolderId = ContentFolderIdField(required=False)
    contentName = TextField(
        max_length=200,
        required=False,
        allow_null=True,
        help_text="Name given to the content block.",
    )
    textContent = _content_text("Plain text content: what text bodies and subjects get.")
    htmlContent = _content_text("HTML content: what HTML bodies get, not escaped.")


@extend_schema_serializer(component_name="ContentFolder")
class ContentFolderSerializer(serializers.Serializer):
    contentFolderId = serializers.IntegerField(source="pk")
    listId = serializers.IntegerField(
        source="list_id",
        allow_null=True,
        help_text="Identifier of the list this folder belongs to. "
        "Null indicates a company-level folder.",
    )
    parentFolderId = serializers.IntegerField(
        source="parent_id",
        allow_null=True,
        help_text="Identifier of the parent folder. Null indicates the root folder.",
    )
    folderName = serializers.CharField(source="name")


_content_schema = operation_schema("Content")
_folder_schema = operation_schema("ContentFolder")


def _folder(folder_id: int | None) -> ContentFolder | None:
    """The folder ``contentFolderId`` names; None for 0 (none)."""
    if not folder_id:
        return None
    folder = ContentFolder.objects.filter(pk=folder_id).first()
    if folder is None:
        raise invalid(
            "contentFolderId",
            f"There is no content folder {folder_id}; GET ContentFolder lists them.",
        )
    return folder


@contextmanager
def _block_rules() -> Iterator[None]:
    """The services' refusals, naming this API's parameters."""
    try:
        yield
    except ContentBlock.DoesNotExist:
        raise not_found("contentId") from None
    except ValidationError as refused:
        problems = (
            refused.message_dict if hasattr(refused, "error_dict") else {"": refused.messages}
        )
        names = [PARAMETERS.get(field, "contentResource") for field in problems]
        words = " ".join(message for listed in problems.values() for message in listed)
        raise invalid(", ".join(dict.fromkeys(names)), words) from None


class _ContentView(ApiView):
    required_scopes = (Scope.MESSAGE,)
    session_permissions = ("emails.view_contentblock",)

    def get_block(self, content_id: str) -> ContentBlock:
        pk = parse_id(content_id, "contentId")
        return found(ContentBlock.objects.filter(pk=pk).first(), "contentId")


class ContentCollectionView(_ContentView):
    @_content_schema(
        "GetContentCollection",
        "Get all Content",
        description="Returns the collection of content blocks associated with the account.",
        responses=responses({200: collection(ContentSerializer)}, 401),  # it reads no input
    )
    def get(self, request: Request) -> Response:
        blocks = ContentBlock.objects.order_by("name", "id")
        return self.ok(ContentSerializer(blocks, many=True).data)

    @_content_schema(
        "PostCreateContent",
        "Create Content",
        description="Creates a new content block in the content library; its contentKey is "
        "made from its name.",
        request=ContentCreateSerializer,
        responses=responses({201: ResourceCreatedSerializer}, 400, 401, 413, 415),
    )
    def post(self, request: Request) -> Response:
        data = validated(ContentCreateSerializer, self.body(request))
        with _block_rules():
            block = create_block(
                name=data["contentName"],
                html=data.get("htmlContent") or "",
                text=data.get("textContent") or "",
                folder=_folder(data.get("contentFolderId")),
                content_type=data.get("contentType") or BlockType.SAVED,
            )
        return self.created(block.pk)


class ContentResourceView(_ContentView):
    @_content_schema(
        "GetContentResource",
        "Get a Content",
        description="Returns the specified content block.",
        parameters=[CONTENT_ID],
        responses=responses({200: resource(ContentSerializer)}),
    )
    def get(self, request: Request, content_id: str) -> Response:
        return self.ok(ContentSerializer(self.get_block(content_id)).data)

    @_content_schema(
        "PutUpdateContent",
        "Update a Content",
        description="Updates an existing content block; what the body leaves out (or sends "
        "as null) keeps its value, and its contentKey never changes. Every message using "
        "the block sends it as it is from now on.",
        parameters=[CONTENT_ID],
        request=ContentUpdateSerializer,
        responses=responses({200: resource(ContentSerializer)}, *BODY_ERRORS),
    )
    def put(self, request: Request, content_id: str) -> Response:
        block = self.get_block(content_id)
        data = validated(ContentUpdateSerializer, self.body(request))

        def given(name: str, now: Any) -> Any:
            return now if data.get(name) is None else data[name]  # left out or null: kept

        folder = block.folder
        if data.get("contentFolderId") is not None:
            folder = _folder(data["contentFolderId"])
        with _block_rules():
            update_block(
                block=block,
                name=given("contentName", block.name),
                html=given("htmlContent", block.html),
                text=given("textContent", block.text),
                folder=folder,
                content_type=block.content_type,
            )
        return self.ok(ContentSerializer(block).data)


class ContentFolderCollectionView(ApiView):
    required_scopes = (Scope.MESSAGE,)
    session_permissions = ("emails.view_contentfolder",)

    @_folder_schema(
        "GetContentFolderCollection",
        "Get all Content Folders",
        description="Returns the collection of content library folders associated with the "
        "account.",
        responses=responses({200: collection(ContentFolderSerializer)}, 401),  # it reads no input
    )
    def get(self, request: Request) -> Response:
        folders = ContentFolder.objects.order_by("name", "id")
        return self.ok(ContentFolderSerializer(folders, many=True).data)


urlpatterns = [
    route("Content", ContentCollectionView.as_view()),
    route("Content/<content_id>", ContentResourceView.as_view()),
    route("ContentFolder", ContentFolderCollectionView.as_view()),
]
