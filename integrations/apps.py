from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Outbound integrations (Segment). Built by the Segment issue; it learns of
    contact activity through ``contacts.hooks.activities_recorded``."""

    name = "integrations"
    verbose_name = "Integrations"
