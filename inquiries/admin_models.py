"""Trained agent versions in the admin: their figures, a reliability diagram and a threshold sweep, and
activating or rolling back a version (rollout managers only)."""

from __future__ import annotations

import datetime as dt
from typing import cast

from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from inquiries import agent_models
from inquiries.calibration import AGREE_AT
from inquiries.models import AgentModel, Inquiry
from partialauto.admin_utils import pretty_json

ACTIVATE_PERMISSION = "inquiries.activate_agentmodel"
LIVE_DAYS = 90


def _pct(value) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def reliability_svg(rows: list[dict], *, title: str) -> str:
    """A reliability diagram: mean confidence (x) against how often the draft was sent as is (y), per bin;
    the diagonal is perfect calibration, the dot size the number of drafts."""
    size, pad = 240, 30
    scale = size - 2 * pad
    dots = [r for r in rows if r.get("n")]
    biggest = max((r["n"] for r in dots), default=1)

    def xy(c: float, o: float) -> tuple[float, float]:
        return pad + c * scale, size - pad - o * scale

    circles = format_html_join(
        "",
        '<circle cx="{:.1f}" cy="{:.1f}" r="{:.1f}" fill="#417690" fill-opacity="0.7"><title>{}</title></circle>',
        (
            (
                *xy(r["confidence"], r["observed"]),
                3 + 7 * (r["n"] / biggest) ** 0.5,
                f"{r['low']:.1f}–{r['high']:.1f}: n={r['n']}, {r['confidence']:.3f} → {r['observed']:.3f}",
            )
            for r in dots
        ),
    )
    x0, y0 = xy(0, 0)
    x1, y1 = xy(1, 1)
    return format_html(
        '<figure style="margin:0"><svg width="{}" height="{}" role="img" aria-label="{}">'
        '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#ccc"/>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999" stroke-dasharray="4 3"/>{}'
        '<text x="{}" y="{}" font-size="11">{}</text><text x="4" y="{}" font-size="11">{}</text></svg>'
        "<figcaption>{}</figcaption></figure>",
        size,
        size,
        title,
        pad,
        pad,
        scale,
        scale,
        x0,
        y0,
        x1,
        y1,
        circles,
        size / 2 - 20,
        size - 6,
        _("신뢰도"),
        pad - 8,
        _("그대로 보낸 비율"),
        title,
    )


def live_reliability(*, days: int = LIVE_DAYS) -> list[dict]:
    """From what people did: drafts compared with the answer sent, by the confidence they were decided with."""
    since = timezone.now() - dt.timedelta(days=days)
    # Both columns are non-null by the filter.
    pairs = cast(
        list[tuple[float, float]],
        list(
            Inquiry.objects.filter(
                decided_at__gte=since, draft_agreement__isnull=False, confidence_score__isnull=False
            ).values_list("confidence_score", "draft_agreement")
        ),
    )
    rows = []
    for b in range(10):
        low, high = b / 10, (b + 1) / 10
        members = [(c, a) for c, a in pairs if low <= c < high or (b == 9 and c == 1.0)]
        rows.append(
            {
                "low": low,
                "high": high,
                "n": len(members),
                "confidence": sum(c for c, _a in members) / len(members) if members else None,
                "observed": sum(a >= AGREE_AT for _c, a in members) / len(members) if members else None,
            }
        )
    return rows


@admin.register(AgentModel)
class AgentModelAdmin(admin.ModelAdmin):
    list_display = [
        "version",
        "account",
        "is_active",
        "created_at",
        "created_by",
        "accuracy",
        "calibration_error",
        "risk_recall",
        "notes",
    ]
    list_filter = ["is_active", "account"]
    actions = ["activate", "rollback"]
    readonly_fields = [
        "version",
        "account",
        "is_active",
        "created_at",
        "created_by",
        "activated_at",
        "activated_by",
        "notes",
        "training_summary",
        "figures",
        "per_intent_table",
        "sweep_table",
        "reliability_held_out",
        "reliability_live",
        "metrics_json",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "version",
                    "account",
                    "is_active",
                    "created_at",
                    "created_by",
                    "activated_at",
                    "activated_by",
                    "notes",
                    "training_summary",
                ]
            },
        ),
        (_("평가 (학습에 쓰지 않은 데이터)"), {"fields": ["figures", "per_intent_table", "sweep_table"]}),
        (_("신뢰도 보정"), {"fields": ["reliability_held_out", "reliability_live"]}),
        (_("원본"), {"classes": ["collapse"], "fields": ["metrics_json"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("artifact")

    def has_add_permission(self, request):
        return False  # versions are trained (train_agent), not typed in

    def has_change_permission(self, request, obj=None):
        return False

    def has_activate_permission(self, request) -> bool:
        return request.user.has_perm(ACTIVATE_PERMISSION)

    # -- list columns ----------------------------------------------------------------------------------

    def _held(self, obj: AgentModel) -> dict:
        return (obj.metrics or {}).get("held_out") or {}

    @admin.display(description=_("의도 정확도"))
    def accuracy(self, obj: AgentModel) -> str:
        return _pct(self._held(obj).get("intent_accuracy"))

    @admin.display(description=_("보정 오차(ECE)"))
    def calibration_error(self, obj: AgentModel) -> str:
        value = self._held(obj).get("expected_calibration_error")
        return "-" if value is None else f"{value:.3f}"

    @admin.display(description=_("위험 감지율(학습)"))
    def risk_recall(self, obj: AgentModel) -> str:
        return _pct(self._held(obj).get("learned_risk_recall"))

    # -- detail ------------------------------------------------------------------------------------------

    @admin.display(description=_("학습 데이터"))
    def training_summary(self, obj: AgentModel) -> str:
        data = obj.training_data or {}
        return _("기본 제공 %(shipped)s건 + 판매자가 정한 의도 %(seller)s건, 평가용 %(held)s건") % {
            "shipped": data.get("shipped", 0),
            "seller": data.get("seller_labels", 0),
            "held": data.get("held_out", 0),
        }

    @admin.display(description=_("요약"))
    def figures(self, obj: AgentModel) -> str:
        held = self._held(obj)
        items = [
            (_("의도 정확도"), _pct(held.get("intent_accuracy"))),
            (_("보정 오차(ECE)"), self.calibration_error(obj)),
            (
                _("학습된 위험 감지: 잡은 비율 / 잘못 잡은 비율"),
                f"{_pct(held.get('learned_risk_recall'))} / {_pct(held.get('learned_risk_false_rate'))}",
            ),
            (_("학습된 '사람만' 감지: 잡은 비율"), _pct(held.get("learned_person_recall"))),
        ]
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", items))

    @admin.display(description=_("의도별 정밀도·재현율"))
    def per_intent_table(self, obj: AgentModel) -> str:
        rows = (self._held(obj).get("per_intent") or {}).items()
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            _("의도"),
            _("정밀도"),
            _("재현율"),
            _("건수"),
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((k, _pct(v.get("precision")), _pct(v.get("recall")), v.get("support")) for k, v in rows),
            ),
        )

    @admin.display(description=_("임계값별 자동 전송과 통과한 위험 건"))
    def sweep_table(self, obj: AgentModel) -> str:
        rows = self._held(obj).get("sweep") or []
        return format_html(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table><p>{}</p>",
            _("임계값"),
            _("자동 전송 비율"),
            _("위험 건 통과"),
            _("사람만 건 통과"),
            _("의도 틀린 채 통과"),
            format_html_join(
                "",
                "<tr><td>{:.2f}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        r["threshold"],
                        _pct(r["automation"]),
                        r["risky_sent"],
                        r["must_human_sent"],
                        r.get("wrong_intent_sent", "-"),
                    )
                    for r in rows
                ),
            ),
            _("모델과 학습된 감지만의 수치입니다(키워드 감지, 사실 확인 전). 전체 흐름은 evaluate_agent로 확인하세요."),
        )

    @admin.display(description=_("평가 데이터"))
    def reliability_held_out(self, obj: AgentModel) -> str:
        return reliability_svg(self._held(obj).get("reliability") or [], title=str(_("학습에 쓰지 않은 데이터")))

    @admin.display(description=_("실제 운영 (최근 90일)"))
    def reliability_live(self, obj: AgentModel) -> str:
        rows = live_reliability()
        if not any(r["n"] for r in rows):
            return str(_("아직 사람이 검토한 초안이 없습니다."))
        return reliability_svg(rows, title=str(_("사람이 초안을 거의 그대로 보낸 비율 (최근 90일)")))

    @admin.display(description=_("평가 수치 전체"))
    def metrics_json(self, obj: AgentModel) -> str:
        return pretty_json(obj.metrics)

    # -- actions -----------------------------------------------------------------------------------------

    @admin.action(description=_("이 버전으로 판정 (사용 시작)"), permissions=["activate"])
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("버전을 하나만 고르세요."), messages.ERROR)
            return
        model = agent_models.model_activate(model=queryset.get(), actor=request.user.get_username())
        self.message_user(
            request,
            _("이제 버전 v%(version)s로 판정합니다 (워커에는 30초 안에 반영).") % {"version": model.version},
            messages.SUCCESS,
        )

    @admin.action(description=_("이전 버전으로 되돌리기"), permissions=["activate"])
    def rollback(self, request, queryset):
        scopes = {m.account for m in queryset.filter(Q(is_active=True))}
        if len(scopes) != 1:
            self.message_user(request, _("사용 중인 버전 하나를 고르세요."), messages.ERROR)
            return
        try:
            model = agent_models.model_rollback(account=scopes.pop(), actor=request.user.get_username())
        except agent_models.AgentModelError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        if model is None:
            self.message_user(request, _("이전 버전이 없어 규칙 기반 분류로 돌아갑니다."), messages.WARNING)
        else:
            self.message_user(
                request, _("버전 v%(version)s로 되돌렸습니다.") % {"version": model.version}, messages.SUCCESS
            )
