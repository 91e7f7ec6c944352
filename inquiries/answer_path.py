"""Who answered an inquiry, read from its status — one definition for the first-response figures, the
follow-up rates and the pages that show them. Any answered row that is neither an automatic answer nor
answered elsewhere carries a person's approved answer."""

from __future__ import annotations

from django.db import models
from django.db.models import Case, CharField, Value, When
from django.utils.translation import gettext_lazy as _

from inquiries.models import Inquiry


class AnswerPath(models.TextChoices):
    AUTO = "AUTO", _("자동 답변")
    PERSON = "PERSON", _("사람이 승인한 답변")
    ELSEWHERE = "ELSEWHERE", _("다른 곳에서 답변")


_BY_STATUS: dict[str, AnswerPath] = {
    Inquiry.Status.ANSWERED_ELSEWHERE: AnswerPath.ELSEWHERE,
    Inquiry.Status.AUTO_SEND: AnswerPath.AUTO,
}

# The same mapping as a database expression (the figures group by it).
PATH_EXPRESSION = Case(
    *[When(status=status, then=Value(path.value)) for status, path in _BY_STATUS.items()],
    default=Value(AnswerPath.PERSON.value),
    output_field=CharField(),
)

# The statuses of the rows whose answer the automation sent.
AUTOMATIC_STATUSES = tuple(status for status, path in _BY_STATUS.items() if path == AnswerPath.AUTO)


def path_of(status: str) -> AnswerPath:
    return _BY_STATUS.get(status, AnswerPath.PERSON)
