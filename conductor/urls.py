"""Public pages of the conductor app (included at the site's root): the
links inside sent emails."""

from django.urls import path

from conductor import views

app_name = "conductor"
urlpatterns = [
    path("t/o/<str:token>/", views.open_pixel, name="track-open"),
    path("t/c/<str:token>/", views.click, name="track-click"),
    path("t/v/<str:token>/", views.browser_version, name="track-view"),
    path("t/f/<str:token>/", views.pass_along, name="track-share"),
    path("t/u/<str:token>/", views.unsubscribe, name="track-unsubscribe"),
    path("webhooks/email-feedback/", views.email_feedback, name="email-feedback"),
]
