#!/usr/bin/env python
"""Cross-validate the whole agent on the shipped labelled set's training part (never its held-out part).

    .venv/bin/python scripts/agent_cv.py [--folds 5] [--assume-order IN_TRANSIT] [--threshold 0.9]

For each fold: train a version on the other folds (exactly as ``train_agent`` does), activate it in a
throwaway SQLite database holding one account with the example shipping policy and product knowledge
(docs/examples), and evaluate the held fold through the agent and the policy (``evaluate_agent``'s code).
Prints the pooled figures. This is the number to improve the agent against; the held-out part is for
measuring once at the end.
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
    args = p.parse_args()

    db = Path(tempfile.mkdtemp(prefix="agent-cv-")) / "cv.sqlite3"
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partialauto.settings")
    import django

    django.setup()
    import io

    import numpy as np
    from django.core.management import call_command
    from sklearn.model_selection import StratifiedKFold

    from inquiries.agent import training
    from inquiries.agent.loader import clear_cache
    from inquiries.agent_models import model_activate
    from inquiries.models import AgentModel
    from policy.evaluation import evaluate_items, report
    from tests.factories import make_account

    call_command("migrate", verbosity=0)
    account = make_account("cv_account")
    examples_dir = ROOT / "docs" / "examples"
    call_command("shipping_policy", "import", str(examples_dir / "shipping-policy.json"), "--account", "cv_account",
                 stdout=io.StringIO())
    call_command("product_knowledge", "import", str(examples_dir / "product-knowledge.json"), stdout=io.StringIO())

    examples = training.shipped_examples()
    rows = {}
    for path in sorted(training.DATA_DIR.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row.get("split") != "holdout":
                    rows[str(row["id"])] = row
    # Folds over the fresh labelled set only (the measure); every other shipped example always trains.
    fresh = [e for e in examples if e.source == "shipped:labelled_inquiries"]
    others = [e for e in examples if e.source != "shipped:labelled_inquiries"]
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    pooled = []
    for k, (train_idx, test_idx) in enumerate(folds.split(np.zeros(len(fresh)), [e.intent for e in fresh])):
        artifact, _metrics = training.train([fresh[i] for i in train_idx] + others, seed=args.seed)
        model = AgentModel.objects.create(version=k + 1, created_by="cv", artifact=artifact.to_bytes())
        model_activate(model=model, actor="cv")
        clear_cache()
        items = [rows[fresh[i].id] for i in test_idx]
        for item in items:
            item.setdefault("account_id", None)
        pooled += evaluate_items(items, account=account, assume_order=args.assume_order or None)
        print(f"fold {k + 1}/{args.folds}: {len(items)} items", file=sys.stderr)
    result = report(pooled, threshold=args.threshold)
    f = result.figures
    if args.json:
        print(json.dumps({**f, "sent_but_should_not": result.leaks}, ensure_ascii=False, indent=2))
        return 0
    pct = lambda v: "-" if v is None else f"{v * 100:.1f}%"  # noqa: E731
    print(f"items {f['items']}  intent accuracy {pct(f['intent_accuracy'])} (clean {pct(f['intent_accuracy_clean'])})")
    print(f"risk recall {pct(f['risk_recall'])}  false risk {pct(f['false_risk_rate'])}  "
          f"must-human screen {pct(f['must_human_screen_recall'])} (false {pct(f['false_must_human_rate'])})")
    print(f"to a person at ≥0.80: risky {pct(f['to_a_person']['risky'])}, must-human {pct(f['to_a_person']['must_human'])}")
    print(f"automation at {args.threshold}: all {pct(f['automation'])}, routine {pct(f['routine_automation'])} "
          f"{ {k: pct(v) for k, v in f['routine_automation_by_intent'].items()} }")
    print(f"ECE {f['expected_calibration_error']:.3f}")
    for b in f["reliability"]:
        if b["n"]:
            print(f"  [{b['low']:.1f},{b['high']:.1f}) n={b['n']:<4} conf {b['confidence']:.3f} observed {b['observed']:.3f}")
    print("reasons:", f["reasons"])
    from collections import Counter

    routine = [r for r in pooled if not r.risky and not r.must_human and r.item["intent"] in ("배송문의", "사용법")]
    print("routine reasons:", dict(Counter(r.result["reason"] if not r.sent_at(args.threshold) else "SENT"
                                          for r in routine).most_common()))
    if os.environ.get("CV_SHOW"):
        for r in routine:
            if not r.sent_at(args.threshold):
                print(f"  - {r.item['id']} {r.item['intent']}/{r.result['intent']} {r.result['reason']} "
                      f"{r.confidence:.2f} {r.item.get('topic')} | {r.item['content'][:80]}")
    by = defaultdict(list)
    for leak in result.leaks:
        by[leak["why"]].append(leak)
    print(f"leaks at ≥0.80: {len(result.leaks)}")
    for leak in result.leaks:
        print(f"  {leak['id']} [{leak['category']}] {leak['intent']} {leak['confidence']:.2f} {leak['content'][:90]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
