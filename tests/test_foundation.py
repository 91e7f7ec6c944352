"""Foundation: constraints in the database, credentials encrypted at rest, migrations in sync."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import override_settings

from inquiries.models import Inquiry
from markets.models import MarketAccount
from partialauto.crypto import SecretDecryptionError, _fernet
from policy.models import AutomationSettings, RollbackRule, RolloutPhase
from tests.factories import SECRET_VALUES, make_account, make_inquiry

pytestmark = pytest.mark.django_db


def _refused(**fields):
    account = make_account()
    with pytest.raises(IntegrityError), transaction.atomic():
        make_inquiry(account, **fields)


def test_confidence_outside_0_1__refused_by_database():
    _refused(confidence_score=1.5)


def test_negative_confidence__refused_by_database():
    _refused(confidence_score=-0.1)


def test_negative_send_attempts__refused_by_database():
    account = make_account()
    inquiry = make_inquiry(account)
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("UPDATE market_inquiry_raw SET send_attempts = -1 WHERE id = %s", [inquiry.pk])


def test_null_send_attempts__refused_by_database():
    account = make_account()
    inquiry = make_inquiry(account)
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("UPDATE market_inquiry_raw SET send_attempts = NULL WHERE id = %s", [inquiry.pk])


def test_duplicate_external_id__refused_by_database():
    account = make_account()
    make_inquiry(account, external_id="846", kind="COUPANG_ONLINE")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_inquiry(account, external_id="846", kind="COUPANG_ONLINE")


def test_same_external_id_other_kind__allowed():
    account = make_account()
    make_inquiry(account, external_id="846", kind="COUPANG_ONLINE")
    make_inquiry(account, external_id="846", kind="COUPANG_CALLCENTER")
    assert Inquiry.objects.filter(external_id="846").count() == 2


def test_sending_without_claim_token__refused_by_database():
    _refused(send_status="SENDING")


def test_threshold_outside_0_1__refused_by_database():
    conf = AutomationSettings.get_solo()
    conf.auto_send_threshold = 1.2
    with pytest.raises(IntegrityError), transaction.atomic():
        conf.save()


def test_rate_rule_threshold_above_1__refused_by_database():
    rule = RollbackRule.objects.get(code="account-failure-rate-24h")
    rule.threshold = 2  # "2 %" typed as a whole number
    with pytest.raises(IntegrityError), transaction.atomic():
        rule.save()


def test_seeded_configuration__matches_the_guide():
    phases = {p.number: p for p in RolloutPhase.objects.prefetch_related("allowed_intents")}
    assert {i.name for i in phases[1].allowed_intents.all()} == {"배송문의", "사용법"}
    assert phases[1].daily_quota == 10
    assert {i.name for i in phases[2].allowed_intents.all()} == {"배송문의", "사용법", "상품문의"}
    assert phases[2].daily_quota == 30
    assert phases[3].all_intents and phases[3].daily_quota is None
    # the guide's six, the unsettled unknown outcomes and the intents' complaint follow-ups
    assert RollbackRule.objects.count() == 8
    conf = AutomationSettings.get_solo()
    assert conf.auto_send_threshold == 0.90 and not conf.partial_auto_enabled and conf.test_mode


def test_credentials__encrypted_at_rest():
    account = make_account("enc_check")
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM market_account WHERE name = %s", ["enc_check"])
        row = " ".join(str(v) for v in cur.fetchone())
    assert SECRET_VALUES["secret_key"] not in row and SECRET_VALUES["access_key"] not in row
    assert MarketAccount.objects.get(pk=account.pk).get_credentials()["secret_key"] == SECRET_VALUES["secret_key"]


def test_credentials__wrong_key_gives_clear_error():
    account = make_account("wrong_key")
    other_key = "x" * 43 + "="
    from cryptography.fernet import Fernet

    with override_settings(CS_FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode()):
        _fernet.cache_clear()
        with pytest.raises(SecretDecryptionError, match="CS_FIELD_ENCRYPTION_KEY"):
            MarketAccount.objects.get(pk=account.pk).get_credentials()
    _fernet.cache_clear()
    assert other_key  # the real key still decrypts afterwards
    assert MarketAccount.objects.get(pk=account.pk).get_credentials()


def test_credentials__rotated_key_list_still_decrypts():
    from cryptography.fernet import Fernet
    from django.conf import settings

    account = make_account("rotate")
    new = Fernet.generate_key().decode()
    with override_settings(CS_FIELD_ENCRYPTION_KEY=f"{new},{settings.CS_FIELD_ENCRYPTION_KEY}"):
        _fernet.cache_clear()
        assert MarketAccount.objects.get(pk=account.pk).get_credentials()["access_key"] == SECRET_VALUES["access_key"]
    _fernet.cache_clear()


def test_makemigrations_check__nothing_to_do():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_settings__safe_defaults():
    from django.conf import settings

    assert settings.LANGUAGE_CODE == "ko-kr" and settings.TIME_ZONE == "Asia/Seoul" and settings.USE_TZ
    q = settings.Q_CLUSTER
    assert isinstance(q["timeout"], int)
    assert q["retry"] > q["timeout"] * (1 + -(-q["queue_limit"] // q["workers"]))
    assert q["ack_failures"] is True and q["catch_up"] is False and q["max_attempts"] == 1
    assert q["guard_cycle"] in (0.25, 0.5, 1)
    assert q.get("orm") == "default" or q.get("redis")
