"""Follow-ups: a buyer's new inquiry is linked to the answered one it follows — on each marketplace's own
identifiers (Coupang order ids, call-center order ids, Naver order ids and customer ids), never across
buyers, only inside the window — and classified as a repeat, a complaint or a new topic.

The inquiries go through the marketplace parsers and the ingestion upsert, as polling stores them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from inquiries import followups
from inquiries.followup_figures import resolution_figures
from inquiries.followups import classify
from inquiries.ingest_store import upsert
from inquiries.models import FollowUp, Inquiry
from markets.clients.coupang_parsing import parse_coupang_callcenter_item, parse_coupang_online_item
from markets.clients.naver_parsing import parse_naver_inquiry_item, parse_naver_qna_item
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["one read per batch", "one read per inquiry"])
def linking_reads(request, monkeypatch):
    """Every scenario both ways: a batch's candidates read once, and (a batch with more candidates than
    the pool holds) each new inquiry asking on its own. Both must link exactly the same."""
    if request.param == "one read per inquiry":
        monkeypatch.setattr(followups, "POOL", 0)


T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def kst(when: dt.datetime) -> str:
    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M:%S")


def naver_time(when: dt.datetime) -> str:
    return timezone.localtime(when).isoformat(timespec="milliseconds")


def coupang_online(n: int, when: dt.datetime, text: str, *, order: int | None, product: int = 5550001) -> dict:
    return {
        "inquiryId": n,
        "productId": product,
        "vendorItemId": product + 1,
        "content": text,
        "inquiryAt": kst(when),
        "orderIds": [order] if order else None,
        "commentDtoList": [],
    }


def coupang_callcenter(n: int, when: dt.datetime, text: str, *, order: int) -> dict:
    return {
        "inquiryId": n,
        "csPartnerCounselingStatus": "requestAnswer",
        "inquiryStatus": "progress",
        "vendorItemId": [3285906659],
        "itemName": "무선 선풍기",
        "content": "",
        "inquiryAt": kst(when),
        "buyerPhone": "010-****-1234",
        "orderId": order,
        "replies": [
            {
                "answerId": 9000 + n,
                "parentAnswerId": 0,
                "answerType": "csAgent",
                "partnerTransferStatus": "requestAnswer",
                "needAnswer": True,
                "content": f"[판매자이관]\n◼주문번호: {order}\n◼고객문의: {text}",
            }
        ],
    }


def naver_inquiry(n: int, when: dt.datetime, text: str, *, order: str, customer: str) -> dict:
    return {
        "inquiryNo": n,
        "category": "배송",
        "title": "배송 문의",
        "inquiryContent": text,
        "inquiryRegistrationDateTime": naver_time(when),
        "answered": False,
        "orderId": order,
        "productNo": "8800123",
        "productOrderIdList": f"{order}01",
        "productName": "무선 선풍기",
        "customerId": customer,
        "customerName": "김*수",
    }


def naver_qna(n: int, when: dt.datetime, text: str, *, writer: str, product: int = 7700123) -> dict:
    return {
        "questionId": n,
        "question": text,
        "createDate": naver_time(when),
        "answered": False,
        "productId": product,
        "productName": "무선 선풍기",
        "maskedWriterId": writer,
    }


def ingest(account, *items) -> None:
    upsert(account, list(items))


def answered(account, kind: str, external_id: str, *, at: dt.datetime, auto: bool = True) -> Inquiry:
    """The earlier inquiry as the send path leaves it: delivered for real (automatic or a person's)."""
    row = Inquiry.objects.get(account=account, kind=kind, external_id=external_id)
    Inquiry.objects.filter(pk=row.pk).update(
        status="AUTO_SEND" if auto else "APPROVED",
        send_status="SENT",
        sent_at=at,
        intent="배송문의",
        decision_mode="LIVE",
        draft_answer="주문하신 상품은 오늘 출고되었습니다. CJ대한통운 123456789012로 조회하실 수 있습니다.",
        draft_agreement=1.0 if auto else None,
    )
    return Inquiry.objects.get(pk=row.pk)


def follow_up_of(account, kind: str, external_id: str) -> FollowUp | None:
    return FollowUp.objects.filter(
        inquiry__account=account, inquiry__kind=kind, inquiry__external_id=external_id
    ).first()


# --- classification on realistic Korean wording --------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "답변 받았는데 그게 아니라요. 송장번호로 조회해도 배송 준비중으로만 나와요",
        "아직도 조회가 안 되는데요",
        "안내해주신 날짜가 지났는데 여전히 도착을 안 했어요",
        "질문한 건 그게 아니고요 출고됐는지 여쭤본 거예요",
        "말씀하신 대로 해봤는데 안돼요ㅠㅠ",
        "동문서답 하지 마시고 제대로 확인해 주세요",
    ],
)
def test_classify__complaints_about_the_answer(text):
    verdict = classify(text, "배송 언제 되나요? 주문한 지 3일 됐어요")
    assert verdict.kind == FollowUp.Kind.COMPLAINT
    assert verdict.markers


@pytest.mark.parametrize(
    ("new", "earlier"),
    [
        ("배송 언제 되나요? 주문한 지 3일 됐어요", "배송 언제 되나요? 주문한 지 3일 됐어요"),
        ("다시 문의드립니다. 택배 언제 오나요?", "택배 언제 오나요"),
        ("송장번호 좀 알려주세요", "배송 언제 출발하나요?"),  # the same topic asked again
    ],
)
def test_classify__the_same_question_again_is_a_repeat(new, earlier):
    assert classify(new, earlier).kind == FollowUp.Kind.REPEAT


def test_classify__a_different_question_is_a_new_topic():
    verdict = classify("사이즈 하나 큰 걸로 교환 가능할까요?", "배송 언제 되나요?")
    assert verdict.kind == FollowUp.Kind.NEW_TOPIC
    assert not verdict.markers


# --- linking on each marketplace's identifiers ------------------------------------------------------


def test_coupang_online__same_order_links_and_a_complaint_makes_the_draft_a_disagreement():
    account = make_account("coupang_main")
    ingest(account, parse_coupang_online_item(coupang_online(1, T0, "배송 언제 되나요?", order=31000000001)))
    earlier = answered(account, "COUPANG_ONLINE", "1", at=T0 + dt.timedelta(minutes=30))
    ingest(
        account,
        parse_coupang_online_item(
            coupang_online(2, T0 + dt.timedelta(hours=5), "답변 받았는데 그게 아니라요", order=31000000001)
        ),
        # another buyer's order on the same product, the same day: not a follow-up
        parse_coupang_online_item(coupang_online(3, T0 + dt.timedelta(hours=5), "아직도 안 왔어요", order=31000000099)),
    )
    link = follow_up_of(account, "COUPANG_ONLINE", "2")
    assert link is not None and link.earlier_id == earlier.pk
    assert (link.kind, link.linked_by, link.path, link.intent) == ("COMPLAINT", "ORDER", "AUTO", "배송문의")
    assert follow_up_of(account, "COUPANG_ONLINE", "3") is None
    earlier.refresh_from_db()
    assert earlier.draft_agreement == 0.0  # calibration: the automatic draft did not settle it
    assert Inquiry.objects.get(pk=link.inquiry_id).events.filter(type="FOLLOW_UP").exists()


def test_coupang_callcenter__order_id_links_across_the_two_coupang_kinds():
    account = make_account("coupang_main")
    ingest(account, parse_coupang_online_item(coupang_online(1, T0, "배송 언제 되나요?", order=31000000002)))
    answered(account, "COUPANG_ONLINE", "1", at=T0 + dt.timedelta(minutes=10), auto=False)
    ingest(
        account,
        parse_coupang_callcenter_item(
            coupang_callcenter(50, T0 + dt.timedelta(hours=20), "아직도 배송 조회가 안 되는데요", order=31000000002)
        ),
    )
    link = follow_up_of(account, "COUPANG_CALLCENTER", "50")
    assert link is not None
    assert (link.kind, link.linked_by, link.path) == ("COMPLAINT", "ORDER", "HUMAN")


def test_naver_inquiry__same_customer_id_links_a_different_order_of_that_buyer():
    account = make_account("smartstore", market="SMARTSTORE")
    ingest(
        account,
        parse_naver_inquiry_item(
            naver_inquiry(1, T0, "배송 언제 되나요?", order="2026030100001", customer="cust-81723")
        ),
    )
    answered(account, "NAVER_INQUIRY", "1", at=T0 + dt.timedelta(hours=1))
    ingest(
        account,
        parse_naver_inquiry_item(
            naver_inquiry(
                2, T0 + dt.timedelta(hours=3), "교환하고 싶어요", order="2026030100777", customer="cust-81723"
            )
        ),
    )
    link = follow_up_of(account, "NAVER_INQUIRY", "2")
    assert link is not None and (link.linked_by, link.kind) == ("BUYER", "NEW_TOPIC")
    # the raw customer id is not kept anywhere readable
    row = Inquiry.objects.get(account=account, external_id="2")
    assert "cust-81723" not in str(row.raw_payload) and row.buyer_key and "cust" not in row.buyer_key


def test_naver_inquiry__never_across_buyers():
    account = make_account("smartstore", market="SMARTSTORE")
    ingest(
        account,
        parse_naver_inquiry_item(naver_inquiry(1, T0, "배송 언제 되나요?", order="2026030100001", customer="cust-1")),
    )
    answered(account, "NAVER_INQUIRY", "1", at=T0 + dt.timedelta(hours=1))
    ingest(
        account,
        # another buyer, another order, the same words
        parse_naver_inquiry_item(
            naver_inquiry(2, T0 + dt.timedelta(hours=2), "배송 언제 되나요?", order="2026030100002", customer="cust-2")
        ),
        # a masked customer id is many buyers: it never links on its own
        parse_naver_inquiry_item(
            naver_inquiry(3, T0 + dt.timedelta(hours=2), "배송 언제 되나요?", order="2026030100003", customer="cus****")
        ),
    )
    assert follow_up_of(account, "NAVER_INQUIRY", "2") is None
    assert follow_up_of(account, "NAVER_INQUIRY", "3") is None


def test_naver_qna__no_buyer_id__same_product_near_identical_question_and_writer_only():
    account = make_account("smartstore", market="SMARTSTORE")
    question = "이 선풍기 타이머는 최대 몇 시간까지 설정되나요?"
    ingest(account, parse_naver_qna_item(naver_qna(1, T0, question, writer="abc****")))
    answered(account, "NAVER_QNA", "1", at=T0 + dt.timedelta(minutes=20))
    ingest(
        account,
        parse_naver_qna_item(naver_qna(2, T0 + dt.timedelta(hours=2), question, writer="abc****")),
        # the same question from a writer the marketplace shows differently: another buyer
        parse_naver_qna_item(naver_qna(3, T0 + dt.timedelta(hours=2), question, writer="xyz****")),
        # the same writer hint but a different question: not near-identical, not linked
        parse_naver_qna_item(naver_qna(4, T0 + dt.timedelta(hours=2), "색상은 흰색만 있나요?", writer="abc****")),
        # another product
        parse_naver_qna_item(naver_qna(5, T0 + dt.timedelta(hours=2), question, writer="abc****", product=7700999)),
    )
    link = follow_up_of(account, "NAVER_QNA", "2")
    assert link is not None and (link.linked_by, link.kind) == ("PRODUCT_TEXT", "REPEAT")
    assert [follow_up_of(account, "NAVER_QNA", n) for n in ("3", "4", "5")] == [None, None, None]


def test_coupang_online_without_order__product_window_is_short():
    account = make_account("coupang_main")
    question = "이 제품 물세척 가능한가요? 세척 방법이 궁금합니다"
    ingest(account, parse_coupang_online_item(coupang_online(1, T0, question, order=None)))
    answered(account, "COUPANG_ONLINE", "1", at=T0 + dt.timedelta(minutes=5))
    ingest(
        account,
        parse_coupang_online_item(coupang_online(2, T0 + dt.timedelta(hours=3), question, order=None)),
        parse_coupang_online_item(coupang_online(3, T0 + dt.timedelta(hours=8), question, order=None)),
    )
    assert follow_up_of(account, "COUPANG_ONLINE", "2") is not None
    assert follow_up_of(account, "COUPANG_ONLINE", "3") is None  # past the 6-hour product window


# --- the window ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("hours", "linked"), [(71, True), (73, False)])
def test_window__72_hours_after_the_answer(hours, linked):
    account = make_account("coupang_main")
    ingest(account, parse_coupang_online_item(coupang_online(1, T0, "배송 언제 되나요?", order=31000000005)))
    answered(account, "COUPANG_ONLINE", "1", at=T0)
    ingest(
        account,
        parse_coupang_online_item(
            coupang_online(2, T0 + dt.timedelta(hours=hours), "아직도 안 왔어요", order=31000000005)
        ),
    )
    assert (follow_up_of(account, "COUPANG_ONLINE", "2") is not None) is linked


@override_settings(CS_FOLLOW_UP_WINDOW_HOURS=24)
def test_window__configurable():
    account = make_account("coupang_main")
    ingest(account, parse_coupang_online_item(coupang_online(1, T0, "배송 언제 되나요?", order=31000000006)))
    answered(account, "COUPANG_ONLINE", "1", at=T0)
    ingest(
        account,
        parse_coupang_online_item(
            coupang_online(2, T0 + dt.timedelta(hours=30), "아직도 안 왔어요", order=31000000006)
        ),
    )
    assert follow_up_of(account, "COUPANG_ONLINE", "2") is None


def test_a_question_asked_before_the_earlier_one_is_never_its_follow_up_and_test_sends_are_no_answers():
    account = make_account("coupang_main")
    ingest(account, parse_coupang_online_item(coupang_online(1, T0, "배송 언제 되나요?", order=31000000007)))
    row = answered(account, "COUPANG_ONLINE", "1", at=T0)
    Inquiry.objects.filter(pk=row.pk).update(send_status="SEND_FAILED", is_test_mode=True)
    ingest(
        account,
        parse_coupang_online_item(coupang_online(2, T0 + dt.timedelta(hours=1), "아직도 안 왔어요", order=31000000007)),
    )
    assert follow_up_of(account, "COUPANG_ONLINE", "2") is None


def test_resolution_figures_per_account_intent_and_path():
    account = make_account("coupang_main")
    for n in range(1, 5):
        ingest(account, parse_coupang_online_item(coupang_online(n, T0, "배송 언제 되나요?", order=31000000100 + n)))
        answered(account, "COUPANG_ONLINE", str(n), at=T0 + dt.timedelta(minutes=n), auto=n != 4)
    ingest(
        account,
        parse_coupang_online_item(
            coupang_online(11, T0 + dt.timedelta(hours=2), "아직도 조회가 안 되는데요", order=31000000101)
        ),
        parse_coupang_online_item(
            coupang_online(12, T0 + dt.timedelta(hours=2), "배송 언제 되나요?", order=31000000102)
        ),
    )
    rows = {r["path"]: r for r in resolution_figures(since=T0, until=T0 + dt.timedelta(days=1))}
    auto, human = rows["AUTO"], rows["HUMAN"]
    assert (auto["answers"], auto["follow_ups"], auto["complaints"], auto["repeats"]) == (3, 2, 1, 1)
    assert auto["complaint_rate"] == round(1 / 3, 4) and auto["intent"] == "배송문의"
    assert (human["answers"], human["follow_ups"]) == (1, 0)


def test_resolution_figures__complained_only_counts_the_complained_about_intents_alone():
    account = make_account("coupang_main")
    for n, intent in ((1, "배송문의"), (2, "배송문의"), (3, "사용법")):
        ingest(account, parse_coupang_online_item(coupang_online(n, T0, "배송 언제 되나요?", order=31000000200 + n)))
        answered(account, "COUPANG_ONLINE", str(n), at=T0 + dt.timedelta(minutes=n))
        Inquiry.objects.filter(account=account, external_id=str(n)).update(intent=intent)
    ingest(
        account,
        parse_coupang_online_item(
            coupang_online(11, T0 + dt.timedelta(hours=2), "아직도 조회가 안 되는데요", order=31000000201)
        ),
    )
    window = dict(since=T0, until=T0 + dt.timedelta(days=1), path="AUTO")
    everything = {r["intent"]: r for r in resolution_figures(**window)}
    complained = resolution_figures(**window, complained_only=True)
    assert set(everything) == {"배송문의", "사용법"}
    assert complained == [everything["배송문의"]]
    assert (complained[0]["answers"], complained[0]["complaints"]) == (2, 1)
    Inquiry.objects.filter(follow_up_of__isnull=False).delete()
    assert resolution_figures(**window, complained_only=True) == []


def test_resolution_by_day__the_same_counts_as_each_day_on_its_own():
    from zoneinfo import ZoneInfo

    from inquiries.followup_figures import resolution_by_day

    seoul = ZoneInfo("Asia/Seoul")
    account = make_account("coupang_main")
    for n, (day, auto) in enumerate([(0, True), (0, True), (0, False), (1, True), (1, False)], start=1):
        asked = T0 + dt.timedelta(days=day)
        ingest(account, parse_coupang_online_item(coupang_online(n, asked, "배송 언제 되나요?", order=31000000300 + n)))
        answered(account, "COUPANG_ONLINE", str(n), at=asked + dt.timedelta(minutes=5), auto=auto)
    for n, order, text in ((11, 31000000301, "아직도 조회가 안 되는데요"), (12, 31000000304, "배송 언제 되나요?")):
        asked = T0 + dt.timedelta(days=1, hours=3)
        ingest(account, parse_coupang_online_item(coupang_online(n, asked, text, order=order)))
    start = dt.datetime(2026, 3, 2, tzinfo=seoul)
    by_day = resolution_by_day(since=start, until=start + dt.timedelta(days=2), tz=seoul)
    for offset in (0, 1):
        day_start = start + dt.timedelta(days=offset)
        for row in resolution_figures(since=day_start, until=day_start + dt.timedelta(days=1)):
            counts = by_day[(day_start.date(), row["path"])]
            assert (counts["answers"], counts["follow_ups"], counts["complaints"]) == (
                row["answers"],
                row["follow_ups"],
                row["complaints"],
            )
    assert by_day[(start.date(), "AUTO")] == {"answers": 2, "follow_ups": 1, "complaints": 1}
    assert by_day[((start + dt.timedelta(days=1)).date(), "AUTO")] == {"answers": 1, "follow_ups": 1, "complaints": 0}
