"""The demo's stage: its accounts and users, the command runner that reports a failed command, and the
setup the story runs on — the sandbox marketplace, the reset that touches only the demo's own accounts,
their registration and facts, the users, and the questions put on the sandbox."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

if TYPE_CHECKING:
    from markets.sandbox import SandboxServer

# The demo's accounts: name → (market, the seller id the demo registers at its sandbox). An account of
# one of these names is the demo's only when its market, that id and a loopback API address all match.
DEMO_ACCOUNTS = {
    "coupang_main": ("COUPANG", "A00010001"),
    "coupang_sub": ("COUPANG", "A00010002"),
    "smartstore": ("SMARTSTORE", "demo-smartstore-app"),
}
ADMIN_USER, MANAGER_USER, AGENT_USER = "demo-admin", "demo-manager", "demo-agent"
DEMO_USERS = (ADMIN_USER, MANAGER_USER, AGENT_USER)
OWN_DATABASE_HINT = gettext_lazy(
    "데모 전용 데이터베이스에서 실행하세요: DATABASE_URL=sqlite:///var/demo.sqlite3 make demo"
)


class DemoError(RuntimeError):
    pass


def _call(*args, **kwargs) -> str:
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=io.StringIO(), **kwargs)
    except SystemExit:
        pass  # readiness exits 1 when not ready; the demo shows the report either way
    except CommandError as exc:
        # The command's own lines name the account that failed and why (its per-account report).
        raise DemoError(
            _("%(command)s 실패: %(error)s") % {"command": " ".join(map(str, args)), "error": exc}
            + "".join(f"\n    {line}" for line in out.getvalue().splitlines())
        ) from exc
    return out.getvalue()


def _own_accounts_args() -> list[str]:
    return [arg for name in DEMO_ACCOUNTS for arg in ("--account", name)]


def _is_demo_account(account) -> bool:
    market, seller_id = DEMO_ACCOUNTS[account.name]
    registered = account.vendor_id if market == "COUPANG" else account.client_id
    return (
        account.market_code == market
        and registered == seller_id
        and account.api_base_url.startswith("http://127.0.0.1:")
    )


class DemoSetup:
    """Sets the stage for :class:`partialauto.demo.Demo`'s story and takes it down again."""

    def __init__(self, echo: Callable[[str], None], *, port: int = 0):
        self.echo = echo
        self.port = port
        self.sandbox: SandboxServer | None = None
        self.started = time.monotonic()

    @property
    def running_sandbox(self) -> SandboxServer:
        """The sandbox :meth:`start_sandbox` started."""
        if self.sandbox is None:
            raise RuntimeError("the demo's sandbox is not running")
        return self.sandbox

    def step(self, title: str) -> None:
        self.echo(f"\n[{time.monotonic() - self.started:5.1f}s] ▶ {title}")

    def show(self, text: str, indent: str = "    ") -> None:
        for line in text.rstrip().splitlines():
            self.echo(indent + line)

    def stop(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()

    # -- setup ----------------------------------------------------------------------------------

    def start_sandbox(self):
        from markets.sandbox import SandboxServer

        self.sandbox = SandboxServer(port=self.port, seed=42).start()
        # Stay well under the real limits: the demo's own client paces itself anyway.
        self.sandbox.store.set_faults(coupang_rps=0, naver_rps=1000, naver_burst=2000)
        return self.sandbox

    def reset_demo_data(self) -> list[str]:
        """Every run tells the same story: the demo's own accounts go, with everything that hangs off them
        (inquiries, orders, poll and order cursors, quotas, incidents, their rollout log, product facts), and
        are registered again. Other accounts, their incidents and the rollback rules are left as they are.
        Returns the names of the other accounts."""
        from inquiries.models import Inquiry
        from markets.models import MarketAccount
        from policy.models import RolloutEvent

        named = list(MarketAccount.objects.filter(name__in=DEMO_ACCOUNTS))
        foreign = [a.name for a in named if not _is_demo_account(a)]
        if foreign:
            raise DemoError(
                _(
                    "계정 %(names)s은(는) 데모 계정과 이름만 같고 데모의 샌드박스 계정이 아닙니다(마켓, 판매자 ID "
                    "또는 로컬 샌드박스 주소가 다름). 데모는 이 계정을 건드리지 않습니다 — %(hint)s"
                )
                % {"names": ", ".join(foreign), "hint": OWN_DATABASE_HINT}
            )
        self.check_shared_state(exclude=[a.pk for a in named])
        with transaction.atomic():
            Inquiry.objects.filter(account__in=named).delete()  # an account's inquiries protect it from deletion
            RolloutEvent.objects.filter(account__in=named).delete()
            MarketAccount.objects.filter(pk__in=[a.pk for a in named]).delete()
        return list(MarketAccount.objects.order_by("name").values_list("name", flat=True))

    def check_shared_state(self, *, exclude: list) -> None:
        """The story switches global test mode off: refuse while another account is unlocked for real sends.
        An emergency stop is lifted only when one of the demo's users set it."""
        from markets.models import MarketAccount
        from policy.models import AutomationSettings, Mode, RolloutEvent

        live = list(
            MarketAccount.objects.exclude(pk__in=exclude)
            .filter(is_active=True, rollout__mode=Mode.LIVE, rollout__locked_at__isnull=True)
            .values_list("name", flat=True)
        )
        if live:
            raise DemoError(
                _(
                    "계정 %(names)s이(가) 실전송(LIVE)으로 해금되어 있습니다. 데모는 전역 테스트 모드를 끄므로 이 "
                    "계정이 실제로 전송하게 됩니다 — 데모는 실행하지 않습니다. %(hint)s"
                )
                % {"names": ", ".join(live), "hint": OWN_DATABASE_HINT}
            )
        glob = AutomationSettings.get_solo()
        if glob.emergency_stopped_at is None:
            return
        stop = RolloutEvent.objects.filter(action=RolloutEvent.Action.EMERGENCY_STOP).select_related("actor").first()
        if stop is None or stop.actor is None or stop.actor.username not in DEMO_USERS:
            raise DemoError(
                _(
                    "긴급 정지 중입니다 (사유: %(reason)s). 데모 사용자가 건 긴급 정지가 아니므로 데모가 풀지 "
                    "않습니다 — 풀려면 `rollout resume --reason …` 후 다시 실행하세요. %(hint)s"
                )
                % {"reason": glob.emergency_reason or "-", "hint": OWN_DATABASE_HINT}
            )
        lifted = _("데모 다시 실행: 데모 사용자 %(user)s의 긴급 정지를 풉니다") % {"user": stop.actor.username}
        _call("rollout", "resume", "--reason", lifted)
        self.echo(f"    {lifted}")

    def register_accounts(self) -> dict:
        from markets import services as market_services
        from markets.connect import clear_client_cache

        store = self.running_sandbox.store
        main = store.register_coupang_account(vendor_id=DEMO_ACCOUNTS["coupang_main"][1], reply_by="demo-cs")
        sub = store.register_coupang_account(vendor_id=DEMO_ACCOUNTS["coupang_sub"][1], reply_by="demo-cs")
        naver = store.register_naver_account(client_id=DEMO_ACCOUNTS["smartstore"][1])
        specs: dict[str, dict[str, Any]] = {
            "coupang_main": dict(
                market_code="COUPANG",
                vendor_id=main.vendor_id,
                access_key=main.access_key,
                secret_key=main.secret_key,
                reply_by="demo-cs",
                api_base_url=self.running_sandbox.coupang_base_url,
                seller_name="행복상점",
            ),
            "coupang_sub": dict(
                market_code="COUPANG",
                vendor_id=sub.vendor_id,
                access_key=sub.access_key,
                secret_key=sub.secret_key,
                reply_by="demo-cs",
                api_base_url=self.running_sandbox.coupang_base_url,
                seller_name="행복상점 아울렛",
            ),
            "smartstore": dict(
                market_code="SMARTSTORE",
                client_id=naver.client_id,
                client_secret=naver.client_secret,
                api_base_url=self.running_sandbox.naver_base_url,
                seller_name="행복상점 스마트스토어",
            ),
        }
        accounts = {name: market_services.account_create(name=name, **spec) for name, spec in specs.items()}
        clear_client_cache()
        return accounts

    def load_seller_facts(self, accounts: dict) -> None:
        """The sandbox catalogue's product facts and one shipping policy for every account: answers are
        written only from such facts, and readiness wants every active account's policy filled in."""
        from django.conf import settings

        examples = settings.BASE_DIR / "docs" / "examples"
        for name in accounts:
            _call("shipping_policy", "import", str(examples / "shipping-policy.json"), "--account", name)
            # Per account, not shared: the facts go with the demo's accounts and never replace another seller's.
            self.show(_call("product_knowledge", "import", str(examples / "product-knowledge.json"), "--account", name))
        self.echo("    배송 정책: 계정 3개 (docs/examples/shipping-policy.json) — 관리자 화면 '마켓 연동 > 배송 정책'")

    def users(self) -> tuple[str, str, str]:
        from policy.roles import ROLE_CS_AGENT, ROLE_ROLLOUT_MANAGER

        User = get_user_model()
        passwords = []
        for username, role, superuser in (
            (ADMIN_USER, None, True),
            (MANAGER_USER, ROLE_ROLLOUT_MANAGER, False),
            (AGENT_USER, ROLE_CS_AGENT, False),
        ):
            password = secrets.token_urlsafe(9)
            user, _created = User.objects.get_or_create(username=username)
            user.is_staff = True
            user.is_superuser = superuser
            user.set_password(password)
            user.save()
            if role:
                user.groups.set([Group.objects.get(name=role)])
            passwords.append(password)
        return tuple(passwords)  # type: ignore[return-value]

    def seed(self, account, count: int, *, days_back: float, risk_ratio: float = 0.12) -> None:
        owner = account.vendor_id if account.market_code == "COUPANG" else account.client_id
        # Spread over the days before the start of this hour, not before "now": two runs of the demo a
        # minute apart then put every question on the same day and tell the same story.
        # (two hours short of ``days_back``, so the first poll's lookback from "now" still covers them all)
        end = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(minutes=1)
        start = end - timedelta(days=days_back) + timedelta(hours=2)
        for kind in account.kinds:
            self.running_sandbox.store.add_inquiries(
                kind, count // 2, owner=owner, answered_ratio=0.1, risk_ratio=risk_ratio, start=start, end=end
            )

    def ask(self, account, questions) -> list[str]:
        """Put the questions on the sandbox marketplace (with their orders); returns their ids."""
        from markets.sandbox.generator import PRODUCTS

        store = self.running_sandbox.store
        now = timezone.now()
        ids = []
        for offset, (kind, text, about) in enumerate(questions):
            asked = (now - timedelta(minutes=30 - offset)).isoformat()
            native: dict = {}
            if "scenario" in about:
                order = store.add_order(
                    "COUPANG",
                    owner=account.vendor_id,
                    scenario=about["scenario"],
                    product=about.get("product"),
                    before=now - timedelta(hours=2),
                )
                native["order"] = order["order_id"]
            elif "product" in about:
                product = next(p for p in PRODUCTS if p.product_id == about["product"])
                native.update(
                    productId=product.product_id,
                    sellerProductId=product.seller_product_id,
                    vendorItemId=product.vendor_item_id,
                    orderIds=None,
                )
            ids.append(store.add_inquiry(kind, owner=account.vendor_id, content=text, created_at=asked, **native))
        return ids
