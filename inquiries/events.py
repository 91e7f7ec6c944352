"""The inquiry event trail: one row for every state change, with actor and time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from inquiries.models import Inquiry, InquiryEvent


def record(
    inquiry: Inquiry | int,
    type: str,
    *,
    actor_label: str,
    actor=None,
    from_status: str = "",
    to_status: str = "",
    from_send_status: str = "",
    to_send_status: str = "",
    message: str = "",
    data: dict | None = None,
) -> InquiryEvent:
    return InquiryEvent.objects.create(
        inquiry_id=inquiry if isinstance(inquiry, int) else inquiry.pk,
        type=type,
        actor=actor,
        actor_label=(actor.get_username() if actor is not None else actor_label)[:64],
        from_status=from_status,
        to_status=to_status,
        from_send_status=from_send_status,
        to_send_status=to_send_status,
        message=message[:500],
        data=data or {},
    )


def row(inquiry_id: int, type: str, *, actor_label: str, at: dt.datetime, **fields) -> dict:
    """An event as the column values a bulk insert writes (keyed by attribute name), without a model
    instance: the decision batch builds one per inquiry."""
    values: dict[str, Any] = {
        "inquiry_id": inquiry_id,
        "type": type,
        "at": at,
        "actor_id": None,
        "actor_label": actor_label[:64],
        "from_status": "",
        "to_status": "",
        "from_send_status": "",
        "to_send_status": "",
        "message": "",
        "data": {},
    }
    values.update(fields)
    values["message"] = values["message"][:500]
    return values


def build(inquiry_id: int, type: str, *, actor_label: str, **fields) -> InquiryEvent:
    """An unsaved event, for bulk_create in batch paths."""
    fields["message"] = fields.get("message", "")[:500]
    return InquiryEvent(inquiry_id=inquiry_id, type=type, actor_label=actor_label[:64], **fields)
