"""The ops console in a real browser, served as in production: gunicorn with DEBUG off (the project's
``deploy/gunicorn.conf.py``), static files gathered by ``collectstatic`` into a temporary directory and
served by WhiteNoise under their hashed names, on the PostgreSQL test database.

A rollout manager logs in through the login form and works the console as the operations guide asks:
the styled admin index, dashboard and rollout board in Korean; the board's next step with its preview
and a reason; an incident tripped by the monitor, opened from the dashboard, acknowledged and lifted;
the emergency stop from the dashboard. Every Korean page visited is scanned for English UI text.
Screenshots of every page land in var/screenshots/ (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from policy import services
from policy.controls import load_account_controls
from policy.decide import decide_one
from policy.models import AccountRollout, AutomationSettings, Mode, RollbackIncident, RolloutEvent
from policy.preview import preview_change
from policy.roles import ROLE_ROLLOUT_MANAGER
from tests.factories import make_account, make_inquiry
from tests.policy.test_simulate import MIX, seller_facts
from tests.test_korean_ui import ALLOWED_WORDS  # the same words the admin-page scan allows
from tests.test_serving import _collectstatic, _database_url, running_gunicorn

try:
    from playwright.sync_api import expect
except ImportError:  # the ``browser`` fixture skips (or, under CI, fails) with the reason
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "ops-console-pw-5827"
MANAGER = "rollout_manager"
TIMEOUT_MS = 60_000  # a preview replays a week of inquiries through the agent in the server's one worker
# The admin's header colour (--header-bg of admin/css/base.css): only there when the stylesheet loaded.
ADMIN_HEADER_BG = "rgb(65, 118, 144)"
HASHED_BASE_CSS = re.compile(r"/static/admin/css/base\.[0-9a-f]{12}\.css$")

# English seen in the Korean console; none of it may come back.
REPORTED_ENGLISH = [
    "Updated at",
    "Remote ref",
    "Lease expires at",
    "Acknowledged by",
    "not in allowed list",
    "below threshold",
    "Risk keyword",
    "switch_and_mode",
    "SHADOW (",
    ": LIVE",
    "['",
]
WORD_RUN = re.compile(r"(?<![\w/.])[A-Za-z]{2,}(?:[ \-]+[A-Za-z]{2,})+(?![\w/])")  # two or more ASCII words
NOT_PROSE = re.compile(r"https?://\S+|/[\w\-./?=&%]+|\S+@\S+|\b\w*[\d_]\w*\b")  # URLs, paths, codes, numbers


# --- the server, the browser page and what it records ------------------------------------------------


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> Iterator[str]:
    """gunicorn (one worker, DEBUG off) on the test database with freshly collected static files."""
    workdir = tmp_path_factory.mktemp("ops-console")
    static_root = workdir / "static"
    _collectstatic(static_root)
    with running_gunicorn(workdir, DATABASE_URL=_database_url(), DJANGO_STATIC_ROOT=str(static_root)) as url:
        yield url


@pytest.fixture(autouse=True)
def _fast_password_hasher():
    """The password is checked by gunicorn, which has the project's hashers: hash it with them here too."""


@pytest.fixture
def static_responses() -> list:
    return []


@pytest.fixture
def page(browser, server, static_responses):
    context = browser.new_context(
        base_url=server,
        locale="ko-KR",
        timezone_id="Asia/Seoul",
        color_scheme="light",
        viewport={"width": 1366, "height": 900},
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("response", lambda r: static_responses.append(r) if "/static/" in r.url else None)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def shot(page):
    """``shot("ops-01-login")`` saves a full-page screenshot to var/screenshots/ops-01-login.png."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def manager(django_user_model):
    user = django_user_model.objects.create_user(MANAGER, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=ROLE_ROLLOUT_MANAGER))
    return user


def login(page, shot) -> None:
    page.goto(reverse("admin:login"))
    assert_styled(page)
    shot("ops-00-login")
    page.fill("#id_username", MANAGER)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form [type=submit]")
    expect(page.locator("#user-tools")).to_contain_text(MANAGER)


def assert_styled(page) -> None:
    """The page is Korean and the admin's stylesheet, under its hashed name, is applied to it."""
    assert page.evaluate("document.documentElement.lang").startswith("ko"), page.url
    header_bg = page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
    assert header_bg == ADMIN_HEADER_BG, f"{page.url}: the admin's CSS is not applied (#header {header_bg})"
    sheets = page.evaluate("[...document.styleSheets].map(s => s.href || '')")
    assert any(HASHED_BASE_CSS.search(href) for href in sheets), f"{page.url}: no hashed base.css in {sheets}"


def assert_static_served(static_responses: list) -> None:
    assert static_responses, "no static file was requested"
    failed = [f"{r.status} {r.url}" for r in static_responses if r.status != 200]
    assert not failed, failed
    css = [r for r in static_responses if HASHED_BASE_CSS.search(r.url.split("?")[0])]
    assert css and css[0].headers["content-type"].startswith("text/css")


def visit(page, shot, name: str, url: str | None = None) -> None:
    """Open ``url`` (or stay on the page a click led to), check it is styled, keep a screenshot."""
    if url is not None:
        response = page.goto(url)
        assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    page.wait_for_load_state("load")
    assert_styled(page)
    shot(name)


# --- English in the Korean pages ----------------------------------------------------------------------


def english_in(text: str, names: set[str]) -> list[str]:
    """The reported strings found in ``text`` and the runs of English words that are not data."""
    found = [s for s in REPORTED_ENGLISH if s in text]
    allowed = ALLOWED_WORDS | {part for name in names for part in re.split(r"[\W_]+", name.lower()) if part}
    for line in text.splitlines():
        for run in WORD_RUN.findall(NOT_PROSE.sub(" ", line)):
            if not all(word.lower() in allowed for word in re.split(r"[ \-]+", run)):
                found.append(run)
    return sorted(set(found))


def english_on_page(page) -> list[str]:
    from markets.models import MarketAccount

    names = set(MarketAccount.objects.values_list("name", flat=True))
    return english_in(page.locator("body").inner_text(), names)


# --- 1. styled pages ----------------------------------------------------------------------------------


def test_styled_korean_pages__index_dashboard_board(page, shot, static_responses, manager, week):
    login(page, shot)
    visit(page, shot, "ops-01-index")
    expect(page.locator("#ops-links")).to_contain_text("롤아웃 보드")

    page.locator("#ops-links").get_by_role("link", name="운영 대시보드", exact=True).click()
    page.wait_for_url(f"**{reverse('policy:dashboard')}")
    visit(page, shot, "ops-02-dashboard")
    expect(page.locator("#pa-incidents h2")).to_contain_text("열린 롤백 사고")

    page.click("#dashboard-board")
    page.wait_for_url(f"**{reverse('policy:board')}")
    visit(page, shot, "ops-03-board")
    expect(page.locator("#content h1")).to_have_text("롤아웃 보드")
    expect(page.locator("#board-coupang_main")).to_contain_text("계정 모드가 섀도입니다")

    assert_static_served(static_responses)


# --- 2. the board: next step, preview, reason ---------------------------------------------------------


def _next_step(page, shot, name: str, *, account, phase_number: int, reason: str) -> str:
    """Click the account's next-step button, check the preview's numbers, confirm with ``reason``;
    returns the confirmation message."""
    page.click(f"#next-{account.name}")
    page.wait_for_url(f"**{reverse('policy:board_change', args=[account.pk])}?*")
    visit(page, shot, f"{name}-preview")
    expected = preview_change(account=account, phase=services.get_phase(phase_number))
    assert expected.would_auto_send > 0  # the preview has something to show
    expect(page.locator("#preview-total")).to_have_text(str(expected.total))
    expect(page.locator("#preview-auto-send")).to_have_text(str(expected.would_auto_send))
    expect(page.locator("#preview-to-person")).to_have_text(str(expected.to_person))
    expect(page.locator("#preview-by-intent tbody tr[data-intent]")).to_have_count(len(expected.by_intent))

    page.fill("input[name=reason]", reason)
    page.click("#confirm-submit")
    page.wait_for_url(f"**{reverse('policy:board')}")
    visit(page, shot, f"{name}-applied")
    message = page.locator(".messagelist li.success")
    expect(message).to_contain_text("사유가 변경 기록에 남았습니다")
    return message.inner_text()


def test_board__preview_then_unlock_with_a_reason(page, shot, manager, week):
    account, _closed = week
    login(page, shot)
    page.click("#index-board")
    page.wait_for_url(f"**{reverse('policy:board')}")
    visit(page, shot, "ops-10-board")
    row = page.locator(f"#board-{account.name}")
    expect(row.locator("li[aria-current=step]")).to_have_text("섀도")
    expect(page.locator(f"#next-{account.name}")).to_have_text("다음 단계: 테스트 모드")

    messages = [
        _next_step(
            page, shot, "ops-11-test-mode", account=account, phase_number=1, reason="섀도 7일 통계 확인, 테스트 모드로"
        )
    ]
    expect(row.locator("li[aria-current=step]")).to_have_text("테스트")

    expect(page.locator(f"#next-{account.name}")).to_contain_text("다음 단계: 실전송")
    messages.append(
        _next_step(
            page,
            shot,
            "ops-12-phase-1",
            account=account,
            phase_number=1,
            reason="테스트 모드 3일 이상 없음, 1단계 해금",
        )
    )
    phase_1 = services.get_phase(1)
    expect(row.locator("li[aria-current=step]")).to_have_text(f"1단계 {phase_1.name}")
    # global test mode is still on: the board says the account is configured live but runs in test mode
    expect(row).to_contain_text("전역 테스트 모드가 켜져 있어 마켓으로 보내지 않습니다.")

    rollout = AccountRollout.objects.select_related("phase").get(account=account)
    assert rollout.mode == Mode.LIVE and rollout.phase.number == 1
    events = RolloutEvent.objects.filter(action=RolloutEvent.Action.UNLOCK, account=account).order_by("at")
    assert [(e.reason, e.actor_label, e.data["after"]) for e in events] == [
        ("섀도 7일 통계 확인, 테스트 모드로", MANAGER, {"mode": "TEST", "phase": 1}),
        ("테스트 모드 3일 이상 없음, 1단계 해금", MANAGER, {"mode": "LIVE", "phase": 1}),
    ]
    # the account is named as it is spelled (not capitalised) and the mode by its Korean label
    misnamed = [m for m in messages if not m.startswith(f"{account.name}:") and f" {account.name}" not in m]
    assert not misnamed, f"the account is not named as {account.name!r}: {misnamed}"
    codes = [m for m in messages if re.search(r"\b(SHADOW|TEST|LIVE)\b", m)]
    assert not codes, f"mode codes instead of Korean labels: {codes}"


# --- 3. an incident tripped by the monitor ------------------------------------------------------------


def test_incident__opened_from_the_dashboard_acknowledged_and_lifted(page, shot, manager, tripped):
    account, incident, failed = tripped
    assert AccountRollout.objects.get(account=account).locked_at is not None
    login(page, shot)
    page.locator("#ops-links").get_by_role("link", name="운영 대시보드", exact=True).click()
    page.wait_for_url(f"**{reverse('policy:dashboard')}")
    visit(page, shot, "ops-20-dashboard-incident")
    row = page.locator("#pa-incidents tbody tr", has_text=incident.rule.name)
    expect(row).to_contain_text(account.name)

    row.locator("a.incident-link").click()
    page.wait_for_url(f"**{reverse('policy:incident', args=[incident.pk])}")
    visit(page, shot, "ops-21-incident")
    expect(page.locator("#incident-status")).to_have_text(str(RollbackIncident.Status.OPEN.label))
    for attempt in failed:  # the rows that tripped the rule, each linked
        expect(
            page.locator(f'#incident-rows a[href="{reverse("admin:inquiries_sendattempt_change", args=[attempt.pk])}"]')
        ).to_have_count(1)

    page.click("#incident-acknowledge")
    expect(page.locator(".messagelist li.success")).to_contain_text("확인 처리했습니다")
    visit(page, shot, "ops-22-incident-acknowledged")
    expect(page.locator("#incident-status")).to_have_text(str(RollbackIncident.Status.ACKNOWLEDGED.label))
    expect(page.locator("#incident-facts")).to_contain_text(MANAGER)

    expect(page.locator("#incident-lift")).to_have_text(f"계정 {account.name} 다시 해금")
    page.fill("input[name=reason]", "쿠팡 인증키 교체 후 재해금")
    page.click("#incident-lift")
    expect(page.locator(".messagelist li.success")).to_contain_text("조치를 풀었습니다")
    visit(page, shot, "ops-23-incident-lifted")
    expect(page.locator("#incident-lift")).to_have_count(0)

    incident.refresh_from_db()
    assert incident.status == RollbackIncident.Status.ACKNOWLEDGED and incident.acknowledged_by_id == manager.pk
    rollout = AccountRollout.objects.select_related("phase").get(account=account)
    assert rollout.locked_at is None and rollout.mode == Mode.LIVE and rollout.phase.number == 3
    event = RolloutEvent.objects.filter(action=RolloutEvent.Action.UNLOCK, account=account).latest("at")
    assert event.reason == "쿠팡 인증키 교체 후 재해금" and event.actor_label == MANAGER
    assert event.data["before"]["locked"] is True


# --- 4. the emergency stop from the dashboard ---------------------------------------------------------


def test_emergency_stop_from_the_dashboard(page, shot, manager):
    make_account("coupang_main")
    reason = "오답 전송 의심 — 원인 파악 전까지 전체 정지"
    login(page, shot)
    visit(page, shot, "ops-30-dashboard", reverse("policy:dashboard"))
    page.click("#dashboard-emergency-stop")
    visit(page, shot, "ops-31-emergency-stop-confirm")
    expect(page.locator("#content h1")).to_have_text("긴급 정지")
    page.fill("input[name=reason]", reason)
    page.click("#confirm-stop")
    expect(page.locator(".messagelist li.error")).to_contain_text("긴급 정지")

    visit(page, shot, "ops-32-dashboard-stopped", reverse("policy:dashboard"))
    expect(page.locator("#pa-status")).to_contain_text(f"정지 중 — {reason}")
    expect(page.locator("#dashboard-emergency-stop")).to_have_count(0)
    expect(page.locator("#dashboard-stop").get_by_role("link", name="긴급 정지 해제")).to_be_visible()

    conf = AutomationSettings.get_solo()
    assert conf.emergency_stopped_at is not None and conf.emergency_reason == reason and conf.test_mode
    event = RolloutEvent.objects.get(action=RolloutEvent.Action.EMERGENCY_STOP)
    assert event.reason == reason and event.actor_label == MANAGER


# --- 5. no English UI text in the Korean pages --------------------------------------------------------


@pytest.fixture
def console_data(tripped, manager):
    """An acknowledged incident on a locked live account, an inquiry decided there by the real engine
    (so its reasons and trace are real), send failures of the last minutes, and a week of inquiries on
    a shadow account for a preview."""
    locked, incident, failed = tripped
    RollbackIncident.objects.filter(pk=incident.pk).update(
        status=RollbackIncident.Status.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=manager
    )
    decided = make_inquiry(locked, content="주문 취소하고 환불해 주세요. 소송하겠습니다.")
    decide_one(decided, controls=load_account_controls(locked))
    shadow = make_account("coupang_sub")
    seller_facts(shadow)
    now = timezone.now()
    for n, item in enumerate(MIX):
        make_inquiry(
            shadow,
            created_at=now - dt.timedelta(days=n % 6, hours=1),
            content=item["content"],
            title=item.get("title", ""),
            product_id=item.get("product_id", ""),
            product_name=item.get("product_name", ""),
        )
    return {"incident": incident, "decided": decided, "attempt": failed[0], "shadow": shadow}


def test_korean_pages__no_english_ui_text(page, shot, static_responses, console_data):
    shadow, decided = console_data["shadow"], console_data["decided"]
    pages = {
        "ops-40-index": reverse("admin:index"),
        "ops-41-dashboard": reverse("policy:dashboard"),
        "ops-42-board": reverse("policy:board"),
        "ops-43-preview": reverse("policy:board_change", args=[shadow.pk]) + "?mode=LIVE&phase=1",
        "ops-44-incident": reverse("policy:incident", args=[console_data["incident"].pk]),
        "ops-45-incident-admin": reverse("admin:policy_rollbackincident_change", args=[console_data["incident"].pk]),
        "ops-46-recent-failures": reverse("policy:recent_failures"),
        "ops-47-rollouts": reverse("admin:policy_accountrollout_changelist"),
        "ops-48-inquiries": reverse("admin:inquiries_inquiry_changelist"),
        "ops-49-inquiry": reverse("admin:inquiries_inquiry_change", args=[decided.pk]),
        "ops-50-send-attempt": reverse("admin:inquiries_sendattempt_change", args=[console_data["attempt"].pk]),
        "ops-51-emergency-stop": reverse("admin:policy_emergency_stop"),
    }
    login(page, shot)
    problems = {}
    for name, url in pages.items():
        visit(page, shot, name, url)
        if found := english_on_page(page):
            problems[url] = found
    assert_static_served(static_responses)
    assert not problems, "English UI text in the Korean console:\n" + "\n".join(
        f"  {url}: {found}" for url, found in problems.items()
    )


def test_english_scan__flags_ui_text_and_lets_data_through():
    text = (
        "계정 coupang_main: LIVE\nSHADOW (account locked: rollback rule tripped)\n수정 시각 Updated at\n"
        "https://api-gateway.coupang.com/v2/providers 응답 HTTP 503, AUTO_SEND 3건, coupang main, USB-C"
    )
    assert english_in(text, {"coupang_main"}) == [
        ": LIVE",
        "SHADOW (",
        "Updated at",
        "account locked",
        "rollback rule tripped",
    ]
