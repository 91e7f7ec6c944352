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

# Korean catalog: msgstr = msgid for empty or fuzzy entries (msgstr[0] = msgid_plural: Korean has one form).
"$PY" - "$KO_PO" <<'PYEOF'
import gettext
import glob
import importlib.util
import os
import re
import sys

path = sys.argv[1]
HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")


def upstream_catalogs():
    """Korean catalogs of Django and the installed third-party apps (what LOCALE_PATHS would shadow)."""
    found = []
    for package in ("django", "django_q", "simple_history"):
        spec = importlib.util.find_spec(package)
        if spec and spec.origin:
            root = os.path.dirname(spec.origin)
            for mo in sorted(glob.glob(f"{root}/**/locale/ko/LC_MESSAGES/django.mo", recursive=True)):
                with open(mo, "rb") as fh:
                    found.append(gettext.GNUTranslations(fh))
    return found


_catalogs = None


def upstream_ko(msgid):
    global _catalogs
    if _catalogs is None:
        _catalogs = upstream_catalogs()
    for catalog in _catalogs:
        translated = catalog.gettext(msgid)
        if translated != msgid:
            return translated
    return msgid


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


with open(path, encoding="utf-8") as fh:
    blocks = fh.read().split("\n\n")


def field(lines, keyword):
    """The lines of one field (keyword line plus its "..." continuation lines), or []."""
    for i, line in enumerate(lines):
        if re.match(rf"{re.escape(keyword)} \"", line):
            j = i + 1
            while j < len(lines) and lines[j].startswith('"'):
                j += 1
            return lines[i:j]
    return []


def text(field_lines):
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', "\n".join(field_lines)))


changed = 0
out = []
for block in blocks:
    lines = block.split("\n")
    msgid = field(lines, "msgid")
    if not msgid or text(msgid) == "" or any(line.startswith("#~") for line in lines):
        out.append(block)  # header, obsolete entry or trailing text
        continue
    plural = field(lines, "msgid_plural")
    flags_line = next((line for line in lines if line.startswith("#,")), None)
    flags = [f.strip() for f in flags_line[2:].split(",")] if flags_line else []
    msgstr_key = "msgstr[0]" if plural else "msgstr"
    msgstr = field(lines, msgstr_key)
    korean = bool(HANGUL.search(text(msgid)))
    if "fuzzy" not in flags and text(msgstr) != "" and (korean or text(msgstr) != text(msgid)):
        out.append(block)
        continue
    if korean or plural:
        source = plural or msgid
        src_key = "msgid_plural" if plural else "msgid"
        new_msgstr = [msgstr_key + source[0][len(src_key):]] + source[1:]
    else:
        unescaped = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text(msgid))
        new_msgstr = [msgstr_key + " " + quote(upstream_ko(unescaped))]
    if new_msgstr == msgstr and "fuzzy" not in flags:
        out.append(block)
        continue
    keep = []
    for line in lines:
        if line.startswith("#|"):
            continue  # previous-msgid hints of a fuzzy match
        if line is flags_line:
            rest = [f for f in flags if f != "fuzzy"]
            if rest:
                keep.append("#, " + ", ".join(rest))
            continue
        keep.append(line)
    start = keep.index(msgstr[0])
    keep[start:start + len(msgstr)] = new_msgstr
    out.append("\n".join(keep))
    changed += 1

if changed:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n\n".join(out))
print(f"ko: filled {changed} entries (msgstr = msgid; Django's own msgids get Django's Korean)")
PYEOF

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
