"""The admin's rule for actions: each names the permission it needs.

Django offers an action to everyone who can see a changelist unless the
action declares ``permissions``; a view-only account could then resubscribe
contacts or mail a test. So every action of this project must declare its
permissions (``check_admin_actions``, a system check that fails the start),
and the actions of the packages we use that declare none
(django-q2's "Resubmit selected tasks to queue", the OAuth toolkit's
"Revoke selected access tokens") are given the change permission.

Django hides an action a user may not run and, when one is posted anyway,
answers "No action selected"; here that post is a 403, so a refusal is
plain to whoever sent it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig
from django.core import checks
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

#: The project's own apps: their actions must declare their permissions.
PROJECT_APPS = ("lists", "contacts", "emails", "conductor", "integrations", "api")


def _actions(model_admin: admin.ModelAdmin) -> Iterable[tuple[str, Any]]:
    """Each action's name and function (Any: Django reads attributes such as
    ``allowed_permissions`` off it, and so do we)."""
    for action in model_admin.actions or ():
        function = getattr(type(model_admin), action) if isinstance(action, str) else action
        yield getattr(function, "__name__", str(action)), function


def _is_project_admin(model_admin: admin.ModelAdmin) -> bool:
    return type(model_admin).__module__.split(".")[0] in PROJECT_APPS


def require_change_for_package_actions(site: admin.AdminSite) -> None:
    """Give every action of a package's admin that declares no permissions
    the change permission of its model."""
    for model_admin in site._registry.values():
        if _is_project_admin(model_admin):
            continue
        for _, function in _actions(model_admin):
            if not getattr(function, "allowed_permissions", None):
                function.allowed_permissions = ("change",)


def refuse_unpermitted_actions(site: admin.AdminSite) -> None:
    """Make every admin answer 403 to an action the user may not run."""
    for model_admin in site._registry.values():
        django_changelist_view = model_admin.changelist_view

        def changelist_view(
            request: HttpRequest,
            extra_context: dict[str, Any] | None = None,
            model_admin: admin.ModelAdmin = model_admin,
            django_changelist_view: Callable[..., HttpResponse] = django_changelist_view,
        ) -> HttpResponse:
            name = request.POST.get("action", "") if request.method == "POST" else ""
            if name:
                base_actions = model_admin._get_base_actions()  # type: ignore[attr-defined]  # private ModelAdmin API, not in django-stubs
                known = {found: str(text) for _, found, text in base_actions}
                if name in known and name not in model_admin.get_actions(request):
                    description = known[name].replace("%(verbose_name_plural)s", "items")
                    raise PermissionDenied(
                        f"Your account may not run “{description}” here: it needs the "
                        "permission to change these items (or one made for this action)."
                    )
            return django_changelist_view(request, extra_context)

        model_admin.changelist_view = changelist_view  # type: ignore[method-assign]  # deliberately wraps this instance's view


@checks.register(checks.Tags.admin)
def check_admin_actions(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every action of the project's admins names the permission it needs."""
    problems: list[checks.CheckMessage] = []
    for model, model_admin in admin.site._registry.items():
        if not _is_project_admin(model_admin):
            continue
        for name, function in _actions(model_admin):
            if not getattr(function, "allowed_permissions", None):
                problems.append(
                    checks.Error(
                        f"The admin action {name!r} of {model._meta.label} declares no "
                        "permissions, so every staff account that can view the list may run it.",
                        hint='Declare them: @admin.action(..., permissions=["change"]).',
                        obj=type(model_admin),
                        id="config.E001",
                    )
                )
    return problems


class AdminConfig(DjangoAdminConfig):
    """``django.contrib.admin``, with the packages' actions tightened once
    every admin module is loaded."""

    def ready(self) -> None:
        super().ready()  # autodiscovers every app's admin module
        require_change_for_package_actions(admin.site)
        refuse_unpermitted_actions(admin.site)
