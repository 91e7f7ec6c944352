"""The inquiries app's models: the inquiry record and its trail, intents and the answer knowledge base.

Defined in submodules by subject; imported here so ``inquiries.models`` is where Django and the code
find them.
"""

from inquiries.models.inquiry import Inquiry, InquiryQuerySet, Mode, ReviewItem
from inquiries.models.knowledge import AgentModel, Intent, KnowledgeEntry, ProductFact, ProductKnowledge
from inquiries.models.trail import FollowUp, InquiryEvent, SendAttempt

__all__ = [
    "AgentModel",
    "FollowUp",
    "Inquiry",
    "InquiryEvent",
    "InquiryQuerySet",
    "Intent",
    "KnowledgeEntry",
    "Mode",
    "ProductFact",
    "ProductKnowledge",
    "ReviewItem",
    "SendAttempt",
]
