"""inquiries.agent.risk: Korean-aware risk keyword matching, on the seed lexicon and on small terms."""

from __future__ import annotations

import pytest

from inquiries.agent.risk import RISK_CATEGORIES, RiskScanner, RiskTerm, scan, scanner_for
from inquiries.agent.seed_data import GUIDE_RISK_TERMS, RISK_KEYWORDS


@pytest.fixture(scope="module")
def scanner() -> RiskScanner:
    return scanner_for([RiskTerm(k["term"], k["category"], k["variants"]) for k in RISK_KEYWORDS])


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # spacing and particles
        ("소비자원에 신고할게요", "REGULATOR"),
        ("소 비 자 원 에 접수했어요", "REGULATOR"),
        # abbreviations
        ("소보원에 물어볼게요", "REGULATOR"),
        ("공정위 갑니다", "REGULATOR"),
        # conjugations
        ("고소하겠습니다", "LEGAL"),
        ("고소할게요", "LEGAL"),
        ("그냥 신고합니다", "LEGAL"),
        ("아이가 다쳤어요", "SAFETY"),
        ("넘어져서 다쳐서 병원 갔어요", "SAFETY"),
        ("쓰다가 화상 입었어요", "SAFETY"),
        # masked profanity
        ("ㅅㅂ 언제와", "ABUSE"),
        ("씨X 장난하냐", "ABUSE"),
        ("시1발 느리네", "ABUSE"),
        ("ㅂㅅ같은 포장", "ABUSE"),
        ("개새들아", "ABUSE"),
        ("씨 발 진짜", "ABUSE"),
        ("ㅆ발 뭐야", "ABUSE"),
        ("개ㅅㄲ들", "ABUSE"),
        # the guide's three keywords, in any context (policy decision, see seed_data)
        ("법적으로 문제없는 성분인가요?", "LEGAL"),
        ("클레임 접수합니다", "CLAIM"),
        # the rest of the categories
        ("제 개인정보가 유출됐어요", "PRIVACY"),
        ("연락처 010-1234-5678 입니다", "PRIVACY"),
        ("언론에 제보하겠습니다", "THREAT"),
        ("별점 1점 드릴게요", "THREAT"),
        ("손해배상 청구합니다", "CLAIM"),
    ],
)
def test_scan__risky_phrasings__are_caught(scanner, text, category):
    hits = scanner.scan(text)
    assert category in {h.category for h in hits}, hits


@pytest.mark.parametrize(
    "text",
    [
        "고소한 맛 나나요?",  # savoury
        "고소하고 담백해서 또 시켰어요",
        "가볍고 소재도 좋네요",  # compact 가볍고소재 must not read as 고소
        "아이가 다치지 않게 포장해 주세요",
        "해외직구라 통관 신고는 제가 하나요?",
        "택배 분실 신고는 택배사에 하나요?",
        "신발 한번 신고 나갔는데 밑창이 떨어졌어요",
        "다시 발송해 주세요",
        "다시발송해주세요",
        "아저씨 발 사이즈 280이에요",
        "1개 새로 보내주세요",
        "두개새로주문했어요",
        "공병 신청은 어디서 하나요",
        "화상 회의용 웹캠인가요",
        "폭발적인 인기네요",
        "사기 전에 여쭤봐요",
        "사기 그릇인가요",
        "경찰 코스프레 의상 모자 포함인가요",
        "전기자전거 충전 얼마나 걸려요",
        "새끼손가락만 한가요",
        "ㄱㅅ합니다",  # 감사, not 개새
        "쓰레기봉투 몇 리터에요",
        "미친 가성비네요",
        "리뷰 쓰면 적립금 주나요",
        "블로그에 후기 올리면 적립금 주나요",
        "택배 상자가 찌그러졌어요",
        "직사광선을 피해서 보관하세요",
        "곰팡이 제거제 사용법 알려주세요",
        "벌레 퇴치기 전원은 어떻게 켜요",
        "병원에서 쓰려고 대량 구매해요",
        "주문번호 2401151234567 배송 언제 오나요",
    ],
)
def test_scan__innocent_mentions__are_not_risk(scanner, text):
    assert scanner.scan(text) == []


def test_scan__reports_term_category_matched_text_and_where(scanner):
    (hit,) = scanner.scan("소비자원에 신고", where="draft")[:1]
    assert hit.as_dict() == {"term": "소비자원", "category": "REGULATOR", "matched": "소비자원", "where": "draft"}


def test_scan__one_hit_per_term():
    terms = [RiskTerm("환불", "CLAIM", ["환불요청"])]
    assert len(scan("환불 환불 환불요청", terms)) == 1


def test_term__is_matched_together_with_its_variants():
    terms = [RiskTerm("법적", "LEGAL", ["법적조치"])]
    assert scan("법적으로요", terms) and scan("법적 조치", terms)


def test_stem_label_term__matches_only_its_variants():
    terms = [RiskTerm("고소~", "LEGAL", ["re:고소(?:하겠|할게)"])]
    assert scan("고소하겠습니다", terms)
    assert not scan("고소해요", terms)


def test_exclusion__drops_overlapping_hits_only():
    terms = [RiskTerm("신고", "LEGAL", ["!통관신고"])]
    assert not scan("통관 신고 해야 하나요", terms)
    assert scan("통관 신고하라는데 경찰에 신고할게요", terms)  # the second 신고 is not excused


def test_regex_term():
    terms = [RiskTerm(r"01[0-9]\d{7,8}", "PRIVACY", is_regex=True)]
    assert scan("010 1234 5678 로 연락", terms) and not scan("0101", terms)


def test_invalid_variant__is_reported_and_the_rest_still_scans(caplog):
    scanner = RiskScanner([RiskTerm("소송", "LEGAL", ["re:(unclosed", "소송각"])])
    assert scanner.errors and "소송" in scanner.errors[0]
    assert scanner.scan("소송각이네요")


def test_abuse_variant_added_by_ops__gets_masked_and_jamo_forms():
    terms = [RiskTerm("멍청이", "ABUSE")]
    for text in ("멍청이", "멍1청이", "ㅁ청이", "멍 청 이"):
        assert scan(text, terms), text
    assert not scan("아저씨 발 사이즈", [RiskTerm("씨발", "ABUSE")])  # letter-spacing only when standalone


def test_scan__empty_text__no_hits(scanner):
    assert scanner.scan("") == [] and scanner.scan("   ") == []


def test_scanner_for__same_terms__share_one_compiled_scanner():
    terms = [RiskTerm("클레임", "CLAIM")]
    assert scanner_for(list(terms)) is scanner_for(tuple(terms))


def test_seed_lexicon__compiles_cleanly_and_covers_every_category(scanner):
    assert scanner.errors == []
    from inquiries.agent.risk import PERSON_CATEGORIES
    from inquiries.agent.seed_data import MORE_RISK_KEYWORDS, PERSON_KEYWORDS

    assert {k["category"] for k in RISK_KEYWORDS + MORE_RISK_KEYWORDS} == set(RISK_CATEGORIES)
    assert {k["category"] for k in PERSON_KEYWORDS} == set(PERSON_CATEGORIES)
    terms = [k["term"] for k in RISK_KEYWORDS + MORE_RISK_KEYWORDS + PERSON_KEYWORDS]
    assert len(terms) == len(set(terms))
    for guide_term in GUIDE_RISK_TERMS:
        seed = next(k for k in RISK_KEYWORDS if k["term"] == guide_term)
        assert not any(v.startswith("!") for v in seed["variants"]), "guide keywords have no exclusions"


def test_prefilters__find_exactly_what_scanning_term_by_term_finds():
    """The prefilter unions are split and rearranged for speed; they must never change a result."""
    import dataclasses

    from inquiries.agent.risk import _distributed, _top_level_alternatives
    from inquiries.agent.seed_data import MORE_RISK_KEYWORDS, PERSON_KEYWORDS
    from inquiries.agent.training import shipped_rows

    assert _top_level_alternatives("(?:a)|(?:b(?:c|d))|e[|)]f|(?:x|y)") == ["a", "b(?:c|d)", "e[|)]f", "(?:x|y)"]
    assert _distributed("(?:택배|물건)\\w{0,6}분실") == ["택배\\w{0,6}분실", "물건\\w{0,6}분실"]
    assert _distributed("(?:그냥|절대)?안넘어가") == ["(?:그냥|절대)?안넘어가"]
    terms = [
        RiskTerm(k["term"], k["category"], tuple(k.get("variants") or ()))
        for k in RISK_KEYWORDS + MORE_RISK_KEYWORDS + PERSON_KEYWORDS
    ]
    fast = RiskScanner(terms)
    slow = RiskScanner(terms)
    slow._groups = [dataclasses.replace(group, prefilters=None) for group in slow._groups]
    texts = [row["content"] for _stem, row in shipped_rows()]
    assert len(texts) > 4000
    assert [fast.scan(t) for t in texts] == [slow.scan(t) for t in texts]
