"""How likely a person is to send a draft as it is, by what the draft was written from.

The trained model's confidence says how sure it is of the intent and that nothing in the inquiry is a
person's to answer (:mod:`inquiries.agent.training`). Whether a *draft of this kind* is what people
send is learned from what they did: every draft a person approved, edited or replaced records a draft
agreement (``Inquiry.draft_agreement``). Per intent and answer kind, the observed share of drafts sent
(nearly) unchanged is blended with a prior worth :data:`PRIOR_WEIGHT` drafts; an account's own figures
are used once it has :data:`ACCOUNT_MIN` comparisons of that intent and kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PRIOR_WEIGHT = 20.0
ACCOUNT_MIN = 30
# What a draft of each kind is believed to be worth before anyone has reviewed one.
# The model's own confidence already covers whether the intent is right; these say how often a right-
# intent draft of the kind is still changed by the person who sends it.
PRIORS: Mapping[str, float] = {
    "order_status": 0.995,  # the order's own state, carrier and tracking number
    "past_answer": 0.99,  # what a person sent for the same question
    "shipping_policy": 0.98,  # the seller's own policy, computed on the calendar
    "knowledge": 0.95,  # a knowledge entry stating the seller's procedure
    "product_facts": 0.95,  # replaced by how well the facts cover the question (grounding's p_answer)
}
UNGROUNDED = 0.2  # general guidance: people rarely send it unchanged
UNGROUNDED_KIND = "ungrounded"  # the answer kind of a draft not written from facts (in calibration maps)


def prior_for(kind: str, coverage: float | None = None) -> float:
    """What a draft of ``kind`` is believed to be worth before anyone reviewed one; product-fact answers
    use grounding's own measure of how well the facts cover the question."""
    if coverage is not None:
        return coverage
    return PRIORS.get(kind, UNGROUNDED) if kind else UNGROUNDED


@dataclass(frozen=True)
class AnswerStats:
    compared: int
    agreed: int


@dataclass(frozen=True)
class AnswerCalibration:
    """Observed agreement per (account id or None for every account, intent, answer kind)."""

    stats: Mapping[tuple[str | None, str, str], AnswerStats] = field(default_factory=dict)

    def factor(
        self, *, account_id: str | None, intent: str, kind: str, prior: float | None = None
    ) -> tuple[float, str]:
        """(P(sent as is), where it came from: prior, all accounts or this account)."""
        base = prior if prior is not None else prior_for(kind)
        own = self.stats.get((account_id, intent, kind)) if account_id else None
        stats: AnswerStats | None
        if own is not None and own.compared >= ACCOUNT_MIN:
            stats, source = own, "account"
        else:
            stats, source = self.stats.get((None, intent, kind)), "all"
        if stats is None or stats.compared == 0:
            return base, "prior"
        value = (base * PRIOR_WEIGHT + stats.agreed) / (PRIOR_WEIGHT + stats.compared)
        return value, source


NO_CALIBRATION = AnswerCalibration()
