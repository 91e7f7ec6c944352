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
        _connect_lower_layers()
        from policy import config_version

        config_version.connect()


def _give_rollout(*, account, **_kwargs) -> None:
    from policy.services import rollout_for

    rollout_for(account)


def _keyword_rows(categories: tuple[str, ...]):
    from policy.models import RiskKeyword

    return RiskKeyword.objects.filter(is_active=True, category__in=categories).values_list(
        "term", "category", "variants"
    )


def _agent_backend() -> str | None:
    from policy.models import AutomationSettings

    return AutomationSettings.objects.filter(pk=1).values_list("agent_backend", flat=True).first()


def _approved_answer_held(inquiry_id: int) -> bool:
    from policy.sending import approved_answer_held

    return approved_answer_held(inquiry_id)


def _connect_lower_layers() -> None:
    """What ``markets`` and ``inquiries`` ask of this layer, handed to them (they never import it)."""
    from inquiries import hooks
    from markets.signals import account_added

    account_added.connect(_give_rollout, dispatch_uid="policy.give_rollout")
    hooks.register(keyword_rows=_keyword_rows, agent_backend=_agent_backend, approved_answer_held=_approved_answer_held)


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
