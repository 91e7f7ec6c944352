from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

from policy.views import metrics

admin.site.site_header = _("partialauto 운영 콘솔")
admin.site.site_title = _("partialauto")
admin.site.index_title = _("부분 자동 응답 운영")

urlpatterns = [
    # the monitoring dashboard and the readiness page, staff only (before the admin's catch-all)
    path("admin/", include("policy.urls")),
    path("admin/", admin.site.urls),
    # Prometheus scrape target: a staff session or the CS_METRICS_TOKEN bearer token
    path("metrics", metrics, name="metrics"),
]
