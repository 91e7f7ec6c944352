#!/usr/bin/env python
"""Build the agent version every new installation starts with (inquiries/agent/data/shipped-model.npz).

    .venv/bin/python scripts/build_shipped_model.py

Trains exactly as ``train_agent`` does, on the shipped labelled data only (never a held-out row), with
seed 0, so the same data and code give the same file. The answer-kind calibration comes from
cross-validating the whole agent with the example seller facts in a throwaway SQLite database
(policy.cross_validation; fold models are cached under var/agent-cv). The file carries its figures (held out and out of
fold), what it was trained on and the fingerprint of that data; ``tests/inquiries/test_shipped_model.py``
fails when the data or the training settings change and the file was not rebuilt. Migration
``inquiries.0014_shipped_agent_model`` installs it as version 1, active for every account, on a
database that has no version yet.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    os.environ["DATABASE_URL"] = f"sqlite:///{Path(tempfile.mkdtemp(prefix='shipped-model-')) / 'build.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partialauto.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from inquiries.agent import training
    from inquiries.agent.textmodel import SHIPPED_MODEL, AgentModelArtifact
    from inquiries.agent_models import build_version
    from policy.cross_validation import calibration_of, cross_validate, prepare_account

    started = time.monotonic()
    call_command("migrate", verbosity=0)
    rows = cross_validate(prepare_account(), cache=ROOT / "var" / "agent-cv", log=print)
    answer_calibration = calibration_of([r.row for r in rows])
    shipped = training.shipped_examples()
    artifact, metrics, data = build_version(shipped, [], seed=0)
    artifact = dataclasses.replace(artifact, answer_calibration=answer_calibration)
    artifact.meta["shipped"] = {
        "metrics": metrics,
        "training_data": data,
        "data_fingerprint": training.data_fingerprint(shipped),
        "answer_calibration_rows": len(rows),
    }
    blob = artifact.to_bytes()
    AgentModelArtifact.from_bytes(blob)  # it loads
    SHIPPED_MODEL.write_bytes(blob)
    held = metrics["held_out"]
    print(
        f"wrote {SHIPPED_MODEL.relative_to(ROOT)} ({len(blob) / 1e6:.1f} MB) in {time.monotonic() - started:.0f} s: "
        f"{len(shipped)} examples, vocabulary {len(artifact.vectorizer)}, "
        f"held-out intent accuracy {held['intent_accuracy']:.3f}, "
        f"calibration error {held['expected_calibration_error']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
