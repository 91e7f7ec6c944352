"""Production serving: gunicorn as the web process with DEBUG off serves the admin with its CSS and JS
(WhiteNoise, hashed and compressed after `collectstatic`), and the load balancer's probes — `/healthz`
(the process is up, no database) and `/readyz` (database reachable, migrations applied, else 503)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from partialauto.serve import web_command
from tests.markets.sandbox_process import ROOT, free_port

START_TIMEOUT = 60
HASHED_CSS = re.compile(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"')
STATIC_SCRIPT = re.compile(r'<script[^>]+src="(/static/[^"]+\.js)"')


def _wait_for_liveness(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"gunicorn exited with {proc.returncode}:\n{log.read_text()}"
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer /healthz within {START_TIMEOUT} s:\n{log.read_text()}")


@contextmanager
def running_gunicorn(tmp_path: Path, **env: str) -> Iterator[str]:
    """gunicorn with the project's config (deploy/gunicorn.conf.py) and DEBUG off; yields its URL."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    environment = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_CONN_MAX_AGE": "0",
        "CS_LOG_FILE": str(tmp_path / "api.log"),
        **env,
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*web_command(f"127.0.0.1:{port}"), "--workers", "1"],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_liveness(proc, url, log)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def _database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _collectstatic(static_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_STATIC_ROOT": str(static_root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _login(url: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    login = session.get(f"{url}/admin/login/", timeout=10)
    assert login.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    answer = session.post(
        f"{url}/admin/login/?next=/admin/",
        timeout=30,
        allow_redirects=False,
        data={"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"},
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/", answer.text[:500]
    return session


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gunicorn_debug_off__logs_in_and_serves_the_styled_admin_with_its_css_and_js(tmp_path):
    password = secrets.token_urlsafe(12)
    get_user_model().objects.create_superuser("ops-lead", "ops@example.com", password)
    _collectstatic(tmp_path / "static")

    with running_gunicorn(tmp_path, DATABASE_URL=_database_url(), DJANGO_STATIC_ROOT=str(tmp_path / "static")) as url:
        assert requests.get(f"{url}/readyz", timeout=10).json() == {
            "status": "ok",
            "checks": {"database": "ok", "migrations": "ok"},
        }
        session = _login(url, "ops-lead", password)
        page = session.get(f"{url}/admin/auth/user/", timeout=30)
        assert page.status_code == 200 and "ops-lead" in page.text

        # the page names the stylesheet by its content hash (the manifest), and the file is there
        css_path = HASHED_CSS.search(page.text).group(1)
        css = session.get(url + css_path, headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert css.status_code == 200
        assert css.headers["Content-Type"].startswith("text/css")
        assert css.headers.get("Content-Encoding") == "gzip"  # compressed by collectstatic
        assert "immutable" in css.headers["Cache-Control"]
        assert "#header" in css.text  # the admin's own stylesheet, not an error page

        scripts = STATIC_SCRIPT.findall(page.text)
        assert scripts, "the changelist page references no script"
        for script in scripts:
            js = session.get(url + script, timeout=10)
            assert js.status_code == 200, script
            assert js.headers["Content-Type"].split(";")[0] in ("text/javascript", "application/javascript"), script

        missing = session.get(f"{url}/static/admin/css/no-such-file.css", timeout=10)
        assert missing.status_code == 404 and "Traceback" not in missing.text  # DEBUG is off


def test_probes__database_unreachable__liveness_ok_readiness_503_without_secrets(tmp_path):
    closed_port = free_port()  # nothing listens there
    password = "s3cret-" + secrets.token_hex(6)
    unreachable = f"postgres://ops:{password}@127.0.0.1:{closed_port}/partialauto"
    production = {
        "DATABASE_URL": unreachable,
        "DJANGO_ALLOWED_HOSTS": "cs.example.com",
        "DJANGO_SECURE_SSL_REDIRECT": "true",
    }
    with running_gunicorn(tmp_path, **production) as url:
        # a probe uses the machine's address over plain HTTP: no host check, no HTTPS redirect
        probe_host = {"Host": "10.0.3.7:8000"}
        live = requests.get(f"{url}/healthz", headers=probe_host, timeout=10, allow_redirects=False)
        assert live.status_code == 200 and live.json() == {"status": "ok", "checks": {"process": "ok"}}

        ready = requests.get(f"{url}/readyz", headers=probe_host, timeout=30, allow_redirects=False)
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "checks": {"database": "unavailable", "migrations": "unknown"}}
        assert password not in ready.text and str(closed_port) not in ready.text
        assert ready.headers["Cache-Control"] == "no-store"

        # every other path still gets the host check
        assert (
            requests.get(f"{url}/admin/login/", headers=probe_host, timeout=10, allow_redirects=False).status_code
            == 400
        )


@pytest.mark.django_db
def test_readyz__everything_migrated__200(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


@pytest.mark.django_db
def test_readyz__a_migration_not_applied__503(client):
    # Given: the code has a migration the database has not recorded (deployed before `migrate` ran)
    leaf_app, leaf_name = MigrationExecutor(connection).loader.graph.leaf_nodes("policy")[0]
    MigrationRecorder(connection).migration_qs.filter(app=leaf_app, name=leaf_name).delete()
    # When
    response = client.get("/readyz")
    # Then
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "migrations": "1 pending"}}


def test_healthz__touches_no_database_and_refuses_writes(client):
    # no django_db mark: any query here would raise
    assert client.get("/healthz").status_code == 200
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
