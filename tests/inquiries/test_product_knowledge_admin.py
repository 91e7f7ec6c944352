"""Product knowledge in the admin: the list (search, filter), editing a product with its ordered facts
through the service, Korean validation messages, the upload page, the export actions and permissions."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inquiries import product_files, services
from inquiries.models import ProductFact, ProductKnowledge
from policy.roles import ROLE_CS_AGENT, ROLE_ROLLOUT_MANAGER
from tests.factories import EXAMPLES, make_account

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:inquiries_productknowledge_changelist"
IMPORT = "admin:inquiries_productknowledge_import"
SAMPLE = EXAMPLES / "product-knowledge.json"


def staff(django_user_model, name, role=None):
    user = django_user_model.objects.create_user(name, password="pw-123456-long", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return django_user_model.objects.get(pk=user.pk)


def sample():
    return services.product_knowledge_import(raw=SAMPLE.read_bytes(), filename=SAMPLE.name)


def form_data(*, product_id="P1", name="텀블러", aliases="", account="", facts=(), existing=()):
    """POST data for the add/change page: the product's fields and its facts inline."""
    data = {
        "account": account,
        "product_id": product_id,
        "name": name,
        "aliases": aliases,
        "is_active": "on",
        "facts-TOTAL_FORMS": str(len(existing) + len(facts)),
        "facts-INITIAL_FORMS": str(len(existing)),
        "facts-MIN_NUM_FORMS": "0",
        "facts-MAX_NUM_FORMS": "1000",
    }
    rows = list(existing) + [(None, text, order, False) for text, order in facts]
    for i, (pk, text, order, delete) in enumerate(rows):
        data[f"facts-{i}-text"] = text
        data[f"facts-{i}-sort_order"] = "" if order is None else str(order)
        if pk:
            data[f"facts-{i}-id"] = str(pk)
        if delete:
            data[f"facts-{i}-DELETE"] = "on"
    return data


def errors_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- list -------------------------------------------------------------------------------------------


def test_changelist_search_by_id_name_alias_and_filter_by_account(admin_client):
    account = make_account("coupang_main")
    sample()
    services.product_knowledge_replace(
        account=account, product_id="ONLY-MAIN", name="메인 전용 상품", facts=["사실입니다."]
    )
    url = reverse(CHANGELIST)
    page = admin_client.get(url).content.decode()
    assert "파일에서 가져오기 (JSON·CSV)" in page and reverse(IMPORT) in page
    for query, expected in (("7120034507", "LED 무드등"), ("텀블러", "7120034502"), ("10120034509", "고양이 두부모래")):
        response = admin_client.get(url, {"q": query})
        assert response.context["cl"].result_count == 1, query
        assert expected in response.content.decode(), query
    shared = admin_client.get(url, {"scope": "shared"}).content.decode()
    assert "7120034501" in shared and "ONLY-MAIN" not in shared
    mine = admin_client.get(url, {"scope": str(account.pk)}).content.decode()
    assert "ONLY-MAIN" in mine and "7120034501" not in mine


# --- editing ------------------------------------------------------------------------------------------


def test_add_product_with_ordered_facts_goes_through_the_service(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:inquiries_productknowledge_add"),
        form_data(
            aliases="V1 | S1, N1",
            facts=[("둘째 사실입니다.", 2), ("첫째 사실입니다.", 1), ("마지막 사실입니다.", None)],
        ),
    )
    assert response.status_code == 302, errors_of(response)[:3000]
    product = ProductKnowledge.objects.get(product_id="P1")
    assert product.account is None and product.aliases == ["V1", "S1", "N1"]
    assert list(product.facts.values_list("text", "sort_order")) == [
        ("첫째 사실입니다.", 0),
        ("둘째 사실입니다.", 1),
        ("마지막 사실입니다.", 2),
    ]
    record = ProductFact.history.filter(text="첫째 사실입니다.").get()
    assert record.history_user == admin_user and record.history_type == "+"
    assert LogEntry.objects.filter(object_id=str(product.pk)).exists()


def test_change_product__delete_and_reorder_facts(admin_client):
    product = services.product_knowledge_replace(
        account=None, product_id="P1", name="텀블러", facts=["하나입니다.", "둘입니다.", "셋입니다."]
    )
    one, two, three = product.facts.order_by("sort_order")
    url = reverse("admin:inquiries_productknowledge_change", args=[product.pk])
    page = admin_client.get(url).content.decode()
    assert "사실 변경 기록" in page and "하나입니다." in page
    response = admin_client.post(
        url,
        form_data(
            existing=[
                (one.pk, "하나입니다.", 5, False),
                (two.pk, "둘입니다.", 1, True),
                (three.pk, "셋입니다.", 2, False),
            ]
        ),
    )
    assert response.status_code == 302, errors_of(response)[:3000]
    assert list(product.facts.order_by("sort_order").values_list("text", flat=True)) == ["셋입니다.", "하나입니다."]
    assert ProductFact.objects.filter(pk=three.pk).exists()  # kept its row
    assert ProductFact.history.filter(history_type="-", text="둘입니다.").exists()


@pytest.mark.parametrize(
    "data, message",
    [
        (form_data(facts=[("가" * 501, None)]), "사실이 너무 깁니다 (501자). 한 문장으로 500자 이하로 적어 주세요."),
        (form_data(facts=[("한 줄\n두 줄", None)]), "사실 하나에 줄바꿈이 있습니다."),
        (
            form_data(facts=[("같은 말입니다.", 1), ("같은 말입니다.", 2)]),
            "같은 사실이 이미 있습니다. 한 번만 적어 주세요.",
        ),
        (form_data(product_id="P 1"), "상품 ID &#x27;P 1&#x27;에 공백이 있습니다. 공백 없이 적어 주세요."),
        (form_data(aliases="A|B C|D" + "9" * 70), "다른 ID &#x27;D999"),
    ],
)
def test_add_product__korean_messages_say_what_is_allowed(admin_client, data, message):
    page = errors_of(admin_client.post(reverse("admin:inquiries_productknowledge_add"), data))
    assert message in page, page[page.find("errorlist") :][:1500]
    assert not ProductKnowledge.objects.exists()


def test_duplicate_shared_product_and_taken_alias__no_constraint_names(admin_client):
    services.product_knowledge_replace(
        account=None, product_id="P1", name="텀블러", facts=["하나입니다."], aliases=["V1"]
    )
    page = errors_of(admin_client.post(reverse("admin:inquiries_productknowledge_add"), form_data(name="다른 텀블러")))
    assert "이 상품 ID의 상품 지식이 이미 있습니다 (모든 계정 공용)" in page
    assert "product_knowledge_unique" not in page
    page = errors_of(
        admin_client.post(reverse("admin:inquiries_productknowledge_add"), form_data(product_id="P2", aliases="V1"))
    )
    assert "ID V1 — 이미 다른 상품 &#x27;텀블러&#x27;(상품 ID P1)의 ID입니다" in page
    # the same product id in an account of its own is fine
    account = make_account("coupang_main")
    response = admin_client.post(
        reverse("admin:inquiries_productknowledge_add"),
        form_data(account=str(account.pk), facts=[("계정 전용 사실입니다.", None)]),
    )
    assert response.status_code == 302
    assert ProductKnowledge.objects.filter(product_id="P1").count() == 2


# --- upload page --------------------------------------------------------------------------------------


def test_upload_json__imports_with_a_summary_and_log_entries(admin_client, admin_user):
    page = admin_client.get(reverse(IMPORT))
    assert page.status_code == 200 and "상품 지식 가져오기" in page.content.decode()
    response = admin_client.post(
        reverse(IMPORT),
        {"file": SimpleUploadedFile("product-knowledge.json", SAMPLE.read_bytes(), "application/json"), "account": ""},
    )
    assert response.status_code == 302 and response["Location"] == reverse(CHANGELIST)
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == [
        "product-knowledge.json을(를) 가져왔습니다 (모든 계정 공용): 상품 10개 추가, 0개 변경, 0개 그대로 · "
        "사실 250개 (새로 250, 삭제 0)"
    ]
    assert ProductKnowledge.objects.count() == 10
    assert LogEntry.objects.filter(user=admin_user).count() == 10
    assert ProductFact.history.filter(history_user=admin_user).count() == 250


def test_upload_csv_for_an_account(admin_client):
    account = make_account("coupang_main")
    csv = "\ufeffproduct_id,name,fact\nP1,텀블러,용량은 500ml입니다.\n".encode()
    response = admin_client.post(
        reverse(IMPORT), {"file": SimpleUploadedFile("facts.csv", csv, "text/csv"), "account": str(account.pk)}
    )
    assert response.status_code == 302
    assert ProductKnowledge.objects.get().account == account


def test_upload_bad_file__every_problem_shown_and_nothing_written(admin_client):
    sample()
    before = ProductFact.objects.count()
    bad = "product_id,name,fact\n7120034501,이어폰,\n,이름,사실입니다.\n".encode()
    page = errors_of(admin_client.post(reverse(IMPORT), {"file": SimpleUploadedFile("bad.csv", bad, "text/csv")}))
    assert "가져오지 않았습니다. 아무것도 바뀌지 않았습니다." in page
    assert "2행: fact: 사실이 비어 있습니다. 한 문장을 적어 주세요." in page
    assert "3행: product_id가 비어 있습니다" in page
    assert ProductFact.objects.count() == before


# --- export actions -----------------------------------------------------------------------------------


def test_export_actions_json_and_csv(admin_client):
    sample()
    ids = list(ProductKnowledge.objects.values_list("pk", flat=True))
    response = admin_client.post(reverse(CHANGELIST), {"action": "export_json", "_selected_action": ids})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert 'filename="product-knowledge-shared.json"' in response["Content-Disposition"]
    assert response.content.decode() == SAMPLE.read_text(encoding="utf-8")
    response = admin_client.post(reverse(CHANGELIST), {"action": "export_csv", "_selected_action": ids[:1]})
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeffproduct_id,name,fact,aliases\n") and response["Content-Type"].startswith("text/csv")
    # the export can be uploaded again as it is
    services.product_knowledge_import(raw=response.content, filename="x.csv")


def test_export_action__one_scope_per_file(admin_client):
    account = make_account("coupang_main")
    sample()
    services.product_knowledge_replace(account=account, product_id="P1", name="텀블러", facts=["하나입니다."])
    ids = list(ProductKnowledge.objects.values_list("pk", flat=True))
    response = admin_client.post(reverse(CHANGELIST), {"action": "export_json", "_selected_action": ids}, follow=True)
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("한 파일에는 한 계정(또는 모든 계정 공용)의 상품만" in m for m in messages)


# --- permissions --------------------------------------------------------------------------------------


def test_upload_page_needs_add_and_change_permission(client, django_user_model):
    client.force_login(staff(django_user_model, "nobody"))
    assert client.get(reverse(IMPORT)).status_code == 403
    response = client.post(reverse(IMPORT), {"file": SimpleUploadedFile("k.json", SAMPLE.read_bytes())})
    assert response.status_code == 403 and not ProductKnowledge.objects.exists()
    viewer = staff(django_user_model, "viewer")
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_productknowledge"))
    client.force_login(django_user_model.objects.get(pk=viewer.pk))
    assert client.get(reverse(CHANGELIST)).status_code == 200
    assert reverse(IMPORT) not in client.get(reverse(CHANGELIST)).content.decode()
    assert client.get(reverse(IMPORT)).status_code == 403


@pytest.mark.parametrize("role", [ROLE_CS_AGENT, ROLE_ROLLOUT_MANAGER])
def test_cs_agents_and_managers_maintain_product_knowledge(client, django_user_model, role):
    client.force_login(staff(django_user_model, "ops", role))
    response = client.post(reverse(IMPORT), {"file": SimpleUploadedFile("k.json", SAMPLE.read_bytes())})
    assert response.status_code == 302
    product = ProductKnowledge.objects.get(product_id="7120034501")
    url = reverse("admin:inquiries_productknowledge_change", args=[product.pk])
    existing = [(f.pk, f.text, i, False) for i, f in enumerate(product.facts.order_by("sort_order"))]
    response = client.post(
        url,
        form_data(
            product_id="7120034501",
            name=product.name,
            aliases=" | ".join(product.aliases),
            existing=existing,
            facts=[("케이스 색상은 화이트입니다.", None)],
        ),
    )
    assert response.status_code == 302, errors_of(response)[:2000]
    assert product.facts.order_by("sort_order").last().text == "케이스 색상은 화이트입니다."
    assert json.loads(product_files.product_knowledge_export())[0]["facts"][-1] == "케이스 색상은 화이트입니다."
