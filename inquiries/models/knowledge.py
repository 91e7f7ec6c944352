"""What the agent answers and decides from: intents, the answer knowledge base, the seller's product
knowledge with its facts, and the trained agent versions."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from markets.models import MarketAccount


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
