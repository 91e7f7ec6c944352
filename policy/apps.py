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
