"""The inquiries app in the admin: the intents and the answer knowledge base here; the other pages are in
their own modules, registered by the imports at the end."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from inquiries.calibration import AGREE_AT, MIN_SAMPLE
from inquiries.models import Inquiry, Intent, KnowledgeEntry


@admin.register(Intent)
class IntentAdmin(SimpleHistoryAdmin):
    list_display = ["name", "description", "agreement", "is_active", "sort_order"]
    list_editable = ["is_active", "sort_order"]
    search_fields = ["name", "description"]

    def get_queryset(self, request):
        since = timezone.now() - timedelta(days=90)
        compared = Inquiry.objects.filter(intent=OuterRef("name"), created_at__gte=since, draft_agreement__isnull=False)
        return (
            super()
            .get_queryset(request)
            .annotate(
                compared=Subquery(compared.values("intent").annotate(n=Count("id")).values("n")[:1]),
                agreed=Subquery(
                    compared.filter(draft_agreement__gte=AGREE_AT)
                    .values("intent")
                    .annotate(n=Count("id"))
                    .values("n")[:1]
                ),
            )
        )

    @admin.display(description=_("초안 일치율 (90일)"))
    def agreement(self, obj: Intent) -> str:
        compared = getattr(obj, "compared", None) or 0
        if not compared:
            return "-"
        agreed = getattr(obj, "agreed", None) or 0
        note = "" if compared >= MIN_SAMPLE else str(_(" (표본 부족)"))
        return f"{agreed / compared * 100:.0f}% ({agreed}/{compared}){note}"


@admin.register(KnowledgeEntry)
class KnowledgeEntryAdmin(SimpleHistoryAdmin):
    list_display = ["title", "intent", "account", "product_id", "priority", "is_active", "updated_at"]
    list_filter = ["intent", "is_active", "account"]
    list_select_related = ["intent", "account"]
    search_fields = ["title", "body"]


# --- the other pages (each module registers its own) ----------------------------------------------


from inquiries import admin_inquiries as admin_inquiries  # noqa: E402  (registers the inquiry pages)
from inquiries import admin_knowledge as admin_knowledge  # noqa: E402  (registers the product knowledge pages)
from inquiries import admin_models as admin_models  # noqa: E402  (registers the trained versions' pages)
from inquiries import admin_review as admin_review  # noqa: E402  (registers the review queue)
