"""The inquiry record (table ``market_inquiry_raw``), its event trail, send attempts, intents and
the answer knowledge base."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from inquiries import transitions
from markets.models import InquiryKind, MarketAccount, MarketCode


class Intent(models.Model):
    """An inquiry intent. The stored value on inquiries is the Korean name (the guide's ALLOWED_INTENTS)."""

    name = models.CharField(_("의도"), max_length=32, unique=True)
    description = models.CharField(_("설명"), max_length=200, blank=True)
    patterns = models.JSONField(
        _("분류 패턴"),
        default=list,
        blank=True,
        help_text=_("키워드 목록. 정규식은 're:'로 시작합니다. 규칙 기반 분류기가 씁니다."),
    )
    is_active = models.BooleanField(_("사용"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("순서"), default=0)
    history = HistoricalRecords()

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name = _("문의 의도")
        verbose_name_plural = _("문의 의도")

    def __str__(self) -> str:
        return self.name


class KnowledgeEntry(models.Model):
    """One answer of the knowledge base the agent drafts from; ops maintain these in the admin."""

    intent = models.ForeignKey(
        Intent, on_delete=models.PROTECT, related_name="knowledge_entries", verbose_name=_("의도")
    )
    title = models.CharField(_("제목"), max_length=120)
    keywords = models.JSONField(
        _("키워드"), default=list, blank=True, help_text=_("이 답변이 맞는 질문에 나오는 단어들")
    )
    body = models.TextField(
        _("답변 본문"),
        help_text=_("치환자: {seller_name}, {product_name}, {customer_greeting}. 알 수 없는 치환자는 비워집니다."),
    )
    account = models.ForeignKey(
        MarketAccount,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="knowledge_entries",
        verbose_name=_("계정 한정"),
    )
    product_id = models.CharField(_("상품 한정(상품 ID)"), max_length=64, blank=True)
    priority = models.SmallIntegerField(_("우선순위"), default=0)
    states_facts = models.BooleanField(
        _("사실을 담은 답변"),
        default=True,
        help_text=_(
            "판매자의 절차·정책을 그대로 말하는 답변이면 켭니다. '상세페이지/설명서를 참고해 주세요' 같은 일반 안내는 "
            "끄세요: 그런 답변만으로는 자동 전송하지 않고 사람이 답합니다."
        ),
    )
    is_active = models.BooleanField(_("사용"), default=True)
    updated_at = models.DateTimeField(_("수정 시각"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["intent__sort_order", "-priority", "title"]
        verbose_name = _("답변 지식")
        verbose_name_plural = _("답변 지식베이스")

    def __str__(self) -> str:
        return f"[{self.intent_id and self.intent.name}] {self.title}"


class ProductKnowledge(models.Model):
    """What the seller knows about one marketplace product (usage, care, specs, compatibility, FAQ):
    the facts a 사용법/상품문의 answer is written from. Without a matching fact a person answers."""

    account = models.ForeignKey(
        MarketAccount,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="product_knowledge",
        verbose_name=_("계정 한정"),
        help_text=_("비우면 모든 계정의 같은 상품 ID에 적용됩니다."),
    )
    product_id = models.CharField(
        _("상품 ID"), max_length=64, help_text=_("문의에 오는 마켓 상품 ID (쿠팡 상품ID·옵션ID, 네이버 상품번호)")
    )
    aliases = models.JSONField(
        _("같은 상품의 다른 ID"),
        default=list,
        blank=True,
        help_text=_("예: 쿠팡 옵션ID(vendorItemId), 판매자상품ID. 어느 ID로 문의가 와도 찾습니다."),
    )
    name = models.CharField(_("상품명"), max_length=300)
    is_active = models.BooleanField(_("사용"), default=True)
    updated_at = models.DateTimeField(_("수정 시각"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        db_table = "cs_product_knowledge"
        ordering = ["name", "product_id"]
        verbose_name = _("상품 지식")
        verbose_name_plural = _("상품 지식")
        constraints = [
            models.UniqueConstraint(fields=["account", "product_id"], name="product_knowledge_unique"),
            models.UniqueConstraint(
                fields=["product_id"], condition=Q(account__isnull=True), name="product_knowledge_unique_shared"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.product_id})"

    @property
    def all_ids(self) -> list[str]:
        return [self.product_id, *(str(a) for a in self.aliases or () if str(a).strip())]


class ProductFact(models.Model):
    """One sentence the seller stands behind, e.g. "타이머는 전원 버튼을 두 번 누르면 10분 단위로 맞춰집니다."."""

    product = models.ForeignKey(
        ProductKnowledge, on_delete=models.CASCADE, related_name="facts", verbose_name=_("상품")
    )
    text = models.TextField(_("사실 (한 문장)"))
    sort_order = models.PositiveSmallIntegerField(_("순서"), default=0)
    # Answers are written from these sentences: who changed which one, and when, must stay visible.
    history = HistoricalRecords()

    class Meta:
        db_table = "cs_product_fact"
        ordering = ["product", "sort_order", "id"]
        verbose_name = _("상품 사실")
        verbose_name_plural = _("상품 사실")

    def __str__(self) -> str:
        return self.text[:60]


class AgentModel(models.Model):
    """A trained version of the agent's text models (intent, risk screen, needs-a-person screen and the
    confidence calibration), with the figures it was measured at. At most one version is active per scope
    (one account, or every account); without an active version the rules classifier decides."""

    version = models.PositiveIntegerField(_("버전"), unique=True)
    account = models.ForeignKey(
        MarketAccount,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="agent_models",
        verbose_name=_("계정 한정"),
        help_text=_("비우면 모든 계정에 쓰입니다. 계정 전용 버전이 있으면 그 계정에는 그것을 씁니다."),
    )
    is_active = models.BooleanField(_("사용 중"), default=False)
    created_at = models.DateTimeField(_("만든 시각"), auto_now_add=True)
    created_by = models.CharField(_("만든 사람"), max_length=64)
    activated_at = models.DateTimeField(_("사용 시작"), null=True, blank=True)
    activated_by = models.CharField(_("사용 시작한 사람"), max_length=64, blank=True)
    training_data = models.JSONField(
        _("학습 데이터"),
        default=dict,
        help_text=_("출처별 예시 수: 기본 제공 데이터, 판매자가 고친 의도, 사람이 보낸 답변"),
    )
    metrics = models.JSONField(_("평가 수치"), default=dict)
    notes = models.CharField(_("메모"), max_length=300, blank=True)
    artifact = models.BinaryField(_("학습된 모델 파일"), editable=False)

    class Meta:
        db_table = "cs_agent_model"
        ordering = ["-version"]
        verbose_name = _("AI 모델 버전")
        verbose_name_plural = _("AI 모델 버전")
        permissions = [("activate_agentmodel", _("AI 모델 버전 사용·되돌리기"))]
        constraints = [
            models.UniqueConstraint(
                fields=["account"], condition=Q(is_active=True), name="agent_model_one_active_per_account"
            ),
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True, account__isnull=True),
                name="agent_model_one_active_shared",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version}" + (f" ({self.account})" if self.account_id else "")


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
            # follow-up detection: earlier inquiries of the same order or buyer
            models.Index(fields=["account", "order_id"], name="inquiry_account_order_idx", condition=~Q(order_id="")),
            models.Index(fields=["account", "buyer_key"], name="inquiry_account_buyer_idx", condition=~Q(buyer_key="")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.external_id}"


class InquiryEvent(models.Model):
    """Every state change of an inquiry, with who (a person or a system actor) and when."""

    class Type(models.TextChoices):
        INGESTED = "INGESTED", _("수집")
        DECIDED = "DECIDED", _("판정")
        DEFERRED = "DEFERRED", _("영업시간 밖 보류")
        CLAIMED = "CLAIMED", _("전송 선점")
        SENT = "SENT", _("전송 완료")
        SEND_FAILED = "SEND_FAILED", _("전송 실패")
        SEND_UNKNOWN = "SEND_UNKNOWN", _("전송 결과 불명")
        TEST_MODE = "TEST_MODE", _("테스트 모드 차단")
        BLOCKED = "BLOCKED", _("전송 전 재검사 차단")
        RECONCILED = "RECONCILED", _("마켓 확인")
        ESCALATED = "ESCALATED", _("사람에게 넘김")
        APPROVED = "APPROVED", _("승인")
        CLOSED = "CLOSED", _("종료")
        ANSWERED_ELSEWHERE = "ANSWERED_ELSEWHERE", _("외부 답변 확인")
        EDITED = "EDITED", _("수정")
        FOLLOW_UP = "FOLLOW_UP", _("재문의 연결")

    inquiry = models.ForeignKey(Inquiry, verbose_name=_("문의"), on_delete=models.CASCADE, related_name="events")
    type = models.CharField(_("종류"), max_length=24, choices=Type.choices)
    at = models.DateTimeField(_("시각"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("사람"),
    )
    actor_label = models.CharField(
        _("행위자"), max_length=64, help_text=_("사람이면 사용자 이름, 아니면 system:worker 같은 시스템 이름")
    )
    from_status = models.CharField(_("이전 상태"), max_length=24, blank=True)
    to_status = models.CharField(_("바뀐 상태"), max_length=24, blank=True)
    from_send_status = models.CharField(_("이전 전송 상태"), max_length=16, blank=True)
    to_send_status = models.CharField(_("바뀐 전송 상태"), max_length=16, blank=True)
    message = models.CharField(_("내용"), max_length=500, blank=True)
    data = models.JSONField(_("세부 내용"), default=dict, blank=True)

    class Meta:
        db_table = "market_inquiry_event"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["inquiry", "at"], name="inquiry_event_inquiry_at")]
        verbose_name = _("문의 이력")
        verbose_name_plural = _("문의 이력")

    def __str__(self) -> str:
        return f"{self.get_type_display()} {timezone.localtime(self.at):%Y-%m-%d %H:%M:%S}"


class SendAttempt(models.Model):
    """One claimed send: the ground truth the monitor's failure rules read (test-mode rows flagged)."""

    class Outcome(models.TextChoices):
        PENDING = "PENDING", _("진행 중")
        DELIVERED = "DELIVERED", _("전송됨")
        FAILED_RETRYABLE = "FAILED_RETRYABLE", _("실패(재시도)")
        FAILED_PERMANENT = "FAILED_PERMANENT", _("실패(영구)")
        ALREADY_ANSWERED = "ALREADY_ANSWERED", _("이미 답변됨")
        AUTH_ERROR = "AUTH_ERROR", _("인증 오류")
        RATE_LIMITED = "RATE_LIMITED", _("호출 한도")
        UNKNOWN = "UNKNOWN", _("결과 불명")
        TEST_MODE = "TEST_MODE", _("테스트 모드")
        BLOCKED = "BLOCKED", _("재검사 차단")

    # Confirmed failures. An UNKNOWN outcome is not one until reconciliation asks the marketplace: it then
    # becomes DELIVERED, FAILED_RETRYABLE (confirmed not delivered) or ALREADY_ANSWERED.
    FAILURES = ("FAILED_RETRYABLE", "FAILED_PERMANENT", "AUTH_ERROR")

    inquiry = models.ForeignKey(
        Inquiry, verbose_name=_("문의"), on_delete=models.CASCADE, related_name="send_attempt_log"
    )
    account = models.ForeignKey(
        MarketAccount, verbose_name=_("계정"), on_delete=models.CASCADE, related_name="send_attempts"
    )
    market_code = models.CharField(_("마켓"), max_length=16, choices=MarketCode.choices)
    attempt_no = models.PositiveIntegerField(_("시도 번호"))
    claim_token = models.UUIDField(_("전송 점유 토큰"))
    outcome = models.CharField(_("결과"), max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    http_status = models.PositiveSmallIntegerField(_("HTTP 상태 코드"), null=True, blank=True)
    error = models.TextField(_("오류"), blank=True)
    is_test_mode = models.BooleanField(_("테스트 모드"), default=False)
    started_at = models.DateTimeField(_("시작 시각"), default=timezone.now)
    finished_at = models.DateTimeField(_("종료 시각"), null=True, blank=True)

    class Meta:
        db_table = "market_send_attempt"
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["started_at"], name="send_attempt_started_idx"),
            models.Index(fields=["account", "-started_at"], name="send_attempt_account_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["claim_token"], name="send_attempt_claim_unique")]
        verbose_name = _("전송 시도")
        verbose_name_plural = _("전송 시도")

    def __str__(self) -> str:
        return f"{self.inquiry_id}#{self.attempt_no} {self.outcome}"


class ReviewItem(Inquiry):
    """The human review queue, as its own admin page (a proxy: same table, different screen)."""

    class Meta:
        proxy = True
        verbose_name = _("검토 대기 문의")
        verbose_name_plural = _("검토 대기열")


class FollowUp(models.Model):
    """A buyer wrote again about an inquiry that was answered: the new inquiry, the answered one, how they
    were linked and what the new one says about the answer (``inquiries.followups``)."""

    class Kind(models.TextChoices):
        REPEAT = "REPEAT", _("같은 질문 반복")
        COMPLAINT = "COMPLAINT", _("답변 불만")
        NEW_TOPIC = "NEW_TOPIC", _("새 주제")

    class LinkedBy(models.TextChoices):
        ORDER = "ORDER", _("같은 주문")
        BUYER = "BUYER", _("같은 구매자")
        PRODUCT_TEXT = "PRODUCT_TEXT", _("같은 상품·거의 같은 질문")

    class Path(models.TextChoices):
        AUTO = "AUTO", _("자동 답변")
        HUMAN = "HUMAN", _("사람 답변")

    inquiry = models.OneToOneField(
        Inquiry, on_delete=models.CASCADE, related_name="follow_up_of", verbose_name=_("재문의")
    )
    earlier = models.ForeignKey(
        Inquiry, on_delete=models.CASCADE, related_name="follow_ups", verbose_name=_("먼저 답한 문의")
    )
    account = models.ForeignKey(MarketAccount, on_delete=models.CASCADE, related_name="+", verbose_name=_("계정"))
    kind = models.CharField(_("분류"), max_length=12, choices=Kind.choices)
    linked_by = models.CharField(_("연결 근거"), max_length=16, choices=LinkedBy.choices)
    path = models.CharField(_("먼저 한 답변"), max_length=8, choices=Path.choices)
    intent = models.CharField(_("먼저 한 답변의 의도"), max_length=32, blank=True)
    answered_at = models.DateTimeField(_("먼저 답한 시각"))
    asked_at = models.DateTimeField(_("재문의 시각"))
    similarity = models.FloatField(_("질문 유사도"), default=0.0)
    evidence = models.JSONField(_("분류 근거"), default=dict, blank=True)
    created_at = models.DateTimeField(_("연결 시각"), auto_now_add=True)

    class Meta:
        db_table = "cs_inquiry_follow_up"
        ordering = ["-asked_at"]
        verbose_name = _("재문의")
        verbose_name_plural = _("재문의")
        indexes = [
            models.Index(fields=["answered_at"], name="follow_up_answered_idx"),
            models.Index(fields=["account", "intent", "answered_at"], name="follow_up_acct_intent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.earlier_id} → {self.inquiry_id} ({self.kind})"
