from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class PolicyConfig(AppConfig):
    name = "policy"
    verbose_name = _("자동화 정책")

    def ready(self) -> None:
        from policy.roles import ensure_roles

        # Permissions exist only after migrate has run, so the groups are (re)built then.
        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="policy.ensure_roles")
        _connect_agent_cache_clearing()


def _clear_agent_cache(**_kwargs) -> None:
    from inquiries.agent.loader import clear_cache

    clear_cache()


def _connect_agent_cache_clearing() -> None:
    """Keyword, intent, knowledge-base and backend edits apply at once in this process (other processes
    pick them up when the agent's 30-second cache expires)."""
    from django.db.models.signals import post_delete, post_save

    for label in ("policy.RiskKeyword", "inquiries.Intent", "inquiries.KnowledgeEntry", "policy.AutomationSettings"):
        post_save.connect(_clear_agent_cache, sender=label, dispatch_uid=f"agent-cache-save-{label}")
        post_delete.connect(_clear_agent_cache, sender=label, dispatch_uid=f"agent-cache-delete-{label}")
