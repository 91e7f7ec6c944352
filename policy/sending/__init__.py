"""The send path (DESIGN §2): at most one answer per inquiry, ever.

- ``common``: the claim and report types, the due rows, the fenced finalize every outcome goes through;
- ``claim``: step 1, a batch of rows (one row is a batch of one), committed before any call;
- ``gates``: step 2, the gates re-checked after the claim (a closed gate gives the claim back);
- ``calls``: step 3, the marketplace call and the threads a group of calls runs on;
- ``outcomes``: step 4, what a call came to, fenced by the claim token;
- ``reconcile``: unknown outcomes settled by asking the marketplace, never by sending again;
- ``sweep``: the path for a claimed group, the sweep over every due row and one inquiry's send (a
  group of one).

Every change of ``status`` / ``send_status`` goes through the transition table
(``inquiries.transitions``).
"""

from policy.sending.calls import close_call_threads
from policy.sending.claim import CLAIM_BATCH, CLAIM_PER_ACCOUNT, _SweepSettings, claim, claim_batch
from policy.sending.common import (
    Claim,
    Result,
    SendReport,
    approved_answer_held,
    backoff_seconds,
    due_queryset,
    next_attempt_number,
)
from policy.sending.reconcile import reconcile
from policy.sending.sweep import _send_group, send_due, send_inquiry

__all__ = [
    "CLAIM_BATCH",
    "CLAIM_PER_ACCOUNT",
    "Claim",
    "Result",
    "SendReport",
    "_SweepSettings",
    "_send_group",
    "approved_answer_held",
    "backoff_seconds",
    "claim",
    "claim_batch",
    "close_call_threads",
    "due_queryset",
    "next_attempt_number",
    "reconcile",
    "send_due",
    "send_inquiry",
]
