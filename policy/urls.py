"""The staff pages beside the admin (``policy:dashboard``, ``policy:readiness``); ``/metrics`` is
routed in the project's urls. Every page here goes through ``admin.site.admin_view``: staff only,
login redirect, no caching, CSRF as in the admin."""

from django.contrib import admin
from django.urls import path

from policy import views

app_name = "policy"

urlpatterns = [
    path("dashboard/", admin.site.admin_view(views.dashboard), name="dashboard"),
    path("readiness/", admin.site.admin_view(views.readiness), name="readiness"),
]
