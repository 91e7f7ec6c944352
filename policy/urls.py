"""The staff pages beside the admin (``policy:dashboard``, ``policy:readiness``, the rollout board and its
preview, an incident, the last 10 minutes' send failures); ``/metrics`` is
routed in the project's urls. Every page here goes through ``admin.site.admin_view``: staff only,
login redirect, no caching, CSRF as in the admin."""

from django.contrib import admin
from django.urls import path

from policy import board, views

app_name = "policy"

urlpatterns = [
    path("dashboard/", admin.site.admin_view(views.dashboard), name="dashboard"),
    path("readiness/", admin.site.admin_view(views.readiness), name="readiness"),
    path("rollout-board/", admin.site.admin_view(board.board), name="board"),
    path("rollout-board/<uuid:account_id>/change/", admin.site.admin_view(board.change), name="board_change"),
    path("incidents/<int:pk>/", admin.site.admin_view(board.incident), name="incident"),
    path("send-failures/recent/", admin.site.admin_view(board.recent_failures), name="recent_failures"),
]
