"""The inquiry record (table ``market_inquiry_raw``): what the marketplace said, the decision, the send
and the human review; its review-queue proxy and the rollout modes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from inquiries import transitions
from markets.models import InquiryKind, MarketAccount, MarketCode


class Mode(models.TextChoices):
    """The rollout modes (DESIGN §2): the policy's account modes and the mode an inquiry was decided in."""

    SHADOW = "SHADOW", _("섀도 (판정만)")
    TEST = "TEST", _("테스트 (전송 경로만, 마켓 호출 없음)")
    LIVE = "LIVE", _("실전송")


class InquiryQuerySet(models.QuerySet["Inquiry"]):
    def needing_review(self) -> InquiryQuerySet:
        """The human review queue: needs a person, shadow candidates, and sends that finally failed."""
        return self.filter(Inquiry.REVIEW_QUEUE_Q)

    def due_for_send(self) -> InquiryQuerySet:
        return self.filter(Inquiry.DUE_Q).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=Now()))


class Inquiry(models.Model):
    class Status(models.TextChoices):
        NEW = "NEW", _("신규")  # ingested, not evaluated
        AUTO_SEND = "AUTO_SEND", _("자동 전송")  # policy allows an automatic answer (shadow: a candidate)
        HUMAN_REVIEW = "HUMAN_REVIEW", _("사람 검토")
        APPROVED = "APPROVED", _("승인됨")  # a person approved an answer for sending
        ANSWERED_ELSEWHERE = "ANSWERED_ELSEWHERE", _("외부 답변됨")  # answered outside partialauto
        CLOSED = "CLOSED", _("종료")  # no answer needed

    class SendStatus(models.TextChoices):
        NOT_SENT = "NOT_SENT", _("미전송")
        SENDING = "SENDING", _("전송 중")
        SENT = "SENT", _("전송 완료")
        SEND_FAILED = "SEND_FAILED", _("전송 실패")
        SEND_UNKNOWN = "SEND_UNKNOWN", _("전송 결과 불명")

    Mode = Mode  # the rollout mode a decision was made in (one definition, below the policy app)

    account = models.ForeignKey(
        MarketAccount, on_delete=models.PROTECT, related_name="inquiries", verbose_name=_("계정")
    )
    market_code = models.CharField(_("마켓"), max_length=16, choices=MarketCode.choices)
    kind = models.CharField(_("문의 종류"), max_length=32, choices=InquiryKind.choices)
    external_id = models.CharField(_("마켓 문의 ID"), max_length=64)
    created_at = models.DateTimeField(_("문의 시각"), help_text=_("마켓에서 고객이 문의한 시각"))
    ingested_at = models.DateTimeField(_("수집 시각"), auto_now_add=True)
    updated_at = models.DateTimeField(_("갱신 시각"), auto_now=True)

    title = models.CharField(_("제목"), max_length=300, blank=True)
    content = models.TextField(_("문의 내용"))
    product_id = models.CharField(_("상품 ID"), max_length=64, blank=True)
    product_name = models.CharField(_("상품명"), max_length=300, blank=True)
    order_id = models.CharField(_("주문번호"), max_length=64, blank=True)
    order_refs = models.JSONField(
        _("주문 참조"),
        default=dict,
        blank=True,
        help_text=_("문의가 가리키는 주문: order_ids, product_order_ids(네이버 상품주문번호), item_ids(쿠팡 옵션ID)"),
    )
    product_refs = models.JSONField(
        _("상품 참조"), default=list, blank=True, help_text=_("문의에 있는 상품 ID들 (상품ID, 판매자상품ID, 옵션ID)")
    )
    buyer_name_masked = models.CharField(_("고객명(마스킹)"), max_length=64, blank=True)
    buyer_key = models.CharField(
        _("구매자 식별키"),
        max_length=32,
        blank=True,
        editable=False,
        help_text=_("마켓이 준 구매자 ID(네이버 customerId)의 해시. 같은 구매자의 재문의를 잇는 데만 씁니다."),
    )
    writer_key = models.CharField(
        _("작성자 힌트"),
        max_length=32,
        blank=True,
        editable=False,
        help_text=_("마스킹된 작성자 ID의 해시. 다른 구매자를 가려낼 때만 쓰고, 잇는 근거로는 쓰지 않습니다."),
    )
    reply_context = models.JSONField(_("답변 전송 정보"), default=dict, blank=True)
    raw_payload = models.JSONField(_("원본 데이터"), default=dict, blank=True)

    # the decision
    status = models.CharField(_("상태"), max_length=24, choices=Status.choices, default=Status.NEW)
    intent = models.CharField(_("의도"), max_length=32, blank=True)
    confidence_score = models.FloatField(_("신뢰도"), null=True, blank=True)
    risk_hits = models.JSONField(_("위험 키워드"), default=list, blank=True)
    draft_answer = models.TextField(_("AI 초안"), blank=True)
    final_answer = models.TextField(_("최종 답변"), blank=True)
    decision_reason = models.CharField(_("판정 사유"), max_length=300, blank=True)
    decision_trace = models.JSONField(_("판정 기록"), default=dict, blank=True)
    decision_mode = models.CharField(_("판정 시 모드"), max_length=8, choices=Mode.choices, blank=True)
    decided_at = models.DateTimeField(_("판정 시각"), null=True, blank=True)
    answer_kind = models.CharField(
        _("답변 근거 종류"),
        max_length=20,
        blank=True,
        help_text=_("초안을 무엇으로 썼는지: order_status, shipping_policy, product_facts, past_answer, knowledge"),
    )
    labelled_intent = models.CharField(
        _("사람이 정한 의도"),
        max_length=32,
        blank=True,
        help_text=_("검토 대기열에서 사람이 확인하거나 고친 의도. 다음 학습(train_agent)에 쓰입니다."),
    )
    order_fingerprint = models.CharField(
        _("답변에 쓴 주문 상태"),
        max_length=500,
        blank=True,
        editable=False,
        help_text=_("초안에 쓴 주문 줄과 그 상태 지문. 전송 직전에 주문이 바뀌었으면 보내지 않습니다."),
    )

    # the send
    send_status = models.CharField(
        _("전송 상태"), max_length=16, choices=SendStatus.choices, default=SendStatus.NOT_SENT
    )
    send_attempts = models.PositiveIntegerField(_("전송 시도"), default=0)
    last_send_error = models.TextField(_("마지막 전송 오류"), blank=True)
    is_test_mode = models.BooleanField(_("테스트 모드 기록"), default=False)
    claim_token = models.UUIDField(_("전송 점유 토큰"), null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(_("전송 점유 시각"), null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(_("전송 점유 만료 시각"), null=True, blank=True, editable=False)
    next_attempt_at = models.DateTimeField(_("다음 전송 예정"), null=True, blank=True)
    sent_at = models.DateTimeField(_("전송 시각"), null=True, blank=True)
    remote_ref = models.CharField(_("마켓 답변 번호"), max_length=64, blank=True)
    first_answered_at = models.DateTimeField(
        _("첫 답변 시각"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("마켓이 우리 답변을 받아들인 시각, 또는 다른 곳에서 답변된 것을 처음 본 시각 (첫 응답 시간의 끝)"),
    )
    reconcile_attempts = models.PositiveSmallIntegerField(_("전송 결과 확인 횟수"), default=0)

    # human review
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("검토자"),
    )
    reviewed_at = models.DateTimeField(_("검토 시각"), null=True, blank=True)
    human_edited = models.BooleanField(_("사람이 초안 수정"), null=True, blank=True)
    external_answer = models.TextField(
        _("마켓에서 확인한 답변"), blank=True, help_text=_("partialauto 밖(판매자센터 등)에서 사람이 보낸 답변")
    )
    draft_agreement = models.FloatField(
        _("초안 일치도"),
        null=True,
        blank=True,
        help_text=_("AI 초안과 사람이 실제로 보낸 답변의 유사도 (0~1). 의도별 보정에 쓰입니다."),
    )
    review_note = models.TextField(_("검토 메모"), blank=True)

    objects = InquiryQuerySet.as_manager()

    # The human review queue (DESIGN §2): needs a person, shadow candidates not yet answered, and sends
    # that finally failed and were handed to a person.
    REVIEW_QUEUE_Q = (
        Q(status="HUMAN_REVIEW", send_status__in=["NOT_SENT", "SEND_FAILED", "SEND_UNKNOWN"])
        | Q(status="AUTO_SEND", decision_mode="SHADOW", send_status="NOT_SENT")
        | Q(status__in=["AUTO_SEND", "APPROVED"], send_status="SEND_FAILED", is_test_mode=True)
    )
    # Due for a send: a claim may start from here (the transition table), except shadow candidates.
    DUE_Q = transitions.source_q(transitions.Step.CLAIM) & ~Q(decision_mode="SHADOW", status="AUTO_SEND")

    class Meta:
        db_table = "market_inquiry_raw"
        ordering = ["-created_at"]
        verbose_name = _("문의")
        verbose_name_plural = _("문의")
        get_latest_by = "created_at"
        permissions = [("review_inquiry", _("답변 검토·수정·승인"))]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "external_id"], name="inquiry_unique_external"),
            models.CheckConstraint(condition=Q(send_attempts__gte=0), name="inquiry_send_attempts_nonneg"),
            models.CheckConstraint(
                condition=Q(confidence_score__isnull=True) | Q(confidence_score__gte=0, confidence_score__lte=1),
                name="inquiry_confidence_0_1",
            ),
            models.CheckConstraint(
                condition=~Q(send_status="SENDING") | Q(claim_token__isnull=False), name="inquiry_sending_has_claim"
            ),
            models.CheckConstraint(
                condition=Q(draft_agreement__isnull=True) | Q(draft_agreement__gte=0, draft_agreement__lte=1),
                name="inquiry_agreement_0_1",
            ),
        ]
        indexes = [
            # the guide's SQL and the KPI windows filter on created_at
            models.Index(fields=["created_at"], name="inquiry_created_idx"),
            models.Index(fields=["account", "created_at"], name="inquiry_account_created_idx"),
            models.Index(fields=["status", "created_at"], name="inquiry_status_created_idx"),
            models.Index(fields=["send_status", "created_at"], name="inquiry_sendst_created_idx"),
            # first-response time: windows of answered rows (policy.first_response)
            models.Index(
                fields=["first_answered_at"],
                name="inquiry_first_answered_idx",
                condition=Q(first_answered_at__isnull=False),
            ),
            # send sweeper: only rows that may be due
            models.Index(
                fields=["next_attempt_at", "id"],
                name="inquiry_due_idx",
                condition=Q(status__in=["AUTO_SEND", "APPROVED"], send_status__in=["NOT_SENT", "SEND_FAILED"]),
            ),
            # the sweep's batch claim takes a few due rows per account (policy.sending._lock_due_ids)
            models.Index(
                fields=["account", "next_attempt_at", "id"],
                name="inquiry_account_due_idx",
                condition=Q(status__in=["AUTO_SEND", "APPROVED"], send_status__in=["NOT_SENT", "SEND_FAILED"]),
            ),
            # reconciler: in-flight and unknown rows only. On claimed_at (what it filters SENDING rows by),
            # not on lease_expires_at: the lease renewal right before each marketplace call then changes
            # no indexed column and PostgreSQL can do it as a HOT update.
            models.Index(
                fields=["claimed_at"],
                name="inquiry_inflight_claimed_idx",
                condition=Q(send_status__in=["SENDING", "SEND_UNKNOWN"]),
            ),
            # the monitor's risk-keyword rule: AUTO_SEND decisions of the last hour
            models.Index(fields=["decided_at"], name="inquiry_autosend_decided_idx", condition=Q(status="AUTO_SEND")),
            models.Index(
                fields=["status", "-created_at"],
                name="inquiry_review_idx",
                condition=Q(status__in=["HUMAN_REVIEW", "AUTO_SEND"]),
            ),
            models.Index(fields=["sent_at"], name="inquiry_sent_at_idx", condition=Q(send_status="SENT")),
            # the rollout page: today's sends per account
            models.Index(
                fields=["account", "sent_at"], name="inquiry_account_sent_idx", condition=Q(send_status="SENT")
            ),
            # follow-up detection: earlier inquiries of the same order or buyer
            models.Index(fields=["account", "order_id"], name="inquiry_account_order_idx", condition=~Q(order_id="")),
            models.Index(fields=["account", "buyer_key"], name="inquiry_account_buyer_idx", condition=~Q(buyer_key="")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.external_id}"


class ReviewItem(Inquiry):
    """The human review queue, as its own admin page (a proxy: same table, different screen)."""

    class Meta:
        proxy = True
        verbose_name = _("검토 대기 문의")
        verbose_name_plural = _("검토 대기열")
