from django.contrib import admin
from django.http import HttpRequest

from lists.models import Event, EventGroup, List, ProfileField, ProfileFieldGroup


class ProfileFieldGroupInline(admin.TabularInline):
    model = ProfileFieldGroup
    extra = 0
    fields = ["name", "position"]


class ProfileFieldInline(admin.TabularInline):
    model = ProfileField
    fk_name = "list"
    extra = 0
    fields = ["name", "group", "data_type", "max_length", "position"]
    verbose_name_plural = "profile fields (save new groups first, then add their fields)"

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "group":
            list_id = (
                request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            )
            kwargs["queryset"] = ProfileFieldGroup.objects.filter(list_id=list_id or 0)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(List)
class ListAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "from_email",
        "time_zone",
        "double_opt_in",
        "bounce_handling",
        "created_at",
    ]
    search_fields = ["name"]
    readonly_fields = ["created_at"]
    fieldsets = [
        (None, {"fields": ["name", "from_name", "from_email", "time_zone", "created_at"]}),
        (
            "Subscription",
            {"fields": ["double_opt_in", "bounce_handling", "bounce_unsubscribe_count"]},
        ),
    ]
    inlines = [ProfileFieldGroupInline, ProfileFieldInline]


@admin.register(EventGroup)
class EventGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "list"]
    list_filter = ["list"]
    search_fields = ["name"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["name", "list", "group", "status"]
    list_filter = ["list", "status"]
    search_fields = ["name"]
