"""Public pages of the emails app (included at the site's root): the
links inside sent emails, and the feedback webhook of the mail service."""

from django.urls import path

from emails import views

app_name = "emails"
urlpatterns = [
    path("t/o/<str:token>/", views.open_pixel, name="track-open"),
    path("t/c/<str:token>/", views.click, name="track-click"),
    path("t/v/<str:token>/", views.browser_version, name="track-view"),
    path("t/f/<str:token>/", views.pass_along, name="track-share"),
    path("t/u/<str:token>/", views.unsubscribe, name="track-unsubscribe"),
    path("webhooks/email-feedback/", views.email_feedback, name="email-feedback"),
]
