"""Korean labels for the agent's reason codes, for the admin and the review screen.

The codes are the contract (stored on inquiries, read by the policy engine and dashboards); these
labels are UI text only, so this is the one agent module that needs Django.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from inquiries.agent.context import Reason
from inquiries.agent.steps import LEARNED_TERM

REASON_LABELS = {
    Reason.OK: _("자동 답변 가능"),
    Reason.EMPTY_INPUT: _("문의 내용 없음"),
    Reason.INPUT_TOO_LONG: _("문의가 너무 김"),
    Reason.RISK_KEYWORD: _("위험 키워드"),
    Reason.NO_KB_MATCH: _("맞는 답변 지식 없음"),
    Reason.LOW_CONFIDENCE: _("신뢰도 낮음"),
    Reason.LLM_NEEDS_HUMAN: _("LLM이 사람 검토 요청"),
    Reason.LLM_ERROR: _("LLM 호출 실패"),
    Reason.LLM_INVALID_OUTPUT: _("LLM 응답 형식 오류"),
    Reason.AGENT_ERROR: _("에이전트 오류"),
    Reason.NO_FACTS: _("답변할 사실 없음 (일반 안내뿐)"),
    Reason.ORDER_NEEDS_PERSON: _("주문 상태상 사람 확인 필요"),
    Reason.ORDER_NOT_FOUND: _("주문을 찾을 수 없음"),
    Reason.ORDER_LOOKUP_FAILED: _("주문 조회 실패"),
    Reason.NO_ORDER_REFERENCE: _("주문 정보 없이 본인 주문 문의"),
    Reason.NEEDS_PERSON: _("사람만 들어줄 수 있는 요청 (가격·대량·맞춤·부분 환불·예외)"),
}


# Risk hits whose term is a code rather than a word the text contains
RISK_TERM_LABELS = {LEARNED_TERM: _("학습된 위험 판별")}


def reason_label(code: str) -> str:
    return str(REASON_LABELS.get(code, code))


def risk_term_label(term: str | None) -> str:
    """A risk hit's term as a person reads it: the keyword itself, or what found it when no keyword did."""
    return str(RISK_TERM_LABELS.get(term or "", term or ""))
