"""Creating API clients."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

from api.models import ApiClient
from api.scopes import Scope


def parse_scopes(raw: Iterable[str]) -> list[str]:
    """Scope names, case as Listrak writes them; raises ValidationError naming
    any unknown one, or when there is none."""
    by_lower = {scope.value.lower(): scope.value for scope in Scope}
    scopes: list[str] = []
    unknown: list[str] = []
    for name in raw:
        name = name.strip()
        if not name:
            continue
        if name.lower() not in by_lower:
            unknown.append(name)
        elif by_lower[name.lower()] not in scopes:
            scopes.append(by_lower[name.lower()])
    if unknown:
        raise ValidationError(
            "Unknown scope %(unknown)s; the scopes are %(known)s.",
            code="unknown_scope",
            params={"unknown": ", ".join(unknown), "known": ", ".join(Scope)},
        )
    if not scopes:
        raise ValidationError("Give an API client at least one scope.", code="no_scope")
    return scopes


def create_api_client(*, name: str, scopes: Iterable[str]) -> tuple[ApiClient, str]:
    """Create an API client; returns it with its client secret, which is
    stored only hashed and so cannot be shown again."""
    name = name.strip()
    if not name:
        raise ValidationError("An API client needs a name.", code="no_name")
    scope_list = parse_scopes(scopes)
    if ApiClient.objects.filter(name__iexact=name).exists():
        raise ValidationError(
            "An API client named %(name)s already exists.", code="duplicate", params={"name": name}
        )
    secret = generate_client_secret()
    with transaction.atomic():
        application = Application.objects.create(
            name=name,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,  # hashed on save
            hash_client_secret=True,
        )
        client = ApiClient.objects.create(
            name=name, application=application, scopes=" ".join(scope_list)
        )
    return client, secret
