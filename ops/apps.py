from __future__ import annotations

from typing import Any

from django.apps import AppConfig, apps
from django.core.management import call_command
from django.db.models.signals import post_migrate


def create_cache_tables(*, using: str, **kwargs: Any) -> None:
    """The tables of the database caches (django-q2's heartbeats, see
    ``CACHES`` in config/settings.py), after every ``migrate``: no separate
    ``createcachetable`` step to forget. Tables that exist are left alone."""
    call_command("createcachetable", database=using, verbosity=0)


class OpsConfig(AppConfig):
    name = "ops"
    verbose_name = "Health and metrics"

    def ready(self) -> None:
        # After django_q's own tables: the cache is its.
        post_migrate.connect(
            create_cache_tables,
            sender=apps.get_app_config("django_q"),
            dispatch_uid="ops.cache_tables",
        )
