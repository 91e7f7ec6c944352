"""Writes for market accounts: registration, credentials, connection checks, and the seller's shipping
policy (edited in the admin, imported and exported with the ``shipping_policy`` command)."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from markets.models import SECRET_FIELDS, Carrier, MarketAccount, MarketCode, ShippingPolicy
from markets.signals import account_added
from partialauto import datafiles
from partialauto.datafiles import DataFileError, Problems
from partialauto.db import concrete_field, max_length

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


class AccountError(ValueError):
    pass


def _validate(market_code: str, values: dict[str, str], *, vendor_id: str, client_id: str) -> None:
    if market_code not in MarketCode.values:
        raise AccountError(f"unknown market '{market_code}' (use {' or '.join(MarketCode.values)})")
    if market_code == MarketCode.COUPANG and not vendor_id:
        raise AccountError("a Coupang account needs --vendor-id")
    if market_code == MarketCode.SMARTSTORE and not client_id:
        raise AccountError("a SmartStore account needs --client-id")


@transaction.atomic
def account_create(
    *,
    name: str,
    market_code: str,
    vendor_id: str = "",
    access_key: str = "",
    secret_key: str = "",
    reply_by: str = "",
    client_id: str = "",
    client_secret: str = "",
    api_base_url: str = "",
    is_active: bool = True,
    seller_name: str = "",
) -> MarketAccount:
    market_code = market_code.upper()
    _validate(market_code, {}, vendor_id=vendor_id, client_id=client_id)
    if MarketAccount.objects.filter(name=name).exists():
        raise AccountError(f"an account named '{name}' already exists")
    account = MarketAccount(
        name=name,
        market_code=market_code,
        vendor_id=vendor_id,
        reply_by=reply_by,
        client_id=client_id,
        api_base_url=api_base_url,
        is_active=is_active,
        seller_name=seller_name,
    )
    secrets = {"access_key": access_key, "secret_key": secret_key, "client_secret": client_secret}
    missing = [f for f in SECRET_FIELDS[MarketCode(market_code)] if not secrets.get(f)]
    if missing:
        raise AccountError("missing credentials: " + ", ".join("--" + m.replace("_", "-") for m in missing))
    account.set_credentials({k: v for k, v in secrets.items() if k in SECRET_FIELDS[MarketCode(market_code)]})
    account.credentials_updated_at = timezone.now()
    account.full_clean()
    account.save()
    account_added.send(sender=MarketAccount, account=account)
    return account


@transaction.atomic
def account_set_credentials(*, account: MarketAccount, values: dict[str, str]) -> MarketAccount:
    allowed = SECRET_FIELDS[MarketCode(account.market_code)]
    cleaned = {k: v for k, v in values.items() if k in allowed and v}
    if cleaned:
        account.set_credentials(cleaned)
        account.credentials_updated_at = timezone.now()
        account.save(update_fields=["credentials_encrypted", "credentials_updated_at", "updated_at"])
    return account


# --- the seller's shipping policy ----------------------------------------------------------------
# One row per account (ShippingPolicy). Ops fill it in the admin or import it from a file; the same
# checks judge both, and their messages say what is wrong and what is allowed, in the UI language.

# In file order: the columns of an export and the keys an import accepts (besides "account").
SHIPPING_POLICY_FIELDS: tuple[str, ...] = (
    "dispatch_cutoff",
    "dispatch_lead_days",
    "ships_on_saturday",
    "carrier_code",
    "transit_days_min",
    "transit_days_max",
    "stalled_after_days",
    "base_fee",
    "free_shipping_threshold",
    "jeju_surcharge",
    "remote_surcharge",
    "return_fee",
    "exchange_fee",
    "return_address",
    "dawn_delivery",
    "convenience_pickup",
    "overseas_shipping",
)
_TIME_FIELDS = frozenset({"dispatch_cutoff"})
_BOOL_FIELDS = frozenset({"ships_on_saturday", "dawn_delivery", "convenience_pickup", "overseas_shipping"})
_DAY_RANGES = {
    "dispatch_lead_days": (0, 30),
    "transit_days_min": (0, 30),
    "transit_days_max": (0, 30),
    "stalled_after_days": (1, 30),
}
# Won amounts: beyond these a value is a typo (an extra zero), not a shipping fee.
_WON_RANGES = {
    "base_fee": (0, 1_000_000),
    "free_shipping_threshold": (0, 100_000_000),
    "jeju_surcharge": (0, 1_000_000),
    "remote_surcharge": (0, 1_000_000),
    "return_fee": (0, 1_000_000),
    "exchange_fee": (0, 1_000_000),
}
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")
ALL_FIELDS = "__all__"


class ShippingPolicyError(ValueError):
    """Values a shipping policy cannot take: sentences per field (``__all__`` for the whole policy)."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(self.sentences()))

    def sentences(self) -> list[str]:
        return [
            message if field == ALL_FIELDS else f"{shipping_policy_label(field)}: {message}"
            for field, messages in self.errors.items()
            for message in messages
        ]


@dataclass(frozen=True)
class ShippingPolicyImportResult:
    saved: list[tuple[ShippingPolicy, str]]  # (policy, "created" | "updated" | "unchanged")
    skipped_accounts: list[str]  # in the file but not imported: --account chose another


def shipping_policy_label(field: str) -> str:
    return str(concrete_field(ShippingPolicy, field).verbose_name)


def _carrier_choices() -> str:
    return ", ".join(f"{code} ({label})" for code, label in Carrier.choices)


def shipping_policy_check(*, values: Mapping[str, Any], policy: ShippingPolicy | None = None) -> dict[str, list[str]]:
    """What is wrong with ``values`` (Python values, as a form cleans them), per field; ``{}`` when they
    can be saved. Fields not in ``values`` are taken from ``policy`` for the checks across fields."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for field, value in values.items():
        if field not in SHIPPING_POLICY_FIELDS:
            add(
                ALL_FIELDS,
                _("알 수 없는 항목입니다: %(field)s. 쓸 수 있는 항목: %(allowed)s")
                % {"field": field, "allowed": ", ".join(SHIPPING_POLICY_FIELDS)},
            )
            continue
        model_field = concrete_field(ShippingPolicy, field)
        if value is None:
            if not model_field.null:
                add(field, _("값이 비어 있습니다. 이 항목은 비울 수 없습니다."))
            continue
        if field in _BOOL_FIELDS:
            if not isinstance(value, bool):
                add(field, _("true 또는 false로 입력하세요."))
        elif field in _TIME_FIELDS:
            if not isinstance(value, dt.time):
                add(field, _("HH:MM 형식의 시각으로 입력하세요 (예: 14:00)."))
        elif field in _DAY_RANGES or field in _WON_RANGES:
            low, high = _DAY_RANGES.get(field) or _WON_RANGES[field]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                message = (
                    _("%(low)s~%(high)s 사이의 일수(정수)로 입력하세요. 입력값: %(value)s")
                    if field in _DAY_RANGES
                    else _("%(low)s~%(high)s 사이의 금액(원, 정수)으로 입력하세요. 입력값: %(value)s")
                )
                add(field, message % {"low": f"{low:,}", "high": f"{high:,}", "value": value})
        elif field == "carrier_code":
            if value not in ("", *Carrier.values):
                add(
                    field,
                    _("알 수 없는 택배사 코드입니다: %(value)s. 쓸 수 있는 코드: %(choices)s")
                    % {"value": value, "choices": _carrier_choices()},
                )
        elif field == "return_address":
            limit = max_length(ShippingPolicy, field)
            if not isinstance(value, str) or len(value) > limit:
                add(field, _("%(max)s자 이하의 글자로 입력하세요.") % {"max": limit})

    def current(field: str) -> Any:
        if field in values:
            return values[field]
        return getattr(policy, field) if policy is not None else concrete_field(ShippingPolicy, field).get_default()

    low, high = current("transit_days_min"), current("transit_days_max")
    if (
        "transit_days_min" not in errors
        and "transit_days_max" not in errors
        and isinstance(low, int)
        and isinstance(high, int)
        and low > high
    ):
        add(
            "transit_days_min",
            _("최소 일수(%(low)s일)가 최대 일수(%(high)s일)보다 큽니다. 최소 일수는 최대 일수 이하로 입력하세요.")
            % {"low": low, "high": high},
        )
    return errors


def _apply(
    *, account: MarketAccount, values: Mapping[str, Any], actor: AbstractBaseUser | None, reason: str
) -> tuple[ShippingPolicy, str]:
    policy = ShippingPolicy.objects.select_for_update().filter(account=account).first() or ShippingPolicy(
        account=account
    )
    errors = shipping_policy_check(values=values, policy=policy)
    if errors:
        raise ShippingPolicyError(errors)
    changed = [field for field, value in values.items() if getattr(policy, field) != value]
    if policy.pk and not changed:
        return policy, "unchanged"
    status = "updated" if policy.pk else "created"
    for field in changed:
        setattr(policy, field, values[field])
    try:
        policy.full_clean()
    except ValidationError as exc:  # a rule the checks above do not know yet: still say which field
        raise ShippingPolicyError({field: list(messages) for field, messages in exc.message_dict.items()}) from None
    # django-simple-history reads these two attributes when it writes the history row.
    history = cast(Any, policy)
    history._change_reason = reason[:100] or None
    if actor is not None:
        history._history_user = actor
    policy.save()
    return policy, status


@transaction.atomic
def shipping_policy_get_or_create(*, account: MarketAccount) -> ShippingPolicy:
    """The account's policy; a new one starts with the model's defaults and is not complete."""
    policy, _created = ShippingPolicy.objects.get_or_create(account=account)
    return policy


@transaction.atomic
def shipping_policy_update(
    *, account: MarketAccount, values: Mapping[str, Any], actor: AbstractBaseUser | None = None, reason: str = ""
) -> ShippingPolicy:
    """Set the given fields of the account's policy (creating it when there is none). Raises
    :class:`ShippingPolicyError` and writes nothing when any value is not allowed."""
    policy, _status = _apply(account=account, values=values, actor=actor, reason=reason)
    return policy


def _parse_value(field: str, raw: Any) -> Any:
    """A file's value (JSON value, or CSV text) as the Python value of ``field``; ValueError(message) if not."""
    nullable = ShippingPolicy._meta.get_field(field).null
    if isinstance(raw, str):
        raw = raw.strip()
    if raw is None or raw == "":
        if field in ("carrier_code", "return_address"):
            return ""
        if nullable:
            return None
        raise ValueError(_("값이 비어 있습니다. 이 항목은 비울 수 없습니다."))
    if field in _BOOL_FIELDS:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise ValueError(_("true 또는 false로 적어 주세요. 입력값: %(value)s") % {"value": raw})
    if field in _TIME_FIELDS:
        match = _TIME_RE.match(raw) if isinstance(raw, str) else None
        if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
            return dt.time(int(match.group(1)), int(match.group(2)))
        raise ValueError(
            _("HH:MM 형식의 시각으로 적어 주세요 (00:00~23:59, 예: 14:00). 입력값: %(value)s") % {"value": raw}
        )
    if field in _DAY_RANGES or field in _WON_RANGES:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        text = raw.replace(",", "") if isinstance(raw, str) else None  # "3,000" as a spreadsheet writes it
        if text is not None and text.isascii() and text.isdigit():
            return int(text)
        message = (
            _("0 이상의 일수(정수)로 적어 주세요. 입력값: %(value)s")
            if field in _DAY_RANGES
            else _("0 이상의 금액(원, 정수)으로 적어 주세요. 입력값: %(value)s")
        )
        raise ValueError(message % {"value": raw})
    if not isinstance(raw, str):
        raise ValueError(_("글자로 적어 주세요. 입력값: %(value)s") % {"value": raw})
    if field == "carrier_code":
        for code, label in Carrier.choices:
            if raw.upper() == code or raw == str(label):
                return code
        raise ValueError(
            _("알 수 없는 택배사입니다: %(value)s. 쓸 수 있는 코드: %(choices)s")
            % {"value": raw, "choices": _carrier_choices()}
        )
    return raw


def _policy_entries(text: str, fmt: str, problems: Problems) -> list[tuple[str, dict[str, Any]]]:
    """(where, mapping) per policy in the file; ``where`` names the item or line for messages."""
    if fmt == datafiles.CSV:
        rows = datafiles.parse_csv(text, required=(), optional=("account", *SHIPPING_POLICY_FIELDS))
        return [(_("%(line)s행") % {"line": row.line}, dict(row.values)) for row in rows]
    data = datafiles.parse_json(text)
    if isinstance(data, dict):
        return [(_("JSON 객체"), data)]
    if not isinstance(data, list) or not data:
        raise DataFileError(_("JSON의 맨 바깥은 정책 하나({…}) 또는 정책 목록([{…}, …])이어야 합니다."))
    entries = []
    for number, item in enumerate(data, start=1):
        where = _("%(n)s번째 항목") % {"n": number}
        if isinstance(item, dict):
            entries.append((where, item))
        else:
            problems.add(_('%(where)s: 정책은 {"account": …, "base_fee": …} 같은 객체여야 합니다.') % {"where": where})
    return entries


def shipping_policy_import(
    *,
    raw: bytes,
    filename: str = "",
    fmt: str | None = None,
    account: MarketAccount | None = None,
    actor: AbstractBaseUser | None = None,
) -> ShippingPolicyImportResult:
    """Set the policies in a JSON (an object, or a list of objects with ``"account"``) or CSV (a header of
    field names and ``account``, a row per account) file. Only the fields present are set. With
    ``account``, entries naming no account are that account's and entries for other accounts are skipped.
    All or nothing: a :class:`DataFileError` lists every problem and nothing is written."""
    text = datafiles.decode(raw)
    fmt = datafiles.detect_format(filename=filename, text=text, fmt=fmt)
    problems = Problems()
    entries = _policy_entries(text, fmt, problems)
    known = {a.name: a for a in MarketAccount.objects.all()}
    seen: dict[str, str] = {}
    chosen: list[tuple[str, MarketAccount, dict[str, Any]]] = []
    skipped: list[str] = []
    for where, entry in entries:
        name = entry.pop("account", None)
        name = name.strip() if isinstance(name, str) else name
        if name in (None, ""):
            if account is None:
                problems.add(
                    _("%(where)s: 계정이 없습니다. 파일에 account를 적거나 --account로 계정을 지정하세요.")
                    % {"where": where}
                )
                continue
            name = account.name
        if not isinstance(name, str):
            problems.add(_("%(where)s: account는 계정 이름(글자)이어야 합니다.") % {"where": where})
            continue
        if name in seen:
            problems.add(
                _("%(where)s: 계정 %(name)s의 정책이 %(first)s에도 있습니다. 계정마다 하나만 적어 주세요.")
                % {"where": where, "name": name, "first": seen[name]}
            )
            continue
        seen[name] = where
        if account is not None and name != account.name:
            skipped.append(name)
            continue
        target = known.get(name)
        if target is None:
            problems.add(
                _("%(where)s: 알 수 없는 계정입니다: %(name)s. 등록된 계정: %(known)s")
                % {"where": where, "name": name, "known": ", ".join(sorted(known)) or _("없음")}
            )
            continue
        values: dict[str, Any] = {}
        for field, value in entry.items():
            if field not in SHIPPING_POLICY_FIELDS:
                problems.add(
                    _("%(where)s (%(name)s): 알 수 없는 항목입니다: %(field)s. 쓸 수 있는 항목: account, %(allowed)s")
                    % {"where": where, "name": name, "field": field, "allowed": ", ".join(SHIPPING_POLICY_FIELDS)}
                )
                continue
            try:
                values[field] = _parse_value(field, value)
            except ValueError as exc:
                problems.add(f"{where} ({name}) {field} [{shipping_policy_label(field)}]: {exc}")
        current = ShippingPolicy.objects.filter(account=target).first()
        for field, messages in shipping_policy_check(values=values, policy=current).items():
            for message in messages:
                label = "" if field == ALL_FIELDS else f" {field} [{shipping_policy_label(field)}]"
                problems.add(f"{where} ({name}){label}: {message}")
        chosen.append((where, target, values))
    if account is not None and not chosen and not problems:
        problems.add(
            _("파일에 계정 %(name)s의 정책이 없습니다. 파일에 있는 계정: %(names)s")
            % {"name": account.name, "names": ", ".join(skipped)}
        )
    problems.raise_if_any()
    reason = _("파일에서 가져옴: %(file)s") % {"file": os.path.basename(filename) or fmt}
    with transaction.atomic():
        saved = [_apply(account=target, values=values, actor=actor, reason=reason) for _where, target, values in chosen]
    return ShippingPolicyImportResult(saved=saved, skipped_accounts=skipped)


def shipping_policy_as_dict(policy: ShippingPolicy) -> dict[str, Any]:
    """One policy as the files spell it: ``account`` first, times HH:MM, amounts in won, booleans."""
    data: dict[str, Any] = {"account": policy.account.name}
    for field in SHIPPING_POLICY_FIELDS:
        value = getattr(policy, field)
        data[field] = value.strftime("%H:%M") if isinstance(value, dt.time) else value
    return data


def shipping_policy_export(*, account: MarketAccount | None = None) -> dict[str, Any] | list[dict[str, Any]]:
    """One account's policy (the defaults when it has none yet; nothing is written), or every stored
    policy as a list ordered by account name. Either can be imported again as it is."""
    if account is not None:
        policy = ShippingPolicy.objects.filter(account=account).first() or ShippingPolicy(account=account)
        return shipping_policy_as_dict(policy)
    return [
        shipping_policy_as_dict(p) for p in ShippingPolicy.objects.select_related("account").order_by("account__name")
    ]
