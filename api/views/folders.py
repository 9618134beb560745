"""``Folder`` (folders that group lists; a list's own ``folderId`` says
which it is in) and ``IpPool``: this server sends every email through the
one mail server its settings name, so it has one pool, which says where."""

from __future__ import annotations

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView, parse_id
from api.envelopes import (
    ResourceCreatedSerializer,
    collection,
    operation_schema,
    resource,
    responses,
)
from api.errors import invalid, not_found
from api.routes import route
from api.scopes import Scope
from api.serializers import ApiSerializer, TextField, validated
from api.views.lists import path_id
from lists.folders import FolderNameTaken, create_folder, rename_folder
from lists.models import Folder

FOLDER_ID = path_id("folder_id", "Identifier used to locate the folder.")

#: The one pool: every email goes through the same mail server.
DEFAULT_POOL_ID = 1


@extend_schema_serializer(component_name="Folder")
class FolderSerializer(ApiSerializer):
    folderId = serializers.IntegerField(source="pk", read_only=True)
    folderName = TextField(source="name", max_length=200)


_folder_schema = operation_schema("Folder")


class _FolderView(ApiView):
    required_scopes = (Scope.LIST,)
    session_permissions = ("lists.view_folder",)


class FolderCollectionView(_FolderView):
    @_folder_schema(
        "GetFolderCollection",
        "Get all Folders",
        responses=responses({200: collection(FolderSerializer)}, 401),  # it reads no input
    )
    def get(self, request: Request) -> Response:
        return self.ok(FolderSerializer(Folder.objects.order_by("name", "id"), many=True).data)

    @_folder_schema(
        "PostFolderResource",
        "Create a Folder",
        request=FolderSerializer,
        responses=responses({201: ResourceCreatedSerializer}, 400, 401, 413, 415),
    )
    def post(self, request: Request) -> Response:
        data = validated(FolderSerializer, self.body(request))
        try:
            folder = create_folder(**data)
        except FolderNameTaken as taken:
            raise invalid("folderName", taken.worded()) from None
        return self.created(folder.pk)


class FolderView(_FolderView):
    @_folder_schema(
        "GetFolderResource",
        "Get a Folder",
        parameters=[FOLDER_ID],
        responses=responses({200: resource(FolderSerializer)}),
    )
    def get(self, request: Request, folder_id: str) -> Response:
        return self.ok(FolderSerializer(self.get_folder(folder_id)).data)

    @_folder_schema(
        "PutFolderResource",
        "Update a Folder",
        parameters=[FOLDER_ID],
        request=FolderSerializer,
        responses=responses({200: ResourceCreatedSerializer}, 400, 401, 404, 413, 415),
    )
    def put(self, request: Request, folder_id: str) -> Response:
        folder = self.get_folder(folder_id)
        data = validated(FolderSerializer, self.body(request))
        try:
            rename_folder(folder=folder, **data)
        except FolderNameTaken as taken:
            raise invalid("folderName", taken.worded()) from None
        except Folder.DoesNotExist:
            raise not_found("folderId") from None
        return self.updated(folder.pk)

    def get_folder(self, folder_id: str) -> Folder:
        folder = Folder.objects.filter(pk=parse_id(folder_id, "folderId")).first()
        if folder is None:
            raise not_found("folderId")
        return folder


# --- IP pools --------------------------------------------------------------------


@extend_schema_serializer(component_name="IpPool")
class IpPoolSerializer(ApiSerializer):
    ipPoolId = serializers.IntegerField()
    ipPoolDescription = serializers.CharField()


#: Django's own backends that send nothing, in words.
_KEPT = {
    "django.core.mail.backends.console.EmailBackend": "is written to the server's console",
    "django.core.mail.backends.filebased.EmailBackend": "is written to files",
    "django.core.mail.backends.locmem.EmailBackend": "is kept in memory",
    "django.core.mail.backends.dummy.EmailBackend": "is thrown away",
    "emails.mailbox.MailboxBackend": "is kept in the development mailbox",
}


def where_mail_goes() -> str:
    """Where every email goes, in words, from the email settings (never a
    login or password): the mail server's address for SMTP, the service
    for an email service's API, or that emails are kept and not sent."""
    backend = settings.EMAIL_BACKEND
    kept = _KEPT.get(backend)
    if kept is not None:
        return f"Default: every email {kept}, not sent ({backend})."
    if backend.startswith("anymail.backends."):
        service = backend.split(".")[2]
        return f"Default: every email goes through {service}'s API (django-anymail)."
    if issubclass(import_string(backend), SmtpBackend):
        secure = settings.EMAIL_USE_TLS or settings.EMAIL_USE_SSL
        return (
            "Default: every email goes through the mail server "
            f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}{' over TLS' if secure else ''}."
        )
    return f"Default: every email goes through the email backend {backend}."


class IpPoolCollectionView(ApiView):
    # The reference's security block names no scope: any token may read it.
    required_scopes = ()
    session_permissions = ("lists.view_list",)

    @operation_schema("IpPool")(
        "GetIpPoolCollection",
        "Get all IpPools",
        responses=responses({200: collection(IpPoolSerializer)}, 401),  # it reads no input
    )
    def get(self, request: Request) -> Response:
        pool = {"ipPoolId": DEFAULT_POOL_ID, "ipPoolDescription": where_mail_goes()}
        return self.ok([pool])


urlpatterns = [
    route("Folder", FolderCollectionView.as_view()),
    route("Folder/<folder_id>", FolderView.as_view()),
    route("IpPool", IpPoolCollectionView.as_view()),
]
