from django.contrib import admin
from django.urls import path
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("partialauto 운영 콘솔")
admin.site.site_title = _("partialauto")
admin.site.index_title = _("부분 자동 응답 운영")

urlpatterns = [
    path("admin/", admin.site.urls),
]
