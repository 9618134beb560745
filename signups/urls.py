"""Public pages of subscription points (included at the site's root)."""

from django.urls import path

from signups import views

urlpatterns = [
    path("s/<str:key>/", views.signup_page, name="signup-page"),
    path("s/<str:key>/popup.js", views.popup_script, name="signup-popup-script"),
    path("s/<str:key>/form.js", views.form_script, name="signup-form-script"),
]
