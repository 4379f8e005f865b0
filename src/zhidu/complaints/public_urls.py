"""The public complaint page, mounted at /c/: file a complaint, see the receipt, follow it."""

from django.urls import path

from . import views_public

app_name = "complaints_public"
urlpatterns = [
    path("", views_public.submit, name="submit"),
    path("done/", views_public.done, name="done"),
    path("track/", views_public.track, name="track"),
]
