"""The broadcasts' list filters: broadcasts of their own or split tests'
groups, on the broadcast list; and one broadcast's emails, on the
deliveries list (``emails.admin_views.add_delivery_filter``)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from broadcasts.audiences import broadcast_type
from broadcasts.models import Broadcast
from emails.admin_views import add_delivery_filter
from emails.models import Delivery


class SplitTestGroupFilter(admin.SimpleListFilter):
    """Broadcasts of their own, or the groups and winners of split tests."""

    title = "split tests"
    parameter_name = "split_test"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("no", "Broadcasts of their own"), ("yes", "Split tests' groups and winners")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Broadcast]) -> QuerySet[Broadcast]:
        if self.value() == "no":
            return queryset.filter(split_test__isnull=True)
        if self.value() == "yes":
            return queryset.filter(split_test__isnull=False)
        return queryset


class BroadcastFilter(admin.SimpleListFilter):
    """The emails of one broadcast, on the deliveries list."""

    title = "broadcast"
    parameter_name = "broadcast"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        started = Broadcast.objects.filter(started_at__isnull=False).order_by("-started_at")
        shown = list(started.values_list("pk", "name")[:20])
        asked = self.value()
        if (
            asked
            and asked.isascii()
            and asked.isdigit()
            and int(asked) not in {pk for pk, _ in shown}
        ):
            shown += list(Broadcast.objects.filter(pk=int(asked)).values_list("pk", "name"))
        return [(str(pk), name) for pk, name in shown]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> QuerySet[Delivery]:
        value = self.value()
        if not value:
            return queryset
        if not (value.isascii() and value.isdigit()):
            return queryset.none()  # not a broadcast: nothing, rather than everything
        return queryset.filter(source_type=broadcast_type(), source_id=int(value))


add_delivery_filter(BroadcastFilter)
