from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path, reverse
from django.utils.http import urlencode

from contacts.activity_words import plain, sentences
from contacts.addresses import normalise_email
from contacts.admin_contact_pages import (
    page_context,
    profile_display,
    story_view,
    subscription_view,
)
from contacts.forms import BASE_FIELDS, ContactForm, list_of_new_contact, profile_form_name
from contacts.models import Activity, Ban, Contact, SubscribeMethod, Suppression, UnsubscribeMethod
from contacts.paginator import LargeTablePaginator
from contacts.panels import contact_panels
from contacts.services import (
    ContactResult,
    UpdateType,
    ban_addresses,
    subscribe_contacts,
    suppress_addresses,
    unban_addresses,
    unsubscribe_contacts,
    unsuppress_addresses,
    update_profile,
)
from lists.profile_schema import ProfileSchema


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactForm
    list_display = ["email", "list", "state", "subscribed_at", "unsubscribed_at"]
    list_filter = ["list", "state"]
    list_select_related = ["list"]
    search_fields = ["email"]
    search_help_text = "An address, or its beginning, or an email key."
    show_full_result_count = False  # counting millions of rows on every search is slow
    paginator = LargeTablePaginator
    actions = ["subscribe_selected", "unsubscribe_selected", "ban_selected"]
    readonly_fields = [
        "state",
        "subscribed_at",
        "resubscribed_at",
        "subscribe_method",
        "unsubscribed_at",
        "unsubscribe_method",
        "email_key",
        "universal_email_key",
        "created_at",
        "updated_at",
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        # Profile fields are added per contact (or per list chosen) by the form itself.
        kwargs["fields"] = BASE_FIELDS
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self._add_fieldsets(request)
        fields = ProfileSchema(obj.list).fields
        if self.has_change_permission(request, obj):
            profile: list = [profile_form_name(f) for f in fields]
            about = "A blank value clears the field."
        else:
            # Shown read-only: the form's fields are not the model's attributes.
            profile = [profile_display(f) for f in fields]
            about = ""
        # The subscription is told above the form, in words, with its buttons.
        return [
            (None, {"fields": BASE_FIELDS}),
            ("Profile", {"fields": profile, "description": about}),
            (
                "Record",
                {
                    "fields": [
                        "state",
                        ("subscribed_at", "resubscribed_at", "subscribe_method"),
                        ("unsubscribed_at", "unsubscribe_method"),
                        ("created_at", "updated_at"),
                        "email_key",
                        "universal_email_key",
                    ],
                    "classes": ["collapse"],
                    "description": "The contact's row as stored.",
                },
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        # A contact's list and address never change here (an address change
        # is a new contact: contacts.services.change_address).
        fixed = ["list", "email"] if obj is not None else []
        return [*fixed, *self.readonly_fields]

    def _add_fieldsets(self, request: HttpRequest) -> list:
        values = (
            request.POST if request.method == "POST" else self.get_changeform_initial_data(request)
        )
        email_list = list_of_new_contact(values)
        fields = ProfileSchema(email_list).fields if email_list is not None else []
        fieldsets: list = [
            (
                None,
                {
                    "fields": BASE_FIELDS,
                    "description": "The address is subscribed on save (method Admin)."
                    + ("" if email_list else " Choose its list to fill in its profile values."),
                },
            )
        ]
        if fields:
            fieldsets.append(
                (
                    "Profile",
                    {
                        "fields": [profile_form_name(f) for f in fields],
                        "description": f"The profile values of “{email_list}”, each optional.",
                    },
                )
            )
        return fieldsets

    def get_urls(self):
        # The page's own views (contacts.admin_contact_pages), behind the admin's login.
        subscription = path(
            "<path:object_id>/subscription/",
            self.admin_site.admin_view(partial(subscription_view, self)),
            name="contacts_contact_subscription",
        )
        activity = path(
            "<path:object_id>/activity/",
            self.admin_site.admin_view(partial(story_view, self)),
            name="contacts_contact_activity",
        )
        return [subscription, activity, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The sections other apps add (emails sent, conversations), each behind
        # its permission; the subscription with its buttons; the story.
        contact = self.get_object(request, object_id)
        extra = {**(extra_context or {})}
        if contact is not None:
            extra["contact_panels"] = contact_panels.for_user(request, contact)
            extra.update(page_context(self, request, contact))
        return super().change_view(request, object_id, form_url, extra)

    def response_add(self, request, obj, post_url_continue=None):
        response = super().response_add(request, obj, post_url_continue)
        if "_addanother" in request.POST:
            # The next contact most likely goes to the same list: its fields shown at once.
            add = reverse("admin:contacts_contact_add")
            response["Location"] = f"{add}?{urlencode({'list': obj.list_id})}"
        return response

    def get_search_results(self, request, queryset, search_term):
        # Addresses are stored in lower case, so a case-sensitive prefix match finds
        # them; within a list it is a range of the (list, email) unique index.
        term = search_term.strip().lower()
        if not term:
            return queryset, False
        return queryset.filter(email__startswith=term) | queryset.filter(email_key=term), False

    def save_model(self, request, obj: Contact, form: ContactForm, change: bool) -> None:
        if not change:
            (result,) = subscribe_contacts(
                email_list=obj.list,
                emails=[obj.email],
                method=SubscribeMethod.ADMIN,
                initial_profiles={obj.email: form.cleaned_profile()},
            )
            result.raise_error()
            contact = result.contact
            assert contact is not None
            if obj.external_contact_id:
                Contact.objects.filter(pk=contact.pk).update(
                    external_contact_id=obj.external_contact_id
                )
            obj.pk = contact.pk
            obj.refresh_from_db()
            return
        if "external_contact_id" in form.changed_data:
            Contact.objects.filter(pk=obj.pk).update(external_contact_id=obj.external_contact_id)
        update_profile(contact=obj, values=form.profile_values(), update_type=UpdateType.OVERWRITE)

    def has_ban_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("contacts.add_ban")

    @admin.action(
        description="Subscribe selected contacts (overrides an unsubscribe)", permissions=["change"]
    )
    def subscribe_selected(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        self._per_list(
            request,
            queryset,
            lambda email_list, emails: subscribe_contacts(
                email_list=email_list,
                emails=emails,
                method=SubscribeMethod.ADMIN,
                override_unsubscribe=True,
            ),
        )

    @admin.action(description="Unsubscribe selected contacts", permissions=["change"])
    def unsubscribe_selected(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        self._per_list(
            request,
            queryset,
            lambda email_list, emails: unsubscribe_contacts(
                email_list=email_list, emails=emails, method=UnsubscribeMethod.ADMIN
            ),
        )

    @admin.action(description="Ban selected addresses from their list", permissions=["ban"])
    def ban_selected(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        self._per_list(
            request,
            queryset,
            lambda email_list, emails: ban_addresses(
                email_list=email_list, emails=emails, reason="Admin"
            ),
        )

    def _per_list(
        self,
        request: HttpRequest,
        queryset: QuerySet[Contact],
        apply: Callable[..., list[ContactResult]],
    ) -> None:
        by_list = defaultdict(list)
        for contact in queryset.select_related("list"):
            by_list[contact.list].append(contact.email)
        counts: dict[str, int] = defaultdict(int)
        for email_list, emails in by_list.items():
            for result in apply(email_list, emails):
                counts[str(result.outcome)] += 1
        summary = ", ".join(f"{outcome}: {count}" for outcome, count in sorted(counts.items()))
        self.message_user(request, f"Done. {summary}.", messages.SUCCESS)


class NormalisedAddressForm(forms.ModelForm):
    """Bans and suppressions: the address is validated and normalised here, and
    saved through the services (which unsubscribe and record activity)."""

    def clean_email(self) -> str:
        return normalise_email(self.cleaned_data["email"])


@admin.register(Ban)
class BanAdmin(admin.ModelAdmin):
    list_display = ["email", "list", "reason", "created_at"]
    list_filter = ["list"]
    search_fields = ["email"]
    form = NormalisedAddressForm
    fields = ["list", "email", "reason"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: Ban, form, change: bool) -> None:
        ban_addresses(email_list=obj.list, emails=[obj.email], reason=obj.reason)
        obj.pk = Ban.objects.get(list=obj.list, email=obj.email).pk

    def delete_model(self, request, obj: Ban) -> None:
        unban_addresses(email_list=obj.list, emails=[obj.email])

    def delete_queryset(self, request, queryset: QuerySet[Ban]) -> None:
        for ban in queryset.select_related("list"):
            self.delete_model(request, ban)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["email", "reason", "created_at"]
    search_fields = ["email"]
    form = NormalisedAddressForm
    fields = ["email", "reason"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: Suppression, form, change: bool) -> None:
        suppress_addresses(emails=[obj.email], reason=obj.reason)
        obj.pk = Suppression.objects.get(email=obj.email).pk

    def delete_model(self, request, obj: Suppression) -> None:
        unsuppress_addresses(emails=[obj.email])

    def delete_queryset(self, request, queryset: QuerySet[Suppression]) -> None:
        unsuppress_addresses(emails=list(queryset.values_list("email", flat=True)))


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "what_happened", "email", "list"]
    list_filter = ["kind", "list"]
    list_select_related = ["list"]
    search_fields = ["email"]
    show_full_result_count = False
    paginator = LargeTablePaginator
    date_hierarchy = "occurred_at"

    def get_changelist_instance(self, request):
        # Each row in words, the names of the whole page looked up together
        # (contacts.activity_words): one query per kind of name, not per row.
        changelist = super().get_changelist_instance(request)
        changelist.result_list = rows = list(changelist.result_list)
        for activity, text in zip(rows, sentences(rows), strict=True):
            activity.words = text  # read by what_happened below
        return changelist

    @admin.display(description="What happened")
    def what_happened(self, obj: Activity) -> str:
        return getattr(obj, "words", None) or plain(obj)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


from contacts import list_admin  # noqa: E402, F401  (registers List; see its docstring)
from contacts.imports import admin as imports_admin  # noqa: E402, F401  (registers ListImport)
