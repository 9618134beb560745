"""The admin site as this project sets it up, once every app's admin is
loaded (``AdminConfig.ready``): the rule for actions, the internals kept to
superusers, and the home page for marketers (``config.admin_home``).

The rule for actions: each names the permission it needs.

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

The task queue's pages (django-q2) and the OAuth toolkit's are for
superusers only, whatever permissions an account holds: other staff do not
see them on the home page or in the side menu, and their URLs answer 403
saying so (an app's own page, /admin/django_q/, 404, as Django answers for
an app the user may not see).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig
from django.core import checks
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

#: The project's own apps: their actions must declare their permissions.
PROJECT_APPS = (
    "lists",
    "contacts",
    "emails",
    "conductor",
    "broadcasts",
    "integrations",
    "api",
    "signups",
)

#: Packages whose admin pages only superusers may open: the task queue and
#: the OAuth toolkit's tokens, internals where a wrong click drops queued
#: work or a program's access. (API clients are managed on their own page.)
SUPERUSER_ONLY_APPS = ("django_q", "oauth2_provider")

#: The ModelAdmin's pages, refused to other staff with a message of their own.
SUPERUSER_ONLY_VIEWS = ("changelist_view", "add_view", "change_view", "delete_view", "history_view")

#: The ModelAdmin checks the index, the side menu and every page go through.
PERMISSION_CHECKS = (
    "has_module_permission",
    "has_view_permission",
    "has_add_permission",
    "has_change_permission",
    "has_delete_permission",
)


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


def keep_internals_for_superusers(site: admin.AdminSite) -> None:
    """Let only superusers see or use the admins of ``SUPERUSER_ONLY_APPS``."""
    for model, model_admin in site._registry.items():
        if model._meta.app_label not in SUPERUSER_ONLY_APPS:
            continue
        for name in PERMISSION_CHECKS:
            django_check = getattr(model_admin, name)

            def check(
                request: HttpRequest,
                *args: Any,
                django_check: Callable[..., bool] = django_check,
                **kwargs: Any,
            ) -> bool:
                return request.user.is_superuser and django_check(request, *args, **kwargs)

            setattr(model_admin, name, check)
        for name in SUPERUSER_ONLY_VIEWS:
            django_view = getattr(model_admin, name)

            def view(
                request: HttpRequest,
                *args: Any,
                django_view: Callable[..., HttpResponse] = django_view,
                **kwargs: Any,
            ) -> HttpResponse:
                # Django's refusal would suggest asking for a permission, which would not help.
                if not request.user.is_superuser:
                    raise PermissionDenied(
                        "Only superusers may open the task queue's and the OAuth toolkit's pages."
                    )
                return django_view(request, *args, **kwargs)

            setattr(model_admin, name, view)


def show_home_page(site: admin.AdminSite) -> None:
    """Give the index (templates/admin/index.html) the home page's figures
    and sections, and every page's side menu the same sections."""
    from config.admin_home import home_context, sidebar  # import models: only once apps are ready

    django_index = site.index
    django_each_context = site.each_context

    def index(
        request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        home = home_context(request, site, superusers_only=SUPERUSER_ONLY_APPS)
        return django_index(request, {**home, **(extra_context or {})})

    def each_context(request: HttpRequest) -> dict[str, Any]:
        context = django_each_context(request)
        sidebar(site, context)
        return context

    site.index = index  # type: ignore[method-assign]  # deliberately wraps this site's index
    site.each_context = each_context  # type: ignore[method-assign]  # and its pages' context


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
    """``django.contrib.admin``, with the packages' actions tightened, their
    internals kept to superusers and the home page set, once every admin
    module is loaded."""

    def ready(self) -> None:
        super().ready()  # autodiscovers every app's admin module
        require_change_for_package_actions(admin.site)
        refuse_unpermitted_actions(admin.site)
        keep_internals_for_superusers(admin.site)
        show_home_page(admin.site)
