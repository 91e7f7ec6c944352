"""The seller's shipping policy: services, the `shipping_policy` command (show, import, export, every
refusal), the admin (Korean fieldsets and messages, completeness, the account page link, permissions)."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from markets import services
from markets.models import ShippingPolicy
from policy.roles import ROLE_CS_AGENT, ROLE_ROLLOUT_MANAGER
from tests.factories import EXAMPLES, SECRET_VALUES, make_account, make_shipping_policy

pytestmark = pytest.mark.django_db

SAMPLE = EXAMPLES / "shipping-policy.json"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("shipping_policy", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def write(tmp_path, name: str, content) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(
            content if isinstance(content, str) else json.dumps(content, ensure_ascii=False), encoding="utf-8"
        )
    return str(path)


@pytest.fixture
def main():
    return make_account("coupang_main")


@pytest.fixture
def store():
    return make_account("smartstore", market="SMARTSTORE")


def policy_values(account) -> dict:
    return {k: v for k, v in services.shipping_policy_export(account=account).items() if k != "account"}


# --- the sample ---------------------------------------------------------------------------------------


def test_sample_is_the_policy_of_the_brief(main):
    out = run("import", str(SAMPLE), "--account", "coupang_main")
    assert out.startswith("coupang_main: 새로 만듦 — 입력 완료")
    policy = ShippingPolicy.objects.get(account=main)
    assert policy.is_complete
    assert (policy.dispatch_cutoff, policy.dispatch_lead_days, policy.carrier_code) == (dt.time(14, 0), 0, "CJGLS")
    assert (policy.base_fee, policy.free_shipping_threshold, policy.jeju_surcharge, policy.remote_surcharge) == (
        3000,
        30000,
        3000,
        5000,
    )
    assert (policy.return_fee, policy.exchange_fee, policy.stalled_after_days) == (3000, 6000, 4)
    assert not (policy.dawn_delivery or policy.convenience_pickup or policy.overseas_shipping)
    assert policy.return_address
    # the tests' factory is the same policy
    assert policy_values(make_account("other")) != policy_values(main)
    assert policy_values(make_shipping_policy(make_account("third")).account) == policy_values(main)


# --- services -----------------------------------------------------------------------------------------


def test_get_or_create_and_update_with_history(main, admin_user):
    policy = services.shipping_policy_get_or_create(account=main)
    assert services.shipping_policy_get_or_create(account=main).pk == policy.pk
    assert not policy.is_complete and len(policy.missing) == len(ShippingPolicy.REQUIRED)
    services.shipping_policy_update(
        account=main, values={"base_fee": 2500, "carrier_code": "HANJIN"}, actor=admin_user, reason="운영팀 요청"
    )
    policy.refresh_from_db()
    assert policy.base_fee == 2500 and policy.carrier_code == "HANJIN"
    record = policy.history.first()
    assert record.history_user == admin_user and record.history_change_reason == "운영팀 요청"
    count = policy.history.count()
    services.shipping_policy_update(account=main, values={"base_fee": 2500})  # no change: no history row
    assert policy.history.count() == count


def test_update_refuses_with_korean_sentences_per_field(main):
    with pytest.raises(services.ShippingPolicyError) as exc:
        services.shipping_policy_update(
            account=main, values={"transit_days_min": 3, "transit_days_max": 2, "base_fee": -5, "carrier_code": "UPS"}
        )
    errors = exc.value.errors
    assert errors["transit_days_min"] == [
        "최소 일수(3일)가 최대 일수(2일)보다 큽니다. 최소 일수는 최대 일수 이하로 입력하세요."
    ]
    assert errors["base_fee"] == ["0~1,000,000 사이의 금액(원, 정수)으로 입력하세요. 입력값: -5"]
    assert errors["carrier_code"][0].startswith(
        "알 수 없는 택배사 코드입니다: UPS. 쓸 수 있는 코드: CJGLS (CJ대한통운)"
    )
    assert "출고 후 도착까지 최소 일수: 최소 일수(3일)" in str(exc.value)
    assert not ShippingPolicy.objects.exists()


# --- command: import, show, export -------------------------------------------------------------------


def test_import_list_with_accounts_then_show_and_export_round_trip(tmp_path, main, store):
    data = [
        {"account": "coupang_main", **json.loads(SAMPLE.read_text(encoding="utf-8"))},
        {"account": "smartstore", "dispatch_cutoff": "13:30", "carrier_code": "HANJIN", "base_fee": 0},
    ]
    out = run("import", write(tmp_path, "all.json", data))
    assert "coupang_main: 새로 만듦 — 입력 완료" in out
    assert "smartstore: 새로 만듦 — 미입력: 반품 배송비(편도, 원), 교환 배송비(왕복, 원), 반품·교환 보낼 주소" in out
    shown = run("show")
    assert "coupang_main (COUPANG): 입력 완료" in shown
    assert (
        "  기본 배송비(원) (base_fee): 3,000원" in shown and "  당일 출고 마감 시각 (dispatch_cutoff): 14:00" in shown
    )
    assert (
        "  택배사 (carrier_code): CJ대한통운 (CJGLS)" in shown
        and "  새벽배송 제공 (dawn_delivery): 아니오 (false)" in shown
    )
    assert "smartstore (SMARTSTORE): 미입력: 반품 배송비(편도, 원)" in shown
    assert "shipping_policy import FILE --account smartstore" in shown
    for secret in SECRET_VALUES.values():
        assert secret not in shown
    exported = run("export")
    assert [p["account"] for p in json.loads(exported)] == ["coupang_main", "smartstore"]
    # export → import → export is the same file
    ShippingPolicy.objects.all().delete()
    run("import", write(tmp_path, "back.json", exported))
    assert run("export") == exported


def test_export_one_account_is_an_object_and_copies_to_another(tmp_path, main, store):
    run("import", str(SAMPLE), "--account", "coupang_main")
    one = json.loads(run("export", "--account", "coupang_main"))
    assert one["account"] == "coupang_main" and one["dispatch_cutoff"] == "14:00" and one["base_fee"] == 3000
    del one["account"]  # without its account the object applies to --account
    run("import", write(tmp_path, "copy.json", one), "--account", "smartstore")
    assert policy_values(store) == policy_values(main)


def test_export_without_a_policy_writes_nothing(main):
    data = json.loads(run("export", "--account", "coupang_main"))
    assert data["dispatch_cutoff"] is None and data["dispatch_lead_days"] == 0
    assert not ShippingPolicy.objects.exists()
    assert "배송 정책 없음" in run("show", "--account", "coupang_main")


def test_import_csv_only_the_given_columns_change(tmp_path, main, store):
    run("import", str(SAMPLE), "--account", "coupang_main")
    csv = (
        "account,base_fee,free_shipping_threshold,ships_on_saturday,carrier_code\n"
        'coupang_main,"2,500",,TRUE,롯데택배\n'
        "smartstore,0,,false,KGB\n"
    )
    out = run("import", write(tmp_path, "fees.csv", csv))
    assert "coupang_main: 변경 — 입력 완료" in out and "smartstore: 새로 만듦 — 미입력:" in out
    policy = ShippingPolicy.objects.get(account=main)
    assert (policy.base_fee, policy.free_shipping_threshold, policy.ships_on_saturday, policy.carrier_code) == (
        2500,
        None,
        True,
        "HYUNDAI",
    )
    assert policy.return_fee == 3000 and policy.dispatch_cutoff == dt.time(14, 0)  # not in the file: kept
    assert run("import", write(tmp_path, "fees2.csv", csv)).count("변경 없음") == 2


def test_import_with_account_takes_that_entry_and_skips_the_others(tmp_path, main, store):
    data = [{"account": "coupang_main", "base_fee": 1000}, {"account": "smartstore", "base_fee": 2000}]
    out = run("import", write(tmp_path, "two.json", data), "--account", "smartstore")
    assert "smartstore: 새로 만듦" in out and "건너뜀 (--account가 아닌 계정): coupang_main" in out
    assert list(ShippingPolicy.objects.values_list("account__name", "base_fee")) == [("smartstore", 2000)]


REFUSALS = [
    ("bad.json", "{", "JSON 형식이 올바르지 않습니다"),
    ("list.json", "[1]", '1번째 항목: 정책은 {"account": …, "base_fee": …} 같은 객체여야 합니다.'),
    (
        "noacct.json",
        {"base_fee": 1},
        "2번째 항목: 계정이 없습니다. 파일에 account를 적거나 --account로 계정을 지정하세요.",
    ),
    (
        "ghost.json",
        {"account": "ghost", "base_fee": 1},
        "2번째 항목: 알 수 없는 계정입니다: ghost. 등록된 계정: coupang_main, smartstore",
    ),
    (
        "dup.json",
        [{"account": "coupang_main"}, {"account": "coupang_main"}],
        "2번째 항목: 계정 coupang_main의 정책이 1번째 항목에도 있습니다",
    ),
    (
        "time.json",
        {"account": "coupang_main", "dispatch_cutoff": "2pm"},
        (
            "dispatch_cutoff [당일 출고 마감 시각]: HH:MM 형식의 시각으로 적어 주세요 "
            "(00:00~23:59, 예: 14:00). 입력값: 2pm"
        ),
    ),
    (
        "fee.json",
        {"account": "coupang_main", "return_fee": -3000},
        "2번째 항목 (coupang_main) return_fee [반품 배송비(편도, 원)]: 0~1,000,000 "
        "사이의 금액(원, 정수)으로 입력하세요. "
        "입력값: -3000",
    ),
    (
        "text.json",
        {"account": "coupang_main", "return_fee": "삼천원"},
        "return_fee [반품 배송비(편도, 원)]: 0 이상의 금액(원, 정수)으로 적어 주세요. 입력값: 삼천원",
    ),
    (
        "float.json",
        {"account": "coupang_main", "base_fee": 2500.5},
        "base_fee [기본 배송비(원)]: 0 이상의 금액(원, 정수)",
    ),
    (
        "big.json",
        {"account": "coupang_main", "base_fee": 30000000},
        "base_fee [기본 배송비(원)]: 0~1,000,000 사이의 금액(원, 정수)으로 입력하세요. 입력값: 30000000",
    ),
    (
        "days.json",
        {"account": "coupang_main", "stalled_after_days": 0},
        "stalled_after_days [배송 정체로 볼 일수]: 1~30 사이의 일수(정수)로 입력하세요. 입력값: 0",
    ),
    (
        "bool.json",
        {"account": "coupang_main", "dawn_delivery": "yes"},
        "dawn_delivery [새벽배송 제공]: true 또는 false로 적어 주세요. 입력값: yes",
    ),
    (
        "null.json",
        {"account": "coupang_main", "ships_on_saturday": None},
        "ships_on_saturday [토요일 출고]: 값이 비어 있습니다. 이 항목은 비울 수 없습니다.",
    ),
    (
        "carrier.json",
        {"account": "coupang_main", "carrier_code": "UPS"},
        "carrier_code [택배사]: 알 수 없는 택배사입니다: UPS.",
    ),
    (
        "field.json",
        {"account": "coupang_main", "basefee": 1},
        "알 수 없는 항목입니다: basefee. 쓸 수 있는 항목: account, dispatch_cutoff",
    ),
    (
        "minmax.json",
        {"account": "coupang_main", "transit_days_min": 3, "transit_days_max": 2},
        "transit_days_min [출고 후 도착까지 최소 일수]: 최소 일수(3일)가 최대 일수(2일)보다 큽니다",
    ),
    ("unknown.csv", "account,base_fee,colour\ncoupang_main,1,red\n", "1행(머리글): 알 수 없는 열입니다: colour"),
    ("noacct.csv", "base_fee\n1\n", "2행: 계정이 없습니다. 파일에 account를 적거나 --account로 계정을 지정하세요."),
    (
        "cell.csv",
        "account,dispatch_lead_days\ncoupang_main,\n",
        "2행 (coupang_main) dispatch_lead_days [출고까지 영업일]: 값이 비어",
    ),
    (
        "cp949.csv",
        "account,return_address\ncoupang_main,서울시\n".encode("cp949"),
        "2행: UTF-8로 읽을 수 없는 글자가 있습니다",
    ),
]


@pytest.mark.parametrize("name, content, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_import_refuses_a_bad_file_and_writes_nothing(tmp_path, main, store, name, content, message):
    make_shipping_policy(main)
    before = policy_values(main)
    if isinstance(content, (dict, list)):
        content = [{"account": "smartstore", "base_fee": 1}, content] if isinstance(content, dict) else content
    with pytest.raises(CommandError) as exc:
        run("import", write(tmp_path, name, content))
    text = str(exc.value)
    assert text.startswith("가져오지 않았습니다. 아무것도 바뀌지 않았습니다.") and message in text, text
    assert policy_values(main) == before
    assert not ShippingPolicy.objects.filter(account=store).exists()  # the good entry was not written either


def test_refusals_about_files_and_accounts(tmp_path, main):
    with pytest.raises(CommandError, match="파일을 읽을 수 없습니다"):
        run("import", str(tmp_path / "nope.json"))
    with pytest.raises(CommandError, match="알 수 없는 계정입니다: 'ghost'"):
        run("import", str(SAMPLE), "--account", "ghost")
    with pytest.raises(CommandError, match="알 수 없는 계정입니다: 'ghost'"):
        run("show", "--account", "ghost")
    other = write(tmp_path, "other.json", {"account": "coupang_main", "base_fee": 1})
    make_account("smartstore", market="SMARTSTORE")
    with pytest.raises(CommandError, match="파일에 계정 smartstore의 정책이 없습니다. 파일에 있는 계정: coupang_main"):
        run("import", other, "--account", "smartstore")
    assert not ShippingPolicy.objects.exists()


# --- admin --------------------------------------------------------------------------------------------


def admin_post_data(account=None, **changes) -> dict:
    data = {
        "dispatch_cutoff": "14:00",
        "dispatch_lead_days": "0",
        "carrier_code": "CJGLS",
        "transit_days_min": "1",
        "transit_days_max": "2",
        "stalled_after_days": "4",
        "base_fee": "3000",
        "free_shipping_threshold": "30000",
        "jeju_surcharge": "3000",
        "remote_surcharge": "5000",
        "return_fee": "3000",
        "exchange_fee": "6000",
        "return_address": "경기도 파주시 물류로 1 행복상점 반품센터",
    }
    if account is not None:
        data["account"] = str(account.pk)
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_admin_changelist_shows_completeness_and_filters(admin_client, main, store):
    make_shipping_policy(main)
    make_shipping_policy(store, return_address="", exchange_fee=None)
    url = reverse("admin:markets_shippingpolicy_changelist")
    page = admin_client.get(url).content.decode()
    assert 'style="color:#2e7d32">✓ 입력 완료' in page
    assert 'style="color:#ba2121">✗ 빠진 항목: 교환 배송비(왕복, 원), 반품·교환 보낼 주소' in page
    assert admin_client.get(url, {"complete": "no"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"complete": "yes"}).context["cl"].result_count == 1


def test_admin_add_from_the_account_page_with_korean_fieldsets(admin_client, admin_user, main, store):
    make_shipping_policy(store)
    page = admin_client.get(reverse("admin:markets_marketaccount_change", args=[main.pk])).content.decode()
    add_url = reverse("admin:markets_shippingpolicy_add") + f"?account={main.pk}"
    assert "배송 정책이 없습니다" in page and add_url in page
    form_page = admin_client.get(add_url)
    html = form_page.content.decode()
    for title in ("출고", "배송비", "반품·교환", "제공 서비스"):
        assert f'class="fieldset-heading">{title}</h2>' in html
    assert f'<option value="{main.pk}" selected>coupang_main' in html
    choices = [str(c[0]) for c in form_page.context["adminform"].form.fields["account"].choices]
    assert str(main.pk) in choices and str(store.pk) not in choices  # one policy per account
    response = admin_client.post(reverse("admin:markets_shippingpolicy_add"), admin_post_data(main))
    assert response.status_code == 302
    policy = ShippingPolicy.objects.get(account=main)
    assert policy.is_complete and policy.history.first().history_user == admin_user
    page = admin_client.get(reverse("admin:markets_marketaccount_change", args=[main.pk])).content.decode()
    assert reverse("admin:markets_shippingpolicy_change", args=[policy.pk]) in page and "배송 정책 수정" in page
    listing = admin_client.get(reverse("admin:markets_marketaccount_changelist")).content.decode()
    assert 'style="color:#2e7d32">✓ 입력 완료' in listing


@pytest.mark.parametrize(
    "changes, field_message",
    [
        (
            {"transit_days_min": "3", "transit_days_max": "2"},
            "최소 일수(3일)가 최대 일수(2일)보다 큽니다. 최소 일수는 최대 일수 이하로 입력하세요.",
        ),
        ({"dispatch_cutoff": "오후 두시"}, "시각은 HH:MM 형식으로 입력하세요 (00:00~23:59, 예: 14:00)."),
        ({"base_fee": "3,000원"}, "숫자(정수)만 입력하세요. 금액은 원 단위, 기간은 일 단위입니다."),
        ({"base_fee": "5000000"}, "0~1,000,000 사이의 금액(원, 정수)으로 입력하세요. 입력값: 5000000"),
        ({"stalled_after_days": "0"}, "1~30 사이의 일수(정수)로 입력하세요. 입력값: 0"),
    ],
)
def test_admin_change__korean_messages_never_constraint_names(admin_client, main, changes, field_message):
    policy = make_shipping_policy(main)
    history = policy.history.count()
    url = reverse("admin:markets_shippingpolicy_change", args=[policy.pk])
    response = admin_client.post(url, admin_post_data(**changes))
    assert response.status_code == 200
    page = response.content.decode()
    assert field_message in page
    assert "shipping_transit_min_le_max" not in page and "Constraint" not in page and "제약" not in page
    assert policy.history.count() == history
    policy.refresh_from_db()
    assert policy.transit_days_min == 1 and policy.base_fee == 3000


def test_admin_permissions__agents_look_managers_edit(client, django_user_model, main):
    policy = make_shipping_policy(main)
    url = reverse("admin:markets_shippingpolicy_change", args=[policy.pk])
    for name, role, can_edit in (("agent", ROLE_CS_AGENT, False), ("manager", ROLE_ROLLOUT_MANAGER, True)):
        user = django_user_model.objects.create_user(name, password="pw-123456-long", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        assert client.get(url).status_code == 200
        response = client.post(url, admin_post_data(base_fee="2000" if can_edit else "1"))
        policy.refresh_from_db()
        if can_edit:
            assert response.status_code == 302 and policy.base_fee == 2000
        else:
            assert response.status_code == 403 and policy.base_fee != 1
