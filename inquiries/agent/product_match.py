"""Which of a product's facts answers a question.

Korean questions and fact sentences rarely share whole words ("식세기 돼요?" / "식기세척기 사용이
가능합니다"), so both are compared as character bigrams of their compact form, after a few spelling
equivalences buyers use. Bigrams that carry no topic (endings and particles: "니다", "세요", "나요"…)
are ignored, and the rest are weighted by how rare they are among the product's facts: a fact wins on
the words only it shares with the question.

A match is *strong* when the best fact covers a good part of the question's topic words; only a strong
match may be an answer on its own (otherwise a person answers).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from inquiries.agent.facts import ProductFact, ProductFacts
from inquiries.agent.normalize import compact_form

# Buyers' spellings → the seller's (applied to both sides on the compact form).
_EQUIVALENT = (
    ("식세기", "식기세척기"),
    ("빨래", "세탁"),
    ("빨아", "세탁"),
    ("빨면", "세탁"),
    ("손빨래", "손세탁"),
    ("완충", "완전충전"),
    ("핸드폰", "휴대폰"),
    ("스마트폰", "휴대폰"),
    ("블투", "블루투스"),
    ("페어링", "연결"),
    ("연동", "연결"),
    ("전자렌지", "전자레인지"),
    ("밧데리", "배터리"),
    ("사이즈표", "사이즈"),
    ("치수", "사이즈"),
    ("유통기한", "소비기한"),
    ("몇키로", "무게"),
    ("무게제한", "하중"),
    ("에이에스", "as"),
    ("뜨거운물", "온수"),
    ("빡빡", "빳빳"),
    ("불세기", "온도"),
    ("불조절", "온도"),
    ("색깔", "색상"),
    ("색변경", "색상바꾸"),
)
_EQUIVALENT_RE = re.compile("|".join(re.escape(a) for a, _b in sorted(_EQUIVALENT, key=lambda p: -len(p[0]))))
_EQUIVALENT_MAP = dict(_EQUIVALENT)

# Bigrams of endings, particles and filler that say nothing about the topic.
_STOP = frozenset(
    "니다 습니 세요 나요 까요 어요 아요 해요 에요 이에 예요 인가 는데 은데 는지 인지 하나 하는 하면 해서 해도 "
    "있나 있어 "
    "있는 있습 없나 없어 없는 되나 되는 돼요 되요 될까 할까 가요 거나 그리 리고 이고 으로 에서 에게 한테 부터 까지 "
    "이랑 랑이 하고 에는 에도 이요 요요 이나 문의 궁금 금해 금합 합니 드립 립니 려주 주세 알려 려요 고객 고객님 객님 "
    "안녕 녕하 하세 감사 사합 혹시 그런 이거 그거 저거 제품 상품 이제 그냥 정말 너무 진짜 조금 이번 어떻 떻게 게하 "
    "어떤 뭐가 뭔가 가능 능한 한가 능할 할수 수있 나용 요ㅠ ㅠㅠ ㅎㅎ ㅋㅋ 좀더 주문 구매 샀는 샀어 받았 았는 었는 "
    "네요 군요 는거 은거 인데 건가 거죠 죠ㅠ 되죠 해야 하려 려고 싶어 싶은 싶습 으면 야하 되겠 겠죠 을까 좋을 는게 "
    "하게 려면 주시 시면 할때 마다 때마 다시 그럼 그러 러면 이게 건지 는건 은건 같아 같은 같이 자꾸 계속 "
    # a call-centre summary's own wording ("… 방법 안내 요청", "… 여부 문의", "희망하심")
    "안내 요청 청드 하심 희망 망하 여부 방법 모르 르겠 겠어 겠네".split()
)
UNKNOWN_WEIGHT = 0.35
STRONG_COVERAGE = 0.34  # share of the question's topic weight the best fact must cover
SECOND_RATIO = 0.8  # a second fact is added when it scores this close to the best


def _canonical(compact: str) -> str:
    return _EQUIVALENT_RE.sub(lambda m: _EQUIVALENT_MAP[m.group(0)], compact)


def grams(text: str) -> frozenset[str]:
    """Topic bigrams of a text (compact form, equivalences applied, stop bigrams removed)."""
    compact = _canonical(compact_form(text))
    return frozenset(
        g for g in (compact[i : i + 2] for i in range(len(compact) - 1)) if g not in _STOP and not g.isdigit()
    )


@dataclass(frozen=True)
class FactMatch:
    fact: ProductFact
    score: float
    coverage: float  # share of the question's topic weight this fact covers (0..1)
    shared: tuple[str, ...]


@dataclass(frozen=True)
class _Indexed:
    facts: tuple[ProductFact, ...]
    grams: tuple[frozenset[str], ...]
    idf: dict[str, float]


@lru_cache(maxsize=512)
def _index(product: ProductFacts) -> _Indexed:
    fact_grams = tuple(grams(f.text) for f in product.facts)
    df: dict[str, int] = {}
    for gs in fact_grams:
        for g in gs:
            df[g] = df.get(g, 0) + 1
    n = max(1, len(fact_grams))
    idf = {g: math.log(1 + n / d) for g, d in df.items()}
    return _Indexed(product.facts, fact_grams, idf)


def match_facts(question: str, product: ProductFacts) -> list[FactMatch]:
    """The product's facts that share topic words with the question, best first."""
    if not product.facts:
        return []
    index = _index(product)
    asked = grams(question)
    if not asked:
        return []
    # A question bigram no fact uses still counts in the total, but lightly: most are the question's
    # own wording ("모르겠어요", "눌러야") rather than a topic the facts could have covered.
    unknown = UNKNOWN_WEIGHT
    total = sum(index.idf.get(g, unknown) for g in asked)
    matches = []
    for fact, fact_grams in zip(index.facts, index.grams, strict=True):
        shared = asked & fact_grams
        if not shared:
            continue
        score = sum(index.idf[g] for g in shared)
        matches.append(FactMatch(fact, round(score, 3), round(score / total, 3), tuple(sorted(shared))))
    matches.sort(key=lambda m: (-m.score, m.fact.id))
    return matches


def answering_facts(matches: Sequence[FactMatch]) -> list[FactMatch]:
    """The facts an answer states: the best one when it is a strong match, plus a close second."""
    if not matches or matches[0].coverage < STRONG_COVERAGE:
        return []
    best = matches[0]
    chosen = [best]
    if len(matches) > 1 and matches[1].score >= SECOND_RATIO * best.score:
        chosen.append(matches[1])
    return chosen
