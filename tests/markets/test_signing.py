"""Signing: the documented Coupang HMAC and Naver bcrypt vectors, and secrets never shown."""

from __future__ import annotations

import base64
import time

import pytest
import requests

from markets.clients.coupang import coupang_authorization, coupang_signature, coupang_signed_date
from markets.clients.naver_auth import naver_client_secret_sign
from markets.clients.types import ClientConfig

ONLINE_PATH = "/v2/providers/openapi/apis/api/v5/vendors/A00012345/onlineInquiries"
ONLINE_QUERY = (
    "vendorId=A00012345&answeredType=NOANSWER&inquiryStartAt=2024-01-01&inquiryEndAt=2024-01-07&pageNum=1&pageSize=50"
)


def test_coupang_signature__get_vector__matches_market_apis_doc() -> None:
    assert coupang_signature("test-secret-key", "240101T000000Z", "GET", ONLINE_PATH, ONLINE_QUERY) == (
        "214a8159ce7a57203700c51c8085df8781d289d95c9b224cae1c40f7d6ea131e"
    )


def test_coupang_signature__post_vector_without_query__matches_market_apis_doc() -> None:
    path = "/v2/providers/openapi/apis/api/v4/vendors/A00012345/onlineInquiries/846/replies"
    assert coupang_signature("test-secret-key", "240101T000000Z", "POST", path, "") == (
        "d84ac5ddb3e1274d1ccd4e1bc31fdf3260ae594e4e99e201bb26e3ffdf27f6e3"
    )


def test_coupang_authorization__documented_header_format() -> None:
    header = coupang_authorization(
        "ak-1", "test-secret-key", "GET", ONLINE_PATH, ONLINE_QUERY, signed_date="240101T000000Z"
    )
    assert header == (
        "CEA algorithm=HmacSHA256, access-key=ak-1, signed-date=240101T000000Z, "
        "signature=214a8159ce7a57203700c51c8085df8781d289d95c9b224cae1c40f7d6ea131e"
    )


def test_coupang_signed_date__utc_yymmdd_format() -> None:
    value = coupang_signed_date()
    assert len(value) == 14 and value[6] == "T" and value.endswith("Z")


def test_naver_sign__documented_vector_with_normalized_salt() -> None:
    # The doc's salt ends in "v", which pyca bcrypt rejects; jBCrypt normalizes it to "u" (market-apis §2.2).
    sign = naver_client_secret_sign("aaaabbbbcccc", "$2a$10$abcdefghijklmnopqrstuu", 1643961623299)
    assert sign == "JDJhJDEwJGFiY2RlZmdoaWprbG1ub3BxcnN0dXVCVldZSk42T0VPdEx1OFY0cDQxa2IuTnpVaUEzbmsy"
    assert base64.b64decode(sign).decode() == "$2a$10$abcdefghijklmnopqrstuuBVWYJN6OEOtLu8V4p41kb.NzUiA3nk2"


def test_naver_sign__invalid_salt__clear_error_without_the_value() -> None:
    with pytest.raises(ValueError) as excinfo:
        naver_client_secret_sign("id", "not-a-salt-SECRET", 1)
    assert "SECRET" not in str(excinfo.value)


def test_client_config_repr__never_shows_secrets() -> None:
    config = ClientConfig(
        market_code="COUPANG",
        vendor_id="A1",
        access_key="AK-SECRET-1",
        secret_key="SK-SECRET-2",
        reply_by="me",
        client_secret="$2b$04$SECRETSECRETSECRETSECRE",
        account_key="acc",
    )
    for text in (repr(config), str(config), f"{config}"):
        assert "SECRET" not in text
        assert "A1" in text and "acc" in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"market_code": "GMARKET"}, "unknown market_code"),
        ({"secret_key": ""}, "secret_key"),
        ({"api_base_url": "ftp://x"}, "http"),
    ],
)
def test_client_config_validate__names_the_problem(overrides: dict, message: str) -> None:
    values = dict(market_code="COUPANG", vendor_id="A1", access_key="ak", secret_key="sk", reply_by="me")
    values.update(overrides)
    with pytest.raises(ValueError, match=message):
        ClientConfig(**values).validate()


def test_client_config_validate__naver_secret_must_be_bcrypt_salt() -> None:
    config = ClientConfig(market_code="SMARTSTORE", client_id="c", client_secret="plain-secret-value")
    with pytest.raises(ValueError, match="bcrypt salt") as excinfo:
        config.validate()
    assert "plain-secret-value" not in str(excinfo.value)


def test_sandbox_token__accepts_url_safe_and_standard_base64(sandbox, naver_account) -> None:
    timestamp = int(time.time() * 1000)
    sign = naver_client_secret_sign(naver_account.client_id, naver_account.client_secret, timestamp)
    url_safe = base64.urlsafe_b64encode(base64.b64decode(sign)).decode().rstrip("=")
    for variant in (sign, url_safe):
        response = requests.post(
            sandbox.naver_base_url + "/v1/oauth2/token",
            data={
                "client_id": naver_account.client_id,
                "timestamp": str(timestamp),
                "grant_type": "client_credentials",
                "client_secret_sign": variant,
                "type": "SELF",
            },
            timeout=5,
        )
        assert response.status_code == 200, response.text
        assert response.json()["token_type"] == "Bearer"
