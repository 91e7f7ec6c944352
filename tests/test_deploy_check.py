"""`manage.py check --deploy` passes with the documented production settings (README, .env.example)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "cs.example.com",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_COOKIES": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
}


def _check(extra: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, **PRODUCTION, **extra}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy__passes_with_production_settings(tmp_path):
    result = _check(
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
            "CS_FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "CS_LOCAL_KEYS_FILE": str(tmp_path / "unused.json"),
        }
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "unused.json").exists()  # production never falls back to generated keys


def test_check_deploy__debug_on_is_reported(tmp_path):
    result = _check(
        {
            "DJANGO_DEBUG": "true",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
            "CS_FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "CS_LOCAL_KEYS_FILE": str(tmp_path / "unused.json"),
        }
    )
    assert result.returncode != 0 and "DEBUG" in result.stdout + result.stderr


def test_first_run__generates_keys_once_and_reuses_them(tmp_path):
    keys = tmp_path / "keys.json"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "CS_FIELD_ENCRYPTION_KEY")}
    env["CS_LOCAL_KEYS_FILE"] = str(keys)
    code = "from django.conf import settings; print(settings.SECRET_KEY[:8], settings.CS_FIELD_ENCRYPTION_KEY[:8])"

    def run():
        return subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first, second = run(), run()
    assert first.returncode == 0, first.stderr
    assert "generated one into" in first.stderr and "generated" not in second.stderr
    assert first.stdout == second.stdout
    assert oct(keys.stat().st_mode & 0o777) == "0o600"
