"""API clients in the admin. The secret is shown once, when the client is
created or its secret replaced; it is stored only hashed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, Grant, IDToken, RefreshToken

from api.models import ApiClient
from api.scopes import Scope
from api.services import create_api_client

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups

# Clients are made here, with their scopes; the toolkit's own pages would make
# applications without any. Its access tokens stay listed, to be revoked.
for model in (Application, Grant, IDToken, RefreshToken):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(s.value, s.value) for s in Scope],
        widget=forms.CheckboxSelectMultiple,
        help_text="The areas of the API this client may use.",
    )

    class Meta:
        model = ApiClient
        fields = ["name", "scopes"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["scopes"] = self.instance.scope_list

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if ApiClient.objects.filter(name__iexact=name).exclude(pk=self.instance.pk).exists():
            raise ValidationError(f"An API client named {name} already exists.")
        return name

    def clean_scopes(self) -> str:
        return " ".join(self.cleaned_data["scopes"])


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ["name", "client_id", "scopes", "created_at"]
    search_fields = ["name", "application__client_id"]
    readonly_fields = ["client_id", "created_at"]
    actions = ["replace_secret", "revoke_tokens"]

    def get_fields(self, request: HttpRequest, obj: ApiClient | None = None) -> _FieldGroups:
        return ["name", "scopes"] if obj is None else ["name", "client_id", "scopes", "created_at"]

    @admin.display(description="Client id")
    def client_id(self, obj: ApiClient) -> str:
        return obj.client_id

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        if change:
            with transaction.atomic():
                obj.save()
                Application.objects.filter(pk=obj.application_id).update(name=obj.name)
                # Tokens already issued carry the old scopes; the client asks for new ones.
                AccessToken.objects.filter(application_id=obj.application_id).delete()
            return
        client, secret = create_api_client(name=obj.name, scopes=obj.scopes.split())
        obj.pk, obj.application = client.pk, client.application
        self.message_user(
            request,
            f"Client id: {client.client_id} — client secret: {secret} — "
            "copy the secret now; it cannot be shown again.",
            messages.WARNING,
        )

    @admin.action(
        description="Replace the secret of the selected clients (shown once)",
        permissions=["change"],
    )
    def replace_secret(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        for client in queryset.select_related("application"):
            secret = generate_client_secret()
            with transaction.atomic():
                application = client.application
                application.client_secret = secret  # hashed on save
                application.save()
                AccessToken.objects.filter(application=application).delete()
            self.message_user(
                request,
                f"{client.name}: new client secret {secret} — copy it now.",
                messages.WARNING,
            )

    @admin.action(
        description="Revoke the access tokens of the selected clients", permissions=["change"]
    )
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiClient]) -> None:
        revoked, _ = AccessToken.objects.filter(application__api_client__in=queryset).delete()
        self.message_user(request, f"Revoked {revoked} access tokens.", messages.SUCCESS)
