"""API clients: an OAuth 2.0 client-credentials application and its scopes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from api.scopes import Scope


class ApiClient(models.Model):
    """A program allowed to call the API (Listrak's "integration").

    Its client id and hashed secret live in django-oauth-toolkit's
    ``Application``; this row adds the scopes it may use.
    """

    name = models.CharField(max_length=100, unique=True)
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="api_client",
        editable=False,
    )
    #: Space-separated ``Scope`` values, as OAuth writes scopes.
    scopes = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name

    @property
    def scope_list(self) -> list[str]:
        return [s for s in self.scopes.split() if s in Scope.__members__.values()]

    @property
    def client_id(self) -> str:
        return self.application.client_id
