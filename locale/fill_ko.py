"""Fill the Korean catalogue after ``makemessages`` (run by ``locale/update.sh``).

The msgids are Korean, so every empty or fuzzy Korean entry gets msgstr = msgid (msgstr[0] = the
plural msgid: Korean has one form). A msgid without Hangul is one of Django's own (a template reusing
``{% translate 'Home' %}``): it gets Django's Korean translation, never itself, or the project catalogue
would shadow Django's. Entries someone filled in by hand (not fuzzy, msgstr != msgid) are left alone.

    python locale/fill_ko.py locale/ko/LC_MESSAGES/django.po
"""

from __future__ import annotations

import gettext
import glob
import importlib.util
import os
import re
import sys
from functools import cache

import polib

HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
UPSTREAM = ("django", "django_q", "simple_history")


@cache
def upstream_catalogues() -> tuple[gettext.GNUTranslations, ...]:
    """Korean catalogues of Django and the installed third-party apps (what LOCALE_PATHS would shadow)."""
    found = []
    for package in UPSTREAM:
        spec = importlib.util.find_spec(package)
        if spec and spec.origin:
            root = os.path.dirname(spec.origin)
            for mo in sorted(glob.glob(f"{root}/**/locale/ko/LC_MESSAGES/django.mo", recursive=True)):
                with open(mo, "rb") as fh:
                    found.append(gettext.GNUTranslations(fh))
    return tuple(found)


def upstream_ko(msgid: str) -> str:
    for catalogue in upstream_catalogues():
        translated = catalogue.gettext(msgid)
        if translated != msgid:
            return translated
    return msgid


def fill(entry: polib.POEntry) -> bool:
    """Give ``entry`` its Korean text if it needs one; True when it changed."""
    korean = bool(HANGUL.search(entry.msgid))
    current = entry.msgstr_plural.get(0, "") if entry.msgid_plural else entry.msgstr
    if not entry.fuzzy and current and (korean or current != entry.msgid):
        return False
    if entry.msgid_plural:
        wanted = {0: entry.msgid_plural}
        changed = entry.msgstr_plural != wanted
        entry.msgstr_plural = wanted
    else:
        wanted_text = entry.msgid if korean else upstream_ko(entry.msgid)
        changed = entry.msgstr != wanted_text
        entry.msgstr = wanted_text
    if entry.fuzzy:
        entry.flags.remove("fuzzy")
        entry.previous_msgid = entry.previous_msgid_plural = entry.previous_msgctxt = None
        changed = True
    return changed


def main(path: str) -> int:
    catalogue = polib.pofile(path, wrapwidth=79)
    changed = sum(fill(entry) for entry in catalogue if entry.msgid and not entry.obsolete)
    if changed:
        catalogue.save(path)
    print(f"ko: filled {changed} entries (msgstr = msgid; Django's own msgids get Django's Korean)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
