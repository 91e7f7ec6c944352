#!/usr/bin/env python3
"""Validate labelled_inquiries.jsonl and print its distribution tables.

Stdlib only. Usage:
    python inquiries/agent/data/check_labelled.py [path/to/labelled_inquiries.jsonl]
    python inquiries/agent/data/check_labelled.py inquiries/agent/data/train_extra_d.jsonl
A training-only file (``train_extra_*.jsonl``) gets the same row checks with its own id pattern (``X`` and a
letter, e.g. ``XD0001``) and ``split`` always ``train``; the set-size minimums apply to the main set only.
Exits with status 1 when any check fails.
"""

import collections
import hashlib
import json
import os
import re
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PATH = os.path.join(HERE, "labelled_inquiries.jsonl")

KINDS = {
    "COUPANG_ONLINE": "COUPANG",
    "COUPANG_CALLCENTER": "COUPANG",
    "NAVER_QNA": "SMARTSTORE",
    "NAVER_INQUIRY": "SMARTSTORE",
}
INTENTS = ["배송문의", "상품문의", "사용법", "교환반품", "환불", "주문취소", "재입고", "기타"]
RISKS = [
    "LEGAL",
    "REGULATOR",
    "CLAIM",
    "PAYMENT_DISPUTE",
    "FRAUD",
    "SAFETY",
    "PRIVACY",
    "DELIVERY_LOSS",
    "THREAT",
    "ABUSE",
]
MUST_HUMAN = ["PRICE_NEGOTIATION", "BULK_ORDER", "CUSTOM_ORDER", "PARTIAL_REFUND", "POLICY_EXCEPTION"]
PRODUCTS = {str(7120034500 + i) for i in range(1, 11)}
REQUIRED = ["id", "market", "kind", "content", "has_order", "intent", "risk", "must_human", "topic", "split"]
OPTIONAL = ["title", "product_id", "note"]
ID_RE = re.compile(r"^L\d{4,}$")
TOPIC_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

MIN_ROWS = 900
MIN_PER_RISK = 12
MIN_PER_MUST_HUMAN = 10
MIN_NOTES = 70


EXTRA_ID_RE = re.compile(r"^X[A-Z]\d{4,}$")
TRAINING_ONLY = False  # set by main() for a train_extra_*.jsonl file


def expected_split(row_id):
    if TRAINING_ONLY:
        return "train"
    return "holdout" if int(hashlib.sha1(row_id.encode()).hexdigest(), 16) % 10 < 3 else "train"


def validate(rows):
    errors = []
    seen_ids = set()
    seen_content = {}
    for n, r in rows:
        where = f"line {n}"
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            errors.append(f"{where}: missing fields {missing}")
            continue
        extra = set(r) - set(REQUIRED) - set(OPTIONAL)
        if extra:
            errors.append(f"{where}: unexpected fields {sorted(extra)}")
        rid = r["id"]
        if not isinstance(rid, str) or not (EXTRA_ID_RE if TRAINING_ONLY else ID_RE).match(rid):
            errors.append(f"{where}: bad id {rid!r}")
        elif rid in seen_ids:
            errors.append(f"{where}: duplicate id {rid}")
        seen_ids.add(rid)
        if r["kind"] not in KINDS:
            errors.append(f"{where}: bad kind {r['kind']!r}")
        elif KINDS[r["kind"]] != r["market"]:
            errors.append(f"{where}: market {r['market']!r} does not match kind {r['kind']}")
        if r["kind"] == "NAVER_INQUIRY":
            if not isinstance(r.get("title"), str) or not r["title"].strip():
                errors.append(f"{where}: NAVER_INQUIRY needs a title")
        elif "title" in r:
            errors.append(f"{where}: title only allowed for NAVER_INQUIRY")
        if not isinstance(r["content"], str) or not r["content"].strip():
            errors.append(f"{where}: empty content")
        elif r["content"] in seen_content:
            errors.append(f"{where}: duplicate content (also line {seen_content[r['content']]})")
        else:
            seen_content[r["content"]] = n
        if "product_id" in r and r["product_id"] not in PRODUCTS:
            errors.append(f"{where}: unknown product_id {r['product_id']!r}")
        if not isinstance(r["has_order"], bool):
            errors.append(f"{where}: has_order must be a boolean")
        if r["intent"] not in INTENTS:
            errors.append(f"{where}: bad intent {r['intent']!r}")
        if r["risk"] is not None and r["risk"] not in RISKS:
            errors.append(f"{where}: bad risk {r['risk']!r}")
        if r["must_human"] is not None and r["must_human"] not in MUST_HUMAN:
            errors.append(f"{where}: bad must_human {r['must_human']!r}")
        if r["risk"] is not None and r["must_human"] is not None:
            errors.append(f"{where}: risk and must_human are exclusive (risk wins)")
        if not isinstance(r["topic"], str) or not TOPIC_RE.match(r["topic"]):
            errors.append(f"{where}: topic must be snake_case, got {r['topic']!r}")
        if "note" in r:
            if not isinstance(r["note"], str) or not r["note"].strip():
                errors.append(f"{where}: empty note")
            if r["risk"] is not None:
                errors.append(f"{where}: note is only for innocent (risk=null) rows")
        if isinstance(rid, str) and r["split"] != expected_split(rid):
            errors.append(f"{where}: split {r['split']!r} but the sha1 rule says {expected_split(rid)!r}")
    return errors


def check_counts(rows):
    errors = []
    n = len(rows)
    if n < MIN_ROWS:
        errors.append(f"only {n} rows (need >= {MIN_ROWS})")
    risk = collections.Counter(r["risk"] for _, r in rows)
    for k in RISKS:
        if risk[k] < MIN_PER_RISK:
            errors.append(f"risk {k}: {risk[k]} rows (need >= {MIN_PER_RISK})")
    mh = collections.Counter(r["must_human"] for _, r in rows)
    for k in MUST_HUMAN:
        if mh[k] < MIN_PER_MUST_HUMAN:
            errors.append(f"must_human {k}: {mh[k]} rows (need >= {MIN_PER_MUST_HUMAN})")
    notes = sum(1 for _, r in rows if "note" in r)
    if notes < MIN_NOTES:
        errors.append(f"only {notes} innocent look-alike rows with a note (need >= {MIN_NOTES})")
    for k in INTENTS:
        if not any(r["intent"] == k for _, r in rows):
            errors.append(f"intent {k} never used")
    return errors


def width(text):
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def ljust(text, n):
    return text + " " * max(0, n - width(text))


def rjust(text, n):
    return " " * max(0, n - width(text)) + text


def table(title, counter, order, total, splits=None):
    lines = [f"{title:<20} {'rows':>5} {'%':>6} {'train':>6} {'holdout':>8}"]
    for k in order:
        v = counter.get(k, 0)
        tr = splits[k]["train"] if splits else 0
        ho = splits[k]["holdout"] if splits else 0
        label = "null" if k is None else k
        lines.append(f"{ljust(label, 20)} {v:>5} {100.0 * v / total:>5.1f}% {tr:>6} {ho:>8}")
    return "\n".join(lines)


def report(rows):
    recs = [r for _, r in rows]
    total = len(recs)
    out = [f"rows: {total}"]
    for key, order in [
        ("intent", INTENTS),
        ("risk", RISKS + [None]),
        ("must_human", MUST_HUMAN + [None]),
        ("kind", list(KINDS)),
        ("split", ["train", "holdout"]),
    ]:
        c = collections.Counter(r[key] for r in recs)
        sp = collections.defaultdict(collections.Counter)
        for r in recs:
            sp[r[key]][r["split"]] += 1
        out.append("")
        out.append(table(key, c, order, total, sp))
    out.append("")
    risky = [r for r in recs if r["risk"]]
    mh = [r for r in recs if r["must_human"]]
    out.append(
        f"risky rows: {len(risky)} ({100.0 * len(risky) / total:.1f}%)   "
        f"must_human rows: {len(mh)} ({100.0 * len(mh) / total:.1f}%)   "
        f"innocent look-alikes with note: {sum(1 for r in recs if 'note' in r)}"
    )
    out.append(
        f"has_order true: {sum(r['has_order'] for r in recs)}   false: {sum(not r['has_order'] for r in recs)}   "
        f"without product_id: {sum(1 for r in recs if 'product_id' not in r)}   "
        f"distinct topics: {len(set(r['topic'] for r in recs))}"
    )
    out.append("")
    out.append("risk x intent")
    header = " " * 18 + "".join(rjust(i, 9) for i in INTENTS)
    out.append(header)
    for k in RISKS:
        row = f"{k:<18}" + "".join(
            f"{sum(1 for r in risky if r['risk'] == k and r['intent'] == i):>9}" for i in INTENTS
        )
        out.append(row)
    out.append("")
    out.append("must_human x intent")
    out.append(header)
    for k in MUST_HUMAN:
        row = f"{k:<18}" + "".join(
            f"{sum(1 for r in mh if r['must_human'] == k and r['intent'] == i):>9}" for i in INTENTS
        )
        out.append(row)
    return "\n".join(out)


def main():
    global TRAINING_ONLY
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PATH
    TRAINING_ONLY = os.path.basename(path).startswith("train_extra_")
    rows = []
    errors = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                errors.append(f"line {n}: blank line")
                continue
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                errors.append(f"line {n}: invalid JSON ({exc})")
    errors += validate(rows)
    if not errors and not TRAINING_ONLY:
        errors += check_counts(rows)
    if errors:
        print(f"FAILED: {len(errors)} problem(s)")
        for e in errors[:50]:
            print("  " + e)
        sys.exit(1)
    print("OK: all checks passed")
    print(report(rows))


if __name__ == "__main__":
    main()
