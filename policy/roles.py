"""The two roles of the guide's operations team, kept as Django groups (created after migrate)."""

from __future__ import annotations

ROLE_ROLLOUT_MANAGER = "롤아웃 관리자"
ROLE_CS_AGENT = "CS 상담원"

# app_label.codename
_VIEW_ALL = [
    "markets.view_marketaccount",
    "markets.view_pollcursor",
    "markets.view_malformedpayload",
    "markets.view_shippingpolicy",
    "inquiries.view_inquiry",
    "inquiries.view_intent",
    "inquiries.view_knowledgeentry",
    "inquiries.view_sendattempt",
    "inquiries.view_productknowledge",
    "policy.view_automationsettings",
    "policy.view_rolloutphase",
    "policy.view_accountrollout",
    "policy.view_riskkeyword",
    "policy.view_rollbackrule",
    "policy.view_rollbackincident",
    "policy.view_businesshoursrange",
    "policy.view_businessdayoverride",
    "policy.view_checklistitem",
    "policy.view_rolloutevent",
    "policy.view_dailyquotausage",
    "policy.view_notificationchannel",
    "policy.view_notification",
    "inquiries.view_agentmodel",
    "markets.view_marketorder",
    "markets.view_ordersynccursor",
]
_CS_AGENT = _VIEW_ALL + [
    "inquiries.review_inquiry",
    "inquiries.change_inquiry",
    "inquiries.add_knowledgeentry",
    "inquiries.change_knowledgeentry",
    # the seller's product facts: CS agents know the products (the facts inline follows these two)
    "inquiries.add_productknowledge",
    "inquiries.change_productknowledge",
]
_ROLLOUT_MANAGER = _CS_AGENT + [
    "policy.unlock_account",
    "policy.emergency_stop",
    "policy.change_automationsettings",
    "policy.change_accountrollout",
    "policy.add_rolloutphase",
    "policy.change_rolloutphase",
    "policy.add_riskkeyword",
    "policy.change_riskkeyword",
    "policy.delete_riskkeyword",
    "policy.change_rollbackrule",
    "policy.change_rollbackincident",
    "policy.add_businesshoursrange",
    "policy.change_businesshoursrange",
    "policy.delete_businesshoursrange",
    "policy.add_businessdayoverride",
    "policy.change_businessdayoverride",
    "policy.delete_businessdayoverride",
    "policy.change_checklistitem",
    "policy.add_notificationchannel",
    "policy.change_notificationchannel",
    "policy.delete_notificationchannel",
    "markets.add_marketaccount",
    "markets.change_marketaccount",
    "markets.add_shippingpolicy",
    "markets.change_shippingpolicy",
    "inquiries.change_intent",
    "inquiries.activate_agentmodel",
]
ROLES = {ROLE_ROLLOUT_MANAGER: _ROLLOUT_MANAGER, ROLE_CS_AGENT: _CS_AGENT}


def ensure_roles(**_kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    for name, perms in ROLES.items():
        group, _created = Group.objects.get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if found is not None:
                wanted.append(found)
        group.permissions.set(wanted)
