"""The seller's product facts: the `product_knowledge` command (import, export, every refusal), the
services behind it, and the sample file of the sandbox catalogue."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inquiries import product_checks, product_files, services
from inquiries.models import ProductFact, ProductKnowledge
from markets.sandbox.generator import PRODUCTS
from partialauto.datafiles import DataFileError
from tests.factories import EXAMPLES, make_account

pytestmark = pytest.mark.django_db

SAMPLE = EXAMPLES / "product-knowledge.json"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("product_knowledge", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write(tmp_path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return str(path)


def facts_of(product_id: str, account=None) -> list[str]:
    product = ProductKnowledge.objects.get(product_id=product_id, account=account)
    return list(product.facts.order_by("sort_order").values_list("text", flat=True))


# --- the sample file ------------------------------------------------------------------------------


def test_sample_covers_the_sandbox_catalogue_with_its_ids():
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    assert len(data) == len(PRODUCTS) == 10
    for item, product in zip(data, PRODUCTS, strict=False):
        assert item["product_id"] == str(product.product_id)
        assert item["name"] == product.name
        assert item["aliases"] == [
            str(product.vendor_item_id),
            str(product.product_id + 1_000_000),
            str(product.product_id + 3_000_000_000),
        ]
        assert 20 <= len(item["facts"]) <= 30, item["name"]
        for fact in item["facts"]:
            assert product_checks.product_fact_check(fact) is None, fact
            assert fact.endswith("다.") and "고객" not in fact, fact
    product_files.product_knowledge_parse(raw=SAMPLE.read_bytes(), filename=SAMPLE.name)  # no problems


# --- import -----------------------------------------------------------------------------------------


def test_import_json__shared_knowledge_and_summary():
    out, _err = run("import", str(SAMPLE))
    assert "상품 10개 추가, 0개 변경, 0개 그대로" in out and "사실 250개 (새로 250, 삭제 0)" in out
    assert "모든 계정 공용" in out
    assert ProductKnowledge.objects.filter(account__isnull=True).count() == 10
    earphones = ProductKnowledge.objects.get(product_id="7120034501")
    assert earphones.all_ids == ["7120034501", "85012345001", "7121034501", "10120034501"]
    assert facts_of("7120034501")[0].startswith("처음 페어링할 때는")
    # the same file again changes nothing (and writes no history)
    history = ProductFact.history.count()
    out, _err = run("import", str(SAMPLE))
    assert "상품 0개 추가, 0개 변경, 10개 그대로" in out and "(새로 0, 삭제 0)" in out
    assert ProductFact.history.count() == history


def test_import_csv_with_bom_for_one_account(tmp_path):
    account = make_account("coupang_main")
    path = write(
        tmp_path,
        "facts.csv",
        "\ufeffproduct_id,name,fact,aliases\n"
        "P1,텀블러,용량은 500ml입니다.,V1|S1\n"
        'P1,텀블러,"식기세척기는 뚜껑만, 윗칸에서 됩니다.",\n'
        "P2,캠핑 의자,최대 하중은 120kg입니다.,\n",
    )
    out, _err = run("import", path, "--account", "coupang_main")
    assert "계정 coupang_main" in out and "상품 2개 추가" in out and "사실 3개" in out
    product = ProductKnowledge.objects.get(account=account, product_id="P1")
    assert product.name == "텀블러" and product.aliases == ["V1", "S1"]
    assert facts_of("P1", account) == ["용량은 500ml입니다.", "식기세척기는 뚜껑만, 윗칸에서 됩니다."]
    assert not ProductKnowledge.objects.filter(account__isnull=True).exists()


def test_reimport_replaces_a_products_facts_name_and_aliases_and_leaves_others_alone(tmp_path):
    run("import", str(SAMPLE))
    kept = ProductFact.objects.filter(product__product_id="7120034502").order_by("sort_order").first()
    chair_facts = facts_of("7120034503")
    old = facts_of("7120034502")
    new = [old[2], old[0], "뚜껑 색상은 몸체와 같습니다."]  # reordered, one added, the rest dropped
    path = write(
        tmp_path,
        "tumbler.json",
        json.dumps(
            [{"product_id": "7120034502", "name": "진공 텀블러 500ml", "aliases": [], "facts": new}], ensure_ascii=False
        ),
    )
    out, _err = run("import", path)
    assert "상품 0개 추가, 1개 변경, 0개 그대로" in out
    assert f"(새로 1, 삭제 {len(old) - 2})" in out
    tumbler = ProductKnowledge.objects.get(product_id="7120034502")
    assert tumbler.name == "진공 텀블러 500ml" and tumbler.aliases == []
    assert facts_of("7120034502") == new
    assert ProductFact.objects.filter(pk=kept.pk, text=old[0]).exists()  # an unchanged sentence keeps its row
    assert facts_of("7120034503") == chair_facts  # not in the file: left alone
    assert ProductKnowledge.objects.count() == 10
    # history: the removed facts, the added one, and the product's own change with the file's name
    assert ProductFact.history.filter(history_type="-", product_id=tumbler.pk).count() == len(old) - 2
    assert ProductFact.history.filter(history_type="+", text="뚜껑 색상은 몸체와 같습니다.").exists()
    assert "tumbler.json" in tumbler.history.first().history_change_reason


def test_reimport_without_aliases_keeps_them(tmp_path):
    run("import", str(SAMPLE))
    path = write(tmp_path, "no-aliases.csv", "product_id,name,fact\n7120034501,이어폰 X2,충전 단자는 USB-C입니다.\n")
    run("import", path)
    earphones = ProductKnowledge.objects.get(product_id="7120034501")
    assert earphones.aliases == ["85012345001", "7121034501", "10120034501"]
    assert facts_of("7120034501") == ["충전 단자는 USB-C입니다."]


def test_account_and_shared_knowledge_are_separate(tmp_path):
    make_account("coupang_main")
    run("import", str(SAMPLE))
    run("import", str(SAMPLE), "--account", "coupang_main")  # the same ids again: another scope, no conflict
    assert ProductKnowledge.objects.count() == 20


# --- export -----------------------------------------------------------------------------------------


def test_export_json_round_trips_the_sample_byte_for_byte():
    run("import", str(SAMPLE))
    out, _err = run("export")
    assert out == SAMPLE.read_text(encoding="utf-8")


def test_export_csv_imports_into_another_account_unchanged(tmp_path):
    make_account("coupang_main")
    run("import", str(SAMPLE))
    csv_text, _err = run("export", "--format", "csv")
    assert csv_text.splitlines()[0] == "product_id,name,fact,aliases"
    assert len(csv_text.splitlines()) == 1 + 250
    run("import", write(tmp_path, "copy.csv", csv_text), "--account", "coupang_main")
    shared, _err = run("export")
    account, _err = run("export", "--account", "coupang_main")
    assert account == shared


def test_export_nothing__empty_list_and_a_note():
    out, err = run("export")
    assert json.loads(out) == [] and "내보낼 상품 지식이 없습니다" in err


# --- refusals: a bad file is refused with where and what, and nothing is written -------------------

LONG_FACT = "가" * 501

REFUSALS = [
    ("bad.json", "{not json", "JSON 형식이 올바르지 않습니다 (1행 2열 근처)"),
    ("bad.json", '{"product_id": "1"}', "JSON의 맨 바깥은 상품 목록이어야 합니다"),
    ("cp949.csv", "product_id,name,fact\n1,텀블러,용량은 500ml입니다.\n".encode("cp949"), "2행: UTF-8로 읽을 수 없는"),
    ("nul.csv", b"product_id,name,fact\n1,a\x00,b\n", "텍스트 파일이 아닙니다"),
    ("empty.csv", "", "파일이 비어 있습니다"),
    ("missing.csv", "product_id,name\n1,텀블러\n", "1행(머리글): 필요한 열이 없습니다: fact"),
    ("unknown.csv", "product_id,name,fact,colour\n1,a,b,c\n", "알 수 없는 열입니다: colour"),
    ("blank.csv", "product_id,name,fact,\n1,a,b,\n2,c,d,e\n", "3행: 머리글이 비어 있는 열에 값이 있습니다"),
    ("cells.csv", "product_id,name,fact\n1,a,b,c\n", "2행: 칸이 머리글보다 많습니다 (4칸, 머리글 3칸)"),
    ("quote.csv", 'product_id,name,fact\n1,a,"b\n', "CSV 형식이 올바르지 않습니다"),
    ("noid.csv", "product_id,name,fact\n,텀블러,용량은 500ml입니다.\n", "2행: product_id가 비어 있습니다"),
    ("noname.csv", "product_id,name,fact\n1,,용량은 500ml입니다.\n", "2행 (1): name(상품명)이 비어 있습니다"),
    (
        "nofact.csv",
        "product_id,name,fact\n1,텀블러,용량은 500ml입니다.\n1,텀블러,\n",
        "3행: fact: 사실이 비어 있습니다",
    ),
    ("dup.csv", "product_id,name,fact\n1,a,x\n2,b,y\n1,a,z\n", "4행: product_id 1 — 2행에 이미 나온 상품입니다 (중복)"),
    ("names.csv", "product_id,name,fact\n1,a,x\n1,b,y\n", "3행: 같은 상품(1)의 상품명이 2행과 다릅니다"),
    (
        "long.csv",
        f"product_id,name,fact\n1,a,{LONG_FACT}\n",
        "2행: fact: 사실이 너무 깁니다 (501자). 한 문장으로 500자 이하로",
    ),
    ("noid.json", '[{"name": "a", "facts": ["x"]}]', "1번째 항목: product_id이(가) 비어 있습니다"),
    (
        "noname.json",
        '[{"product_id": "1", "name": " ", "facts": ["x"]}]',
        "1번째 항목 (1): name(상품명)이 비어 있습니다",
    ),
    ("nofacts.json", '[{"product_id": "1", "name": "a", "facts": []}]', "1번째 항목 (1): facts가 없거나 비어 있습니다"),
    (
        "emptyfact.json",
        '[{"product_id": "1", "name": "a", "facts": ["x", ""]}]',
        "1번째 항목 (1) facts의 2번째: 사실이 비어",
    ),
    (
        "long.json",
        json.dumps([{"product_id": "1", "name": "a", "facts": [LONG_FACT]}]),
        "facts의 1번째: 사실이 너무 깁니다 (501자)",
    ),
    (
        "newline.json",
        json.dumps([{"product_id": "1", "name": "a", "facts": ["한 줄\n두 줄"]}]),
        "사실 하나에 줄바꿈이 있습니다",
    ),
    (
        "dup.json",
        json.dumps([{"product_id": 1, "name": "a", "facts": ["x"]}, {"product_id": "1", "name": "b", "facts": ["y"]}]),
        "2번째 항목 (1): product_id 1 — 1번째 항목 (1)에도 같은 상품이 있습니다 (중복)",
    ),
    (
        "alias.json",
        json.dumps(
            [
                {"product_id": "1", "name": "a", "facts": ["x"], "aliases": ["2"]},
                {"product_id": "2", "name": "b", "facts": ["y"]},
            ]
        ),
        "2번째 항목 (2): ID 2 — 1번째 항목 (1)의 상품도 같은 ID를 씁니다",
    ),
    ("keys.json", '[{"product_id": "1", "name": "a", "fact": ["x"]}]', "알 수 없는 키입니다: fact"),
]


@pytest.mark.parametrize("name, content, message", REFUSALS, ids=[f"{r[0]}-{i}" for i, r in enumerate(REFUSALS)])
def test_import_refuses_a_bad_file_and_writes_nothing(tmp_path, name, content, message):
    run("import", str(SAMPLE))
    before = sorted(ProductFact.objects.values_list("pk", "text"))
    # a good product first, so that an import that wrote as it went would leave it behind
    with pytest.raises(CommandError) as exc:
        run("import", write(tmp_path, name, content))
    text = str(exc.value)
    assert text.startswith("가져오지 않았습니다. 아무것도 바뀌지 않았습니다.")
    assert message in text, text
    assert sorted(ProductFact.objects.values_list("pk", "text")) == before
    assert ProductKnowledge.objects.count() == 10


def test_a_bad_product_after_good_ones_writes_none_of_them(tmp_path):
    items = [{"product_id": f"N{i}", "name": f"상품 {i}", "facts": ["좋은 사실입니다."]} for i in range(5)]
    items.append({"product_id": "N5", "name": "상품 5", "facts": [LONG_FACT]})
    with pytest.raises(CommandError, match="6번째 항목"):
        run("import", write(tmp_path, "mixed.json", json.dumps(items, ensure_ascii=False)))
    assert not ProductKnowledge.objects.exists()


def test_an_id_of_another_product_already_stored_is_refused(tmp_path):
    run("import", str(SAMPLE))
    path = write(
        tmp_path,
        "clash.json",
        json.dumps(
            [{"product_id": "NEW1", "name": "새 상품", "aliases": ["85012345001"], "facts": ["좋은 사실입니다."]}]
        ),
    )
    with pytest.raises(CommandError) as exc:
        run("import", path)
    assert (
        "ID 85012345001 — 이미 다른 상품 '무선 블루투스 이어폰 X2 노이즈캔슬링'(상품 ID 7120034501)의 ID입니다"
        in str(exc.value)
    )
    assert not ProductKnowledge.objects.filter(product_id="NEW1").exists()


def test_unreadable_file_and_unknown_account(tmp_path):
    with pytest.raises(CommandError, match="파일을 읽을 수 없습니다: .*nope.json"):
        run("import", str(tmp_path / "nope.json"))
    with pytest.raises(CommandError, match="파일이 아니라 폴더입니다"):
        run("import", str(tmp_path))
    make_account("coupang_main")
    with pytest.raises(CommandError, match="알 수 없는 계정입니다: 'nobody'. 등록된 계정: coupang_main"):
        run("import", str(SAMPLE), "--account", "nobody")
    with pytest.raises(CommandError, match="알 수 없는 계정입니다"):
        run("export", "--account", "nobody")
    assert not ProductKnowledge.objects.exists()


def test_many_problems_are_listed_together_up_to_a_limit(tmp_path):
    rows = "".join(f"{i},상품,\n" for i in range(30))
    with pytest.raises(CommandError) as exc:
        run("import", write(tmp_path, "many.csv", "product_id,name,fact\n" + rows))
    lines = str(exc.value).splitlines()
    assert lines[1].startswith("2행: fact: 사실이 비어 있습니다") and lines[-1] == "…외 10건 더 있습니다."


# --- services -----------------------------------------------------------------------------------------


def test_replace_service_checks_like_the_import():
    with pytest.raises(DataFileError, match="사실이 너무 깁니다"):
        services.product_knowledge_replace(account=None, product_id="X", name="상품", facts=[LONG_FACT])
    product = services.product_knowledge_replace(
        account=None, product_id=" X ", name="상품", facts=["하나입니다.", "둘입니다."], aliases=["Y", 7, "X", ""]
    )
    assert product.product_id == "X" and product.aliases == ["Y", "7"]
    assert facts_of("X") == ["하나입니다.", "둘입니다."]
    with pytest.raises(DataFileError, match="ID Y — 이미 다른 상품"):
        services.product_knowledge_replace(
            account=None, product_id="Z", name="다른 상품", facts=["셋입니다."], aliases=["Y"]
        )


def test_reordering_alone_is_a_change_the_answer_side_sees(tmp_path):
    product = services.product_knowledge_replace(
        account=None, product_id="X", name="상품", facts=["하나입니다.", "둘입니다."]
    )
    before = product.updated_at
    path = write(
        tmp_path,
        "order.json",
        json.dumps([{"product_id": "X", "name": "상품", "facts": ["둘입니다.", "하나입니다."]}], ensure_ascii=False),
    )
    out, _err = run("import", path)
    assert "1개 변경" in out
    product.refresh_from_db()
    assert product.updated_at > before and facts_of("X") == ["둘입니다.", "하나입니다."]
    assert "순서 변경 2" in product.history.first().history_change_reason
