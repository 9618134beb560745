"""Public pages of the contacts app (included at the site's root)."""

from django.urls import path

from contacts.views import confirm_subscription_view

urlpatterns = [
    path("confirm/<str:token>/", confirm_subscription_view, name="optin-confirm"),
]
