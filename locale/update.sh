#!/usr/bin/env bash
# Refresh the translation catalogs from the code, then compile them. Safe to run any number of times.
#
#   bash locale/update.sh          (from anywhere; PYTHON=... to use another interpreter)
#
# 1. makemessages for en and ko (same flags as the catalogs were created with). New strings arrive
#    untranslated; a changed string arrives "fuzzy" with its old translation as a guess.
# 2. Korean: the msgids are Korean, so every empty or fuzzy ko entry gets msgstr = msgid. A msgid
#    without Hangul is one of Django's own (a template reusing {% translate 'Home' %}): it gets
#    Django's Korean translation ("홈"), never itself, or the project catalog would shadow Django's.
#    Korean entries that someone filled in by hand (non-fuzzy, msgstr != msgid) are left alone.
# 3. compilemessages for en and ko (msgfmt --check-format; the .mo files are committed).
# 4. Prints msgfmt --statistics per catalog. Translate whatever English entries are untranslated or
#    fuzzy in locale/en/LC_MESSAGES/django.po (drop the "#, fuzzy" line once checked), then run this
#    script again. Fuzzy and untranslated entries are NOT compiled: the UI shows the Korean msgid.
#
# Exit status: 0 when the English catalog is complete, 1 when entries still need translating.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
IGNORES=(--ignore=.venv --ignore=bench --ignore=scripts --ignore=tests)
EN_PO=locale/en/LC_MESSAGES/django.po
KO_PO=locale/ko/LC_MESSAGES/django.po

for tool in msgfmt msgmerge xgettext msguniq; do
    command -v "$tool" >/dev/null || { echo "update.sh: $tool not found (apt-get install gettext)" >&2; exit 2; }
done

"$PY" manage.py makemessages -l en -l ko "${IGNORES[@]}" --verbosity 0

# Korean catalog: msgstr = msgid for empty or fuzzy entries (polib; see locale/fill_ko.py).
"$PY" locale/fill_ko.py "$KO_PO"

"$PY" manage.py compilemessages -l en -l ko "${IGNORES[@]}" --verbosity 0

status=0
for po in "$EN_PO" "$KO_PO"; do
    stats=$(LC_ALL=C msgfmt --statistics -o /dev/null "$po" 2>&1)
    echo "$po: $stats"
done
en_stats=$(LC_ALL=C msgfmt --statistics -o /dev/null "$EN_PO" 2>&1)
if [[ "$en_stats" == *untranslated* || "$en_stats" == *fuzzy* ]]; then
    echo "English entries to translate (untranslated or fuzzy):"
    msgattrib --only-fuzzy --no-wrap "$EN_PO" | grep '^msgid "[^"]' || true
    msgattrib --untranslated --no-wrap "$EN_PO" | grep '^msgid "[^"]' || true
    status=1
fi
exit "$status"
