"""English UI: the msgids are Korean, locale/en translates them and locale/ko repeats them.

Refresh the catalogs after changing UI strings with ``bash locale/update.sh`` (makemessages, the Korean
fill-in, compilemessages and the counts of what is left to translate in English).
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from inquiries.models import Inquiry
from markets.models import MarketAccount
from policy.models import AccountRollout, RollbackIncident
from tests.factories import make_account

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
EN_PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"

# (msgid, English) pairs the tests rely on: app names, model names and a formatted message.
KNOWN = [
    ("고객 문의", "Customer Inquiries"),
    ("마켓 연동", "Marketplace Integration"),
    ("자동화 정책", "Automation Policy"),
    ("마켓 계정", "Marketplace account"),
    ("긴급 정지", "Emergency stop"),
]


# --- a small .po reader (no polib in the venv) -------------------------------------------------------


def _unquote(chunk: str) -> str:
    return ast.literal_eval(chunk)  # a PO string literal is a valid Python string literal


def read_po(path: Path) -> list[dict]:
    """The live (non-obsolete) entries of a .po file: msgctxt, msgid, msgid_plural, msgstr(s), flags."""
    entries: list[dict] = []
    entry: dict = {}
    key = None

    def flush():
        nonlocal entry, key
        if "msgid" in entry:
            entries.append(entry)
        entry, key = {}, None

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#~"):
            continue  # obsolete entry
        if any(k.startswith("msgstr") for k in entry) and line.startswith(("#", "msgctxt ", "msgid ")):
            flush()  # the next entry starts without a blank line
        match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")$', line)
        if line.startswith("#,"):
            entry.setdefault("flags", set()).update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif match:
            key = match.group(1)
            entry[key] = _unquote(match.group(2))
        elif line.startswith('"') and key:
            entry[key] += _unquote(line)
        else:
            raise AssertionError(f"{path}: cannot parse line {raw!r}")
    flush()
    return entries


def _msgstrs(entry: dict) -> list[str]:
    return [v for k, v in sorted(entry.items()) if k.startswith("msgstr")]


def _compiled_view(entries: list[dict]) -> dict:
    """What msgfmt puts in the .mo for these entries, keyed like gettext.GNUTranslations._catalog."""
    catalog = {}
    for e in entries:
        if not e["msgid"] or "fuzzy" in e.get("flags", ()) or not all(_msgstrs(e)):
            continue
        msgid = f"{e['msgctxt']}\x04{e['msgid']}" if "msgctxt" in e else e["msgid"]
        if "msgid_plural" in e:
            for k, v in e.items():
                if k.startswith("msgstr["):
                    catalog[(msgid, int(k[7:-1]))] = v
        else:
            catalog[msgid] = e["msgstr"]
    return catalog


def _po_files() -> list[Path]:
    return sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))


# --- (a) gettext --------------------------------------------------------------------------------------


def test_known_msgids_translate_to_english():
    with translation.override("en"):
        for msgid, english in KNOWN:
            assert translation.gettext(msgid) == english
        assert str(apps.get_app_config("inquiries").verbose_name) == "Customer Inquiries"
        assert str(apps.get_app_config("markets").verbose_name) == "Marketplace Integration"
        assert str(apps.get_app_config("policy").verbose_name) == "Automation Policy"
        assert str(MarketAccount._meta.verbose_name) == "Marketplace account"
        assert str(AccountRollout._meta.verbose_name_plural) == "Account rollout"
        assert str(RollbackIncident._meta.verbose_name) == "Rollback incident"
        assert Inquiry.Status.HUMAN_REVIEW.label == "Human review"
        assert translation.gettext("전송 실패: %(err)s") % {"err": "HTTP 500"} == "Send failed: HTTP 500"


def test_korean_catalog_returns_the_korean_msgids():
    with translation.override("ko"):
        for msgid, _english in KNOWN:
            assert translation.gettext(msgid) == msgid
        assert str(MarketAccount._meta.verbose_name) == "마켓 계정"
        # a Django msgid reused in a project template keeps Django's Korean, not the English msgid
        assert translation.gettext("Home") == "홈"


# --- (b) and (c) the admin in each language -----------------------------------------------------------

EN_LABELS = [
    "partialauto operations console",
    "Customer Inquiries",
    "Marketplace Integration",
    "Automation Policy",
    "Marketplace account",
]
KO_LABELS = ["partialauto 운영 콘솔", "고객 문의", "마켓 연동", "자동화 정책", "마켓 계정"]
ROLLOUT_EN = ["Emergency stop", "Partial automation", "Test mode", "Effective mode", "Sent today / quota"]
ROLLOUT_KO = ["긴급 정지", "부분 자동화", "테스트 모드", "실제 모드", "오늘 전송 / 한도"]


def _get(client, url: str, **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200, url
    return response.content.decode()


@pytest.fixture
def account(db):
    """One account, so the rollout list has rows (and column headers)."""
    return make_account("coupang_main")


@pytest.mark.django_db
def test_admin_in_english(admin_client, account):
    # translation.override restores the thread's language afterwards (LocaleMiddleware does not).
    with override_settings(LANGUAGE_CODE="en"), translation.override("en"):
        index = _get(admin_client, reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en")
        rollout = _get(admin_client, reverse("admin:policy_accountrollout_changelist"), HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="en"' in index
    for label in EN_LABELS:
        assert label in index, label
    for label in KO_LABELS:
        assert label not in index, label
    for label in ROLLOUT_EN:
        assert label in rollout, label
    for label in ROLLOUT_KO:
        assert label not in rollout, label


@pytest.mark.django_db
def test_admin_in_korean_by_default(admin_client, account):
    if "DJANGO_LANGUAGE_CODE" not in os.environ:
        assert settings.LANGUAGE_CODE == "ko-kr"
    with override_settings(LANGUAGE_CODE="ko-kr"), translation.override("ko"):
        index = _get(admin_client, reverse("admin:index"))
        rollout = _get(admin_client, reverse("admin:policy_accountrollout_changelist"))
    assert '<html lang="ko"' in index
    for label in KO_LABELS:
        assert label in index, label
    for label in EN_LABELS:
        assert label not in index, label
    for label in ROLLOUT_KO:
        assert label in rollout, label
    assert "Partial automation" not in rollout and "Effective mode" not in rollout
    assert ">홈<" in rollout  # Django's own strings stay Korean too


# --- (d) the catalogs ---------------------------------------------------------------------------------


def test_every_po_has_a_current_mo():
    """Each .po has its compiled .mo beside it, not older than the .po. A fresh git checkout does not keep
    modification times, so an older .mo is accepted only when it holds exactly what the .po compiles to."""
    po_files = _po_files()
    assert {p.parent.parent.name for p in po_files} >= {"en", "ko"}
    for po in po_files:
        mo = po.with_suffix(".mo")
        assert mo.exists(), f"{mo} missing: run bash locale/update.sh"
        with mo.open("rb") as fh:
            compiled = {k: v for k, v in gettext.GNUTranslations(fh)._catalog.items() if k != ""}
        expected = _compiled_view(read_po(po))
        if mo.stat().st_mtime < po.stat().st_mtime:
            assert compiled == expected, f"{mo} is older than {po.name} and stale: run bash locale/update.sh"
        # either way, the .mo is what the .po says
        stale = sorted(k for k in expected if compiled.get(k) != expected[k])
        extra = sorted(k for k in compiled if k not in expected)
        assert not stale and not extra, (
            f"{mo} out of date ({len(stale)} changed, {len(extra)} extra): run bash locale/update.sh"
        )


def test_english_catalog_is_complete():
    entries = [e for e in read_po(EN_PO) if e["msgid"]]
    assert len(entries) > 300
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e.get("flags", ())]
    untranslated = [e["msgid"] for e in entries if not all(_msgstrs(e))]
    assert not fuzzy, f"fuzzy English entries (check, then drop the flag): {fuzzy}"
    assert not untranslated, f"untranslated English entries: {untranslated}"
    placeholder = re.compile(r"%\(\w+\)[sdif]|%%|\{\w+\}")
    for e in entries:
        for msgstr in _msgstrs(e):
            assert sorted(placeholder.findall(msgstr)) == sorted(placeholder.findall(e["msgid"])), e["msgid"]


def test_korean_catalog_repeats_its_msgids():
    hangul = re.compile("[\uac00-\ud7a3]")
    entries = [e for e in read_po(LOCALE_DIR / "ko" / "LC_MESSAGES" / "django.po") if e["msgid"]]
    assert entries
    for e in entries:
        assert "fuzzy" not in e.get("flags", ()), e["msgid"]
        if hangul.search(e["msgid"]):
            assert e.get("msgstr", e.get("msgstr[0]")) == e.get("msgid_plural", e["msgid"]), e["msgid"]
        else:  # one of Django's msgids reused in a template: Django's Korean, never the English msgid
            assert _msgstrs(e) and all(_msgstrs(e)), e["msgid"]


@pytest.mark.skipif(
    shutil.which("msgfmt") is None,
    reason="GNU gettext's msgfmt is not installed; the Python checks above cover the same ground",
)
def test_msgfmt_statistics_and_format_check():
    for po in _po_files():
        result = subprocess.run(
            ["msgfmt", "--check-format", "--statistics", "-o", os.devnull, str(po)],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        assert result.returncode == 0, result.stderr
        if po == EN_PO:
            assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr


def _fill_ko():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "fill_ko", Path(__file__).resolve().parent.parent / "locale/fill_ko.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_korean_catalogue_filler__korean_ids_copied_django_ids_translated_hand_work_kept():
    import polib

    fill_ko = _fill_ko()
    fuzzy = polib.POEntry(msgid="긴급 정지", msgstr="비상 정지", flags=["fuzzy"], previous_msgid="비상 정지")
    empty = polib.POEntry(msgid="계정", msgstr="")
    plural = polib.POEntry(msgid="%(n)d건", msgid_plural="%(n)d건들", msgstr_plural={0: "", 1: ""})
    django_own = polib.POEntry(msgid="Home", msgstr="")
    by_hand = polib.POEntry(msgid="Log out", msgstr="로그아웃")
    assert [fill_ko.fill(e) for e in (fuzzy, empty, plural, django_own, by_hand)] == [True, True, True, True, False]
    assert (fuzzy.msgstr, fuzzy.fuzzy, fuzzy.previous_msgid) == ("긴급 정지", False, None)
    assert empty.msgstr == "계정"
    assert plural.msgstr_plural == {0: "%(n)d건들"}
    assert django_own.msgstr == "홈"  # Django's Korean, so the project catalogue never shadows it with English
    assert by_hand.msgstr == "로그아웃"
