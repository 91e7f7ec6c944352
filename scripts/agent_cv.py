#!/usr/bin/env python
"""Cross-validate the whole agent on the shipped labelled set's training part (never its held-out part).

    .venv/bin/python scripts/agent_cv.py [--folds 5] [--assume-order IN_TRANSIT] [--threshold 0.9]

Folds over every shipped example (policy.cross_validation): for each, a version trained on the other
folds exactly as ``train_agent`` trains, activated in a throwaway SQLite database holding one account with
the example shipping policy and product knowledge (docs/examples); the held fold goes through the agent
and the policy (``evaluate_agent``'s code) and its confidence through an answer-kind calibration fitted
on the other folds. Prints the pooled figures of the fresh labelled set's part. This is the number to improve
the agent against; the held-out part is for measuring once at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--threshold", type=float, default=0.90)
    p.add_argument("--assume-order", default="IN_TRANSIT")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="report every shipped example, not only the fresh set's")
    p.add_argument(
        "--cache",
        default=str(ROOT / "var" / "agent-cv"),
        help="fold models are kept here, keyed by the fingerprint of what they were trained on",
    )
    args = p.parse_args()

    db = Path(tempfile.mkdtemp(prefix="agent-cv-")) / "cv.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partialauto.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from policy.cross_validation import cross_fitted, cross_validate, prepare_account
    from policy.evaluation import report

    call_command("migrate", verbosity=0)
    account = prepare_account()
    rows = cross_fitted(
        cross_validate(
            account,
            folds=args.folds,
            seed=args.seed,
            cache=Path(args.cache),
            assume_order=args.assume_order or None,
            log=lambda m: print(m, file=sys.stderr),
        )
    )
    # The measure: the fresh labelled set's training part (the other files are older or weighted sets).
    pooled = [r.row for r in rows if r.source == "shipped:labelled_inquiries" or args.all]
    result = report(pooled, threshold=args.threshold)
    f = result.figures
    if args.json:
        print(json.dumps({**f, "sent_but_should_not": result.leaks}, ensure_ascii=False, indent=2))
        return 0
    pct = lambda v: "-" if v is None else f"{v * 100:.1f}%"  # noqa: E731
    print(f"items {f['items']}  intent accuracy {pct(f['intent_accuracy'])} (clean {pct(f['intent_accuracy_clean'])})")
    print(
        f"risk recall {pct(f['risk_recall'])}  false risk {pct(f['false_risk_rate'])}  "
        f"must-human screen {pct(f['must_human_screen_recall'])} (false {pct(f['false_must_human_rate'])})"
    )
    print(
        f"to a person at ≥0.80: risky {pct(f['to_a_person']['risky'])}, "
        f"must-human {pct(f['to_a_person']['must_human'])}"
    )
    print(
        f"automation at {args.threshold}: all {pct(f['automation'])}, routine {pct(f['routine_automation'])} "
        f"{ {k: pct(v) for k, v in f['routine_automation_by_intent'].items()} }"
    )
    print(f"ECE {f['expected_calibration_error']:.3f}")
    for b in f["reliability"]:
        if b["n"]:
            print(
                f"  [{b['low']:.1f},{b['high']:.1f}) n={b['n']:<4} conf {b['confidence']:.3f} "
                f"observed {b['observed']:.3f}"
            )
    print("reasons:", f["reasons"])
    from collections import Counter

    routine = [r for r in pooled if not r.risky and not r.must_human and r.item["intent"] in ("배송문의", "사용법")]
    print(
        "routine reasons:",
        dict(Counter(r.result.reason if not r.sent_at(args.threshold) else "SENT" for r in routine).most_common()),
    )
    if os.environ.get("CV_SHOW"):
        for r in routine:
            if not r.sent_at(args.threshold):
                print(
                    f"  - {r.item['id']} {r.item['intent']}/{r.result['intent']} {r.result['reason']} "
                    f"{r.confidence:.2f} {r.item.get('topic')} | {r.item['content'][:80]}"
                )
    kinds = defaultdict(list)
    for r in pooled:
        kinds[r.result.answer_kind or "-"].append(r)
    for kind, members in sorted(kinds.items()):
        print(
            f"  answer {kind:<14} n={len(members):<4} conf {sum(r.confidence for r in members) / len(members):.3f} "
            f"observed {sum(r.send_as_is for r in members) / len(members):.3f} "
            f"sent@{args.threshold} {sum(r.sent_at(args.threshold) for r in members)}"
        )
    by = defaultdict(list)
    for leak in result.leaks:
        by[leak["why"]].append(leak)
    print(f"leaks at ≥0.80: {len(result.leaks)}")
    for leak in result.leaks:
        print(f"  {leak['id']} [{leak['category']}] {leak['intent']} {leak['confidence']:.2f} {leak['content'][:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
