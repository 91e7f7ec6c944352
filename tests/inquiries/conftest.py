"""A live setup for send-path tests: the sandbox on loopback, accounts registered at it and here,
automation switched on for real sends, business hours 'always'."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import override_settings

from inquiries.models import Inquiry
from markets.connect import clear_client_cache
from markets.models import MarketAccount
from markets.sandbox import SandboxServer
from policy.models import Mode
from policy.services import SYSTEM, get_phase, rollout_unlock, settings_update
from tests.factories import make_account


@dataclass
class Live:
    sandbox: SandboxServer
    coupang: MarketAccount
    naver: MarketAccount

    def inquiry(
        self,
        account: MarketAccount | None = None,
        *,
        kind: str | None = None,
        status: str = "AUTO_SEND",
        answer: str = "안녕하세요 고객님, 주문하신 상품은 오늘 출고됩니다.",
        **fields,
    ) -> Inquiry:
        account = account or self.coupang
        kind = kind or ("COUPANG_ONLINE" if account.market_code == "COUPANG" else "NAVER_INQUIRY")
        store = self.sandbox.store
        external_id = store.add_inquiry(kind, owner=self._owner(account), days_back=0.5)
        remote = store.get_inquiry(kind, external_id)
        from markets.connect import client_for

        when = _created(remote, kind)
        parsed = next(
            i
            for i in client_for(account).list_inquiries(kind, when - timedelta(hours=1), when + timedelta(hours=1))
            if getattr(i, "external_id", None) == external_id
        )
        return Inquiry.objects.create(
            account=account,
            market_code=account.market_code,
            kind=kind,
            external_id=external_id,
            created_at=parsed.created_at,
            content=parsed.content,
            reply_context=parsed.reply_context or {},
            status=status,
            decision_mode=Mode.LIVE,
            draft_answer=answer,
            final_answer=answer,
            intent="배송문의",
            confidence_score=0.95,
            **fields,
        )

    def _owner(self, account: MarketAccount) -> str:
        return account.vendor_id if account.market_code == "COUPANG" else account.client_id

    def answers(self, inquiry: Inquiry | None = None) -> list:
        if inquiry is None:
            return self.sandbox.store.answers()
        return self.sandbox.store.answers(inquiry.kind, inquiry.external_id)


def _created(remote: dict, kind: str):
    from markets.clients.parsing import parse_market_datetime

    key = {
        "COUPANG_ONLINE": "inquiryAt",
        "COUPANG_CALLCENTER": "inquiryAt",
        "NAVER_QNA": "createDate",
        "NAVER_INQUIRY": "inquiryRegistrationDateTime",
    }[kind]
    return parse_market_datetime(remote[key])


@pytest.fixture
def live(db) -> Iterator[Live]:
    server = SandboxServer(seed=7).start()
    server.store.set_faults(coupang_rps=0, naver_rps=1000, naver_burst=2000)
    cp = server.store.register_coupang_account(vendor_id="A00099999", reply_by="cs-agent")
    nv = server.store.register_naver_account(client_id="naver-live-app")
    coupang = make_account(
        "coupang_main",
        vendor_id=cp.vendor_id,
        access_key=cp.access_key,
        secret_key=cp.secret_key,
        reply_by="cs-agent",
        api_base_url=server.coupang_base_url,
    )
    naver = make_account(
        "smartstore",
        market="SMARTSTORE",
        client_id=nv.client_id,
        client_secret=nv.client_secret,
        api_base_url=server.naver_base_url,
    )
    settings_update(actor=SYSTEM, partial_auto=True, test_mode=False, hours="always")
    for account in (coupang, naver):
        rollout_unlock(account=account, mode=Mode.LIVE, phase=get_phase(3), actor=SYSTEM)
    clear_client_cache()
    with override_settings(CS_MARKET_CONNECT_TIMEOUT=1.0, CS_MARKET_READ_TIMEOUT=0.5, CS_RECONCILE_QUIET_SECONDS=0):
        try:
            yield Live(server, coupang, naver)
        finally:
            clear_client_cache()
            server.stop()
