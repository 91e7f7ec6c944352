"""Secrets never reach a log line, whatever a message or a library puts in it."""

from __future__ import annotations

import logging

import pytest

from partialauto.logging import RedactSecretsFilter, redact

SECRET = "SK-6a7e3c55b1d04e8f9a0b1c2d3e4f5a6b"


@pytest.mark.parametrize(
    "line",
    [
        f"Authorization: Bearer {SECRET}",
        (
            "headers={'Authorization': 'CEA algorithm=HmacSHA256, access-key=AK, signed-date=240101T000000Z, "
            "signature=214a8159ce7a57203700c51c8085df8781d289d95c9b224cae1c40f7d6ea131e'}"
        ),
        f"client_secret={SECRET}&client_id=abc",
        f'{{"client_secret_sign": "{SECRET}"}}',
        f"secret_key: {SECRET}",
        f"api_key={SECRET}",
    ],
)
def test_redact__removes_tokens_signatures_and_keys(line):
    cleaned = redact(line)
    assert SECRET not in cleaned and "214a8159ce7a" not in cleaned
    assert "***" in cleaned


def test_filter__rewrites_the_record(caplog):
    logger = logging.getLogger("partialauto.test_redact")
    logger.addFilter(RedactSecretsFilter())
    try:
        with caplog.at_level(logging.INFO, logger="partialauto.test_redact"):
            logger.info("token response %s", {"access_token": "x", "token": SECRET})
    finally:
        logger.filters.clear()
    assert SECRET not in caplog.text


@pytest.mark.django_db
def test_send_path_logs__no_credentials(live, caplog):
    from policy.sending import send_inquiry
    from tests.factories import SECRET_VALUES  # noqa: F401

    creds = live.coupang.get_credentials()
    inquiry = live.inquiry()
    with caplog.at_level(logging.DEBUG):
        send_inquiry(inquiry.pk)
    for value in creds.values():
        assert value not in caplog.text
