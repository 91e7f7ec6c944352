"""Market accounts, their polling cursors, malformed payloads and the shared rate-limit buckets."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from markets.clients.types import KINDS_BY_MARKET as CLIENT_KINDS_BY_MARKET
from partialauto.crypto import decrypt_json, encrypt_json
from partialauto.db import concrete_field


class MarketCode(models.TextChoices):
    COUPANG = "COUPANG", _("쿠팡")
    SMARTSTORE = "SMARTSTORE", _("스마트스토어")


class InquiryKind(models.TextChoices):
    COUPANG_ONLINE = "COUPANG_ONLINE", _("쿠팡 상품문의")
    COUPANG_CALLCENTER = "COUPANG_CALLCENTER", _("쿠팡 고객센터 문의")
    NAVER_QNA = "NAVER_QNA", _("네이버 상품 Q&A")
    NAVER_INQUIRY = "NAVER_INQUIRY", _("네이버 고객 문의")


# The clients' table (one definition), as the choices above.
KINDS_BY_MARKET = {
    MarketCode(market): tuple(InquiryKind(kind) for kind in kinds) for market, kinds in CLIENT_KINDS_BY_MARKET.items()
}

# Which credential names each market needs. They are stored encrypted, never shown back.
SECRET_FIELDS = {
    MarketCode.COUPANG: ("access_key", "secret_key"),
    MarketCode.SMARTSTORE: ("client_secret",),
}


# Seconds between two polls of one account (MarketAccount.poll_interval_seconds).
DEFAULT_POLL_INTERVAL = 30
MIN_POLL_INTERVAL = 10
MAX_POLL_INTERVAL = 3600


class MarketAccountQuerySet(models.QuerySet["MarketAccount"]):
    def active(self) -> MarketAccountQuerySet:
        return self.filter(is_active=True)


class MarketAccount(models.Model):
    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    name = models.SlugField(
        _("계정 이름"), max_length=64, unique=True, help_text=_("예: coupang_main. 명령어와 로그에서 쓰는 이름입니다.")
    )
    market_code = models.CharField(_("마켓"), max_length=16, choices=MarketCode.choices)
    is_active = models.BooleanField(_("사용"), default=True)
    seller_name = models.CharField(
        _("판매자 표시명"), max_length=100, blank=True, help_text=_("답변 인사말에 들어갑니다.")
    )
    api_base_url = models.URLField(
        _("API 주소"), blank=True, help_text=_("비워 두면 실제 마켓 주소를 씁니다. 샌드박스를 쓸 때만 입력하세요.")
    )
    vendor_id = models.CharField(_("쿠팡 업체코드(vendorId)"), max_length=32, blank=True)
    reply_by = models.CharField(_("쿠팡 답변자 WING ID(replyBy)"), max_length=64, blank=True)
    client_id = models.CharField(_("네이버 애플리케이션 ID"), max_length=128, blank=True)
    credentials_encrypted = models.TextField(_("암호화된 인증정보"), editable=False, blank=True, default="")
    credentials_updated_at = models.DateTimeField(_("인증정보 변경 시각"), null=True, blank=True, editable=False)
    poll_interval_seconds = models.PositiveIntegerField(
        _("수집 간격(초)"),
        default=DEFAULT_POLL_INTERVAL,
        validators=[MinValueValidator(MIN_POLL_INTERVAL), MaxValueValidator(MAX_POLL_INTERVAL)],
        help_text=_(
            "새 문의를 몇 초마다 가져올지 (10~3600, 기본 30). 마켓 호출 한도는 모든 워커가 함께 지키므로 "
            "짧게 해도 한도를 넘지 않습니다."
        ),
    )
    # The poll loop's coordination (inquiries.polling): when the account is due, and until when a poller
    # holds it. Changed every few seconds by conditional UPDATEs, so left out of the history.
    next_poll_at = models.DateTimeField(_("다음 수집 예정"), null=True, blank=True, editable=False)
    poll_lease_until = models.DateTimeField(_("수집 점유 만료"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("등록 시각"), auto_now_add=True)
    updated_at = models.DateTimeField(_("수정 시각"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["credentials_encrypted", "next_poll_at", "poll_lease_until"])
    objects = MarketAccountQuerySet.as_manager()

    class Meta:
        db_table = "market_account"
        ordering = ["name"]
        verbose_name = _("마켓 계정")
        verbose_name_plural = _("마켓 계정")
        indexes = [models.Index(fields=["market_code", "is_active"], name="market_account_market_active")]
        constraints = [
            models.CheckConstraint(
                condition=Q(poll_interval_seconds__gte=MIN_POLL_INTERVAL, poll_interval_seconds__lte=MAX_POLL_INTERVAL),
                name="market_account_poll_interval_range",
                violation_error_message=_("수집 간격은 10초에서 3600초 사이여야 합니다."),
            )
        ]

    def __str__(self) -> str:
        return self.name

    # Credentials are one encrypted JSON document; reading them needs the key, writing replaces them.
    def get_credentials(self) -> dict[str, str]:
        return decrypt_json(self.credentials_encrypted)

    def set_credentials(self, values: dict[str, str]) -> None:
        current = self.get_credentials() if self.credentials_encrypted else {}
        current.update({k: v for k, v in values.items() if v})
        self.credentials_encrypted = encrypt_json(current)

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(KINDS_BY_MARKET[MarketCode(self.market_code)])


class PollCursor(models.Model):
    """Where incremental polling of one account and inquiry kind has got to, and when the sweep of its
    unanswered inquiries (which catches those that appeared late) last ran."""

    account = models.ForeignKey(
        MarketAccount, verbose_name=_("계정"), on_delete=models.CASCADE, related_name="poll_cursors"
    )
    kind = models.CharField(_("수집 대상"), max_length=32, choices=InquiryKind.choices)
    watermark = models.DateTimeField(_("수집 기준 시각"), null=True, blank=True)
    last_polled_at = models.DateTimeField(_("마지막 수집 시각"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("마지막 성공 시각"), null=True, blank=True)
    last_error = models.TextField(_("마지막 오류"), blank=True)
    last_fetched = models.PositiveIntegerField(_("마지막으로 받은 건수"), default=0)
    last_swept_at = models.DateTimeField(_("마지막 미답변 재수집 시각"), null=True, blank=True)
    last_sweep_success_at = models.DateTimeField(_("마지막 미답변 재수집 성공 시각"), null=True, blank=True)
    last_sweep_error = models.TextField(_("미답변 재수집 오류"), blank=True)
    last_sweep_found = models.PositiveIntegerField(
        _("재수집으로 찾은 새 문의"),
        default=0,
        help_text=_("마지막 미답변 재수집이 새로 저장한 문의 수: 늦게 나타나 기준 시각 수집이 놓친 문의입니다."),
    )

    class Meta:
        db_table = "market_poll_cursor"
        constraints = [models.UniqueConstraint(fields=["account", "kind"], name="market_poll_cursor_unique")]
        verbose_name = _("수집 커서")
        verbose_name_plural = _("수집 커서")

    def __str__(self) -> str:
        return f"{self.account_id}:{self.kind}"


class PayloadKind(models.TextChoices):
    """What a malformed payload was meant to be: an inquiry of some kind, or an order record."""

    COUPANG_ONLINE = InquiryKind.COUPANG_ONLINE.value, InquiryKind.COUPANG_ONLINE.label
    COUPANG_CALLCENTER = InquiryKind.COUPANG_CALLCENTER.value, InquiryKind.COUPANG_CALLCENTER.label
    NAVER_QNA = InquiryKind.NAVER_QNA.value, InquiryKind.NAVER_QNA.label
    NAVER_INQUIRY = InquiryKind.NAVER_INQUIRY.value, InquiryKind.NAVER_INQUIRY.label
    COUPANG_ORDER = "COUPANG_ORDER", _("쿠팡 발주서")
    COUPANG_RETURN = "COUPANG_RETURN", _("쿠팡 반품·취소 요청")
    NAVER_ORDER = "NAVER_ORDER", _("네이버 상품주문")


class MalformedPayload(models.Model):
    """A marketplace item that could not be parsed: kept verbatim, skipped by the poll or the order sync."""

    account = models.ForeignKey(
        MarketAccount, verbose_name=_("계정"), on_delete=models.CASCADE, related_name="malformed_payloads"
    )
    kind = models.CharField(_("데이터 종류"), max_length=32, choices=PayloadKind.choices)
    payload = models.TextField(_("원본 데이터"))
    error = models.TextField(_("오류"))
    received_at = models.DateTimeField(_("받은 시각"), auto_now_add=True, db_index=True)

    class Meta:
        db_table = "market_malformed_payload"
        ordering = ["-received_at"]
        verbose_name = _("형식 오류 데이터")
        verbose_name_plural = _("형식 오류 데이터")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {timezone.localtime(self.received_at):%Y-%m-%d %H:%M}"


class PollLoopBaton(models.Model):
    """The one row that says which poll loop runs (inquiries.polling.run_poll_loop): the newest loop takes
    it, an older one that sees it gone stops, so the loops of every cluster hand over without a gap."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    token = models.UUIDField(_("실행 중인 수집 루프"), null=True, blank=True)
    taken_at = models.DateTimeField(_("넘겨받은 시각"), null=True, blank=True)

    class Meta:
        db_table = "market_poll_loop"
        verbose_name = _("수집 루프")
        verbose_name_plural = _("수집 루프")

    def __str__(self) -> str:
        return f"poll loop {self.token}"


class RateBucket(models.Model):
    """Token bucket shared by every worker process when no Redis is configured."""

    key = models.CharField(_("키"), max_length=200, primary_key=True)
    tokens = models.FloatField(_("남은 토큰"), default=0)
    updated_at = models.FloatField(_("갱신 시각(epoch 초)"), default=0)
    blocked_until = models.FloatField(_("차단 해제 시각(epoch 초)"), default=0)

    class Meta:
        db_table = "market_rate_bucket"
        verbose_name = _("호출 한도 버킷")
        verbose_name_plural = _("호출 한도 버킷")

    def __str__(self) -> str:
        return self.key


# --- the order mirror ----------------------------------------------------------------------------


class OrderStatus(models.TextChoices):
    """Where one order line (a Coupang shipment box, a Naver product order) is, in one vocabulary."""

    PAID = "PAID", _("결제완료")
    PREPARING = "PREPARING", _("상품준비중")
    SHIPPED = "SHIPPED", _("출고완료")  # handed to the carrier (invoice uploaded); may not be scanned yet
    IN_TRANSIT = "IN_TRANSIT", _("배송중")
    DELIVERED = "DELIVERED", _("배송완료")
    CANCELLED = "CANCELLED", _("취소")
    RETURNED = "RETURNED", _("반품")
    EXCHANGED = "EXCHANGED", _("교환")


class MarketOrder(models.Model):
    """One order line as the marketplace last told us (table ``market_order``).

    Coupang: one row per shipment box (``line_id`` = shipmentBoxId); Naver: one row per product order
    (``line_id`` = productOrderId). Written only by :mod:`markets.orders` (sync and targeted look-ups);
    ``raw_payload`` is the marketplace's item without the buyer's personal data.
    """

    account = models.ForeignKey(MarketAccount, on_delete=models.CASCADE, related_name="orders", verbose_name=_("계정"))
    market_code = models.CharField(_("마켓"), max_length=16, choices=MarketCode.choices)
    order_id = models.CharField(_("주문번호"), max_length=40)
    line_id = models.CharField(
        _("배송번호/상품주문번호"), max_length=40, help_text=_("쿠팡 shipmentBoxId, 네이버 productOrderId")
    )
    status = models.CharField(_("상태"), max_length=16, choices=OrderStatus.choices)
    raw_status = models.CharField(_("마켓 상태값"), max_length=40, blank=True)
    claim_type = models.CharField(_("클레임 종류"), max_length=20, blank=True, help_text=_("CANCEL, RETURN, EXCHANGE"))
    claim_status = models.CharField(_("클레임 상태"), max_length=40, blank=True)
    delivery_issue = models.CharField(
        _("배송 이상"),
        max_length=40,
        blank=True,
        help_text=_("마켓이 알려 준 배송 문제 (예: WRONG_TRACKING, DELIVERY_FAIL, NOT_TRACKABLE)"),
    )
    carrier_code = models.CharField(_("택배사 코드"), max_length=20, blank=True)
    carrier_name = models.CharField(_("택배사"), max_length=40, blank=True)
    tracking_number = models.CharField(_("운송장 번호"), max_length=40, blank=True)
    ordered_at = models.DateTimeField(_("주문 시각"), null=True, blank=True)
    paid_at = models.DateTimeField(_("결제 시각"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("출고 시각"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("배송완료 시각"), null=True, blank=True)
    expected_dispatch_date = models.DateField(
        _("출고 예정일"),
        null=True,
        blank=True,
        help_text=_("쿠팡 estimated/plannedShippingDate, 네이버 shippingDueDate"),
    )
    last_movement_at = models.DateTimeField(
        _("마지막 배송 진행 시각"),
        null=True,
        blank=True,
        help_text=_("배송 상태가 마지막으로 바뀐 시각. 오래 멈춰 있으면 사람이 확인합니다."),
    )
    product_ids = models.JSONField(
        _("상품 ID"), default=list, blank=True, help_text=_("이 줄의 상품을 가리키는 마켓 ID들 (옵션ID, 상품ID…)")
    )
    product_name = models.CharField(_("상품명"), max_length=300, blank=True)
    quantity = models.PositiveIntegerField(_("수량"), default=1)
    fingerprint = models.CharField(
        _("상태 지문"),
        max_length=16,
        blank=True,
        editable=False,
        help_text=_("답변에 쓰인 사실이 바뀌었는지 전송 직전에 비교하는 값"),
    )
    raw_payload = models.JSONField(_("원본 데이터 (개인정보 제거)"), default=dict, blank=True)
    synced_at = models.DateTimeField(_("동기화 시각"))
    created_at = models.DateTimeField(_("처음 본 시각"), auto_now_add=True)

    class Meta:
        db_table = "market_order"
        ordering = ["-ordered_at", "line_id"]
        verbose_name = _("주문")
        verbose_name_plural = _("주문 (마켓 미러)")
        constraints = [models.UniqueConstraint(fields=["account", "line_id"], name="market_order_unique_line")]
        indexes = [
            models.Index(fields=["account", "order_id"], name="market_order_order_idx"),
            models.Index(fields=["account", "status", "synced_at"], name="market_order_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.line_id} {self.status}"


class OrderSyncCursor(models.Model):
    """How far order syncing of one account and stream has got (like :class:`PollCursor`)."""

    class Stream(models.TextChoices):
        COUPANG_ORDERSHEETS = "COUPANG_ORDERSHEETS", _("쿠팡 발주서")
        COUPANG_RETURNS = "COUPANG_RETURNS", _("쿠팡 반품·취소 요청")
        NAVER_CHANGES = "NAVER_CHANGES", _("네이버 변경 상품주문")
        NAVER_REFRESH = "NAVER_REFRESH", _("네이버 진행 중 주문 새로고침")

    account = models.ForeignKey(
        MarketAccount, verbose_name=_("계정"), on_delete=models.CASCADE, related_name="order_cursors"
    )
    stream = models.CharField(_("수집 대상"), max_length=24, choices=Stream.choices)
    watermark = models.DateTimeField(_("수집 기준 시각"), null=True, blank=True)
    last_synced_at = models.DateTimeField(_("마지막 동기화"), null=True, blank=True)
    last_success_at = models.DateTimeField(_("마지막 성공"), null=True, blank=True)
    last_error = models.TextField(_("마지막 오류"), blank=True)
    last_fetched = models.PositiveIntegerField(_("마지막으로 받은 건수"), default=0)

    class Meta:
        db_table = "market_order_cursor"
        constraints = [models.UniqueConstraint(fields=["account", "stream"], name="market_order_cursor_unique")]
        verbose_name = _("주문 동기화 커서")
        verbose_name_plural = _("주문 동기화 커서")

    def __str__(self) -> str:
        return f"{self.account_id}:{self.stream}"


# --- the seller's shipping policy ----------------------------------------------------------------


class Carrier(models.TextChoices):
    """Carrier codes both marketplaces use (research/order-apis.md §1.8, §2.5)."""

    CJGLS = "CJGLS", _("CJ대한통운")
    HANJIN = "HANJIN", _("한진택배")
    HYUNDAI = "HYUNDAI", _("롯데택배")
    KGB = "KGB", _("로젠택배")
    EPOST = "EPOST", _("우체국택배")
    KDEXP = "KDEXP", _("경동택배")
    ILYANG = "ILYANG", _("일양로지스")
    DAESIN = "DAESIN", _("대신택배")
    HDEXP = "HDEXP", _("합동택배")
    CHUNIL = "CHUNIL", _("천일택배")
    CVSNET = "CVSNET", _("GS Postbox 택배")
    CUPARCEL = "CUPARCEL", _("CU 편의점택배")
    DIRECT = "DIRECT", _("업체 직접 배송")


class ShippingPolicy(models.Model):
    """What the seller promises about shipping and returns, per account: the facts a shipping answer
    without an order is written from. An account is ready for automation only when it is filled in."""

    account = models.OneToOneField(
        MarketAccount, on_delete=models.CASCADE, related_name="shipping_policy", verbose_name=_("계정")
    )
    dispatch_cutoff = models.TimeField(
        _("당일 출고 마감 시각"),
        null=True,
        blank=True,
        help_text=_("출고일(영업일)에 이 시각 전에 결제된 주문은 그날 출고합니다. 예: 14:00"),
    )
    dispatch_lead_days = models.PositiveSmallIntegerField(
        _("출고까지 영업일"),
        default=0,
        help_text=_(
            "마감 전 결제 건이 출고되기까지 걸리는 영업일 (0 = 당일 출고). 마감 후 결제 건은 하루 더 걸립니다."
        ),
    )
    ships_on_saturday = models.BooleanField(_("토요일 출고"), default=False)
    carrier_code = models.CharField(_("택배사"), max_length=20, choices=Carrier.choices, blank=True)
    transit_days_min = models.PositiveSmallIntegerField(_("출고 후 도착까지 최소 일수"), default=1)
    transit_days_max = models.PositiveSmallIntegerField(_("출고 후 도착까지 최대 일수"), default=2)
    base_fee = models.PositiveIntegerField(_("기본 배송비(원)"), null=True, blank=True, help_text=_("0 = 무료배송"))
    free_shipping_threshold = models.PositiveIntegerField(
        _("무료배송 기준 금액(원)"),
        null=True,
        blank=True,
        help_text=_("이 금액 이상 구매하면 배송비가 없습니다. 비우면 없음"),
    )
    jeju_surcharge = models.PositiveIntegerField(_("제주 추가 배송비(원)"), null=True, blank=True)
    remote_surcharge = models.PositiveIntegerField(_("도서산간 추가 배송비(원)"), null=True, blank=True)
    return_fee = models.PositiveIntegerField(
        _("반품 배송비(편도, 원)"), null=True, blank=True, help_text=_("단순 변심 반품 시 고객 부담")
    )
    exchange_fee = models.PositiveIntegerField(_("교환 배송비(왕복, 원)"), null=True, blank=True)
    return_address = models.CharField(_("반품·교환 보낼 주소"), max_length=300, blank=True)
    dawn_delivery = models.BooleanField(_("새벽배송 제공"), default=False)
    convenience_pickup = models.BooleanField(_("편의점 픽업 제공"), default=False)
    overseas_shipping = models.BooleanField(_("해외배송 제공"), default=False)
    stalled_after_days = models.PositiveSmallIntegerField(
        _("배송 정체로 볼 일수"),
        default=4,
        help_text=_("출고 후 이 일수 동안 배송 상태가 바뀌지 않으면 자동 답변하지 않고 사람에게 넘깁니다."),
    )
    updated_at = models.DateTimeField(_("수정 시각"), auto_now=True)
    history = HistoricalRecords()

    # What must be filled in before the policy can answer a shipping question on its own.
    REQUIRED = ("dispatch_cutoff", "carrier_code", "base_fee", "return_fee", "exchange_fee", "return_address")

    class Meta:
        db_table = "market_shipping_policy"
        verbose_name = _("배송 정책")
        verbose_name_plural = _("배송 정책")
        constraints = [
            models.CheckConstraint(
                condition=Q(transit_days_min__lte=models.F("transit_days_max")), name="shipping_transit_min_le_max"
            ),
        ]

    def __str__(self) -> str:
        return str(_("%(account)s 배송 정책")) % {"account": self.account}

    @property
    def missing(self) -> list[str]:
        """The required fields still empty (their verbose names)."""
        return [
            str(concrete_field(type(self), name).verbose_name)
            for name in self.REQUIRED
            if getattr(self, name) in (None, "")
        ]

    @property
    def is_complete(self) -> bool:
        return not self.missing
