"""The one formula training and deciding share: what the final confidence map is applied to."""

from __future__ import annotations


def confidence_input(p_intent_correct, p_risk, p_person):
    """Right intent, and nothing in the inquiry only a person may answer (works on floats and arrays)."""
    return p_intent_correct * (1.0 - p_risk) * (1.0 - p_person)
