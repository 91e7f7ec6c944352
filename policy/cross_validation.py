"""Cross-validating the whole agent on the shipped labelled data, with facts, in a throwaway database.

Used by ``scripts/agent_cv.py`` (the figures to improve the agent against) and by
``scripts/build_shipped_model.py`` (the answer-kind calibration shipped with the default version). Never
run against a database anyone uses: it stores and activates one agent version per fold.

The data is split into folds by intent over every shipped example (never a held-out row). For each fold a
version is trained on the other folds exactly as ``train_agent`` trains, activated, and the fold's items
are run through the agent and the policy (:func:`policy.evaluation.evaluate_items`) for an account that
has the example shipping policy and product knowledge (``docs/examples``). That gives, for every item,
the confidence before the answer-kind calibration; :func:`cross_fitted` then maps each fold's rows with
a calibration fitted on the other folds' rows only, so no figure is measured on what it was fitted on.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.core.management import call_command

from inquiries.agent import training
from inquiries.agent.loader import clear_cache
from inquiries.agent_models import model_activate
from inquiries.models import AgentModel
from markets.models import MarketAccount
from policy.evaluation import Row, evaluate_items, recalibrated

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
ACCOUNT = "cv_account"


@dataclass(frozen=True)
class FoldRow:
    fold: int
    source: str  # the example's data file ("shipped:labelled_inquiries", …)
    row: Row


def prepare_account() -> MarketAccount:
    """The throwaway database's one account, with the example shipping policy and product knowledge, and
    no agent version but the ones folds will store."""
    from markets.services import account_create

    AgentModel.objects.all().delete()
    account = MarketAccount.objects.filter(name=ACCOUNT).first() or account_create(
        name=ACCOUNT,
        market_code="COUPANG",
        vendor_id="A00000000",
        access_key="cross-validation",
        secret_key="cross-validation",
        reply_by="cv",
    )
    call_command(
        "shipping_policy", "import", str(EXAMPLES / "shipping-policy.json"), "--account", ACCOUNT, stdout=io.StringIO()
    )
    call_command("product_knowledge", "import", str(EXAMPLES / "product-knowledge.json"), stdout=io.StringIO())
    return account


def shipped_rows() -> dict[str, dict]:
    """Every shipped labelled line that is not held out, by id (what evaluate_items reads)."""
    return {str(row["id"]): {**row, "account_id": None} for _stem, row in training.shipped_rows()}


def cross_validate(
    account: MarketAccount,
    *,
    folds: int = 5,
    seed: int = 0,
    cache: Path | None = None,
    assume_order: str | None = "IN_TRANSIT",
    log=print,
) -> list[FoldRow]:
    from sklearn.model_selection import StratifiedKFold

    examples = training.shipped_examples()
    items = shipped_rows()
    out: list[FoldRow] = []
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for k, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(len(examples)), [e.intent for e in examples])):
        part = [examples[i] for i in train_idx]
        cached = cache / f"{training.data_fingerprint(part)[:24]}-{seed}.npz" if cache else None
        if cached is not None and cached.exists():
            blob = cached.read_bytes()
        else:
            blob = training.train(part, seed=seed)[0].to_bytes()
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                cached.write_bytes(blob)
        version = (AgentModel.objects.order_by("-version").values_list("version", flat=True).first() or 0) + 1
        model_activate(
            model=AgentModel.objects.create(version=version, created_by="cross-validation", artifact=blob),
            actor="cross-validation",
        )
        clear_cache()
        held = [examples[i] for i in test_idx]
        rows = evaluate_items([items[e.id] for e in held], account=account, assume_order=assume_order)
        out += [FoldRow(k, e.source, row) for e, row in zip(held, rows, strict=True)]
        log(f"fold {k + 1}/{folds}: {len(held)} items")
    return out


def calibration_of(rows: Sequence[Row]) -> dict:
    return training.fit_answer_calibration([r.pre for r in rows], [r.kind for r in rows], [r.send_as_is for r in rows])


def cross_fitted(rows: Sequence[FoldRow]) -> list[FoldRow]:
    """Each fold's rows mapped by an answer-kind calibration fitted on the other folds' rows."""
    out = []
    for k in sorted({r.fold for r in rows}):
        calibration = calibration_of([r.row for r in rows if r.fold != k])
        mine = [r for r in rows if r.fold == k]
        out += [
            FoldRow(r.fold, r.source, row)
            for r, row in zip(mine, recalibrated([r.row for r in mine], calibration), strict=True)
        ]
    return out
