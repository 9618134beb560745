from django.apps import AppConfig


class ConductorConfig(AppConfig):
    """Workflows ("conversations"). Built by the Conductor issue; it learns of
    contact activity through ``contacts.hooks.activities_recorded``."""

    name = "conductor"
    verbose_name = "Conductor"
