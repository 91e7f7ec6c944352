"""The sandbox's routes: each path pattern with the handler method (a callable of one of the handler's
mixins) that serves it. Matched in order; the first pattern that matches wins."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from markets.clients.types import COUPANG_CALLCENTER, COUPANG_ONLINE, NAVER_INQUIRY, NAVER_QNA
from markets.sandbox.control_routes import ControlRoutes
from markets.sandbox.coupang_routes import CoupangRoutes
from markets.sandbox.naver_routes import NaverRoutes
from markets.sandbox.order_routes import OrderRoutes

_COUPANG = r"^/v2/providers/openapi/apis/api"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    market: str  # "coupang" | "naver" | "control"
    handler: Callable[..., None]  # a handler method of one of the mixins, called with the request handler
    kind: str | None = None
    is_answer: bool = False


def _r(
    method: str,
    pattern: str,
    name: str,
    market: str,
    handler: Callable[..., None],
    kind: str | None = None,
    is_answer: bool = False,
) -> Route:
    return Route(method, re.compile(pattern), name, market, handler, kind, is_answer)


ROUTES: tuple[Route, ...] = (
    # Coupang. The single call-center GET has no vendorId segment, so it is matched first.
    _r(
        "GET",
        _COUPANG + r"/v[45]/vendors/callCenterInquiries/(?P<id>[^/]+)$",
        "coupang.callcenter.get",
        "coupang",
        CoupangRoutes.coupang_callcenter_get,
        COUPANG_CALLCENTER,
    ),
    _r(
        "GET",
        _COUPANG + r"/v[45]/vendors/(?P<vendor>[^/]+)/onlineInquiries$",
        "coupang.online.list",
        "coupang",
        CoupangRoutes.coupang_list,
        COUPANG_ONLINE,
    ),
    _r(
        "GET",
        _COUPANG + r"/v[45]/vendors/(?P<vendor>[^/]+)/callCenterInquiries$",
        "coupang.callcenter.list",
        "coupang",
        CoupangRoutes.coupang_list,
        COUPANG_CALLCENTER,
    ),
    _r(
        "POST",
        _COUPANG + r"/v4/vendors/(?P<vendor>[^/]+)/onlineInquiries/(?P<id>[^/]+)/replies$",
        "coupang.online.reply",
        "coupang",
        CoupangRoutes.coupang_reply,
        COUPANG_ONLINE,
        True,
    ),
    _r(
        "POST",
        _COUPANG + r"/v4/vendors/(?P<vendor>[^/]+)/callCenterInquiries/(?P<id>[^/]+)/replies$",
        "coupang.callcenter.reply",
        "coupang",
        CoupangRoutes.coupang_reply,
        COUPANG_CALLCENTER,
        True,
    ),
    _r(
        "POST",
        _COUPANG + r"/v4/vendors/(?P<vendor>[^/]+)/callCenterInquiries/(?P<id>[^/]+)/confirms$",
        "coupang.callcenter.confirm",
        "coupang",
        CoupangRoutes.coupang_confirm,
        COUPANG_CALLCENTER,
    ),
    # Coupang orders. ".../ordersheets/{shipmentBoxId}" and ".../{orderId}/ordersheets" are different
    # look-ups: the orderId comes *before* "ordersheets" (research/order-apis.md §1.1).
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[45])/vendors/(?P<vendor>[^/]+)/ordersheets$",
        "coupang.orders.list",
        "coupang",
        OrderRoutes.coupang_ordersheets_list,
    ),
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[45])/vendors/(?P<vendor>[^/]+)/ordersheets/(?P<box>[^/]+)/history$",
        "coupang.orders.history",
        "coupang",
        OrderRoutes.coupang_ordersheet_history,
    ),
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[45])/vendors/(?P<vendor>[^/]+)/ordersheets/(?P<box>[^/]+)$",
        "coupang.orders.box",
        "coupang",
        OrderRoutes.coupang_ordersheet_box,
    ),
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[45])/vendors/(?P<vendor>[^/]+)/(?P<order>[^/]+)/ordersheets$",
        "coupang.orders.order",
        "coupang",
        OrderRoutes.coupang_ordersheets_by_order,
    ),
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[46])/vendors/(?P<vendor>[^/]+)/returnRequests$",
        "coupang.returns.list",
        "coupang",
        OrderRoutes.coupang_returns_list,
    ),
    _r(
        "GET",
        _COUPANG + r"/(?P<version>v[46])/vendors/(?P<vendor>[^/]+)/returnRequests/(?P<receipt>[^/]+)$",
        "coupang.returns.get",
        "coupang",
        OrderRoutes.coupang_return_get,
    ),
    # Naver
    _r("POST", r"^/external/v1/oauth2/token$", "naver.token", "naver", NaverRoutes.naver_token),
    _r("GET", r"^/external/v1/contents/qnas$", "naver.qnas.list", "naver", NaverRoutes.naver_qnas_list, NAVER_QNA),
    _r(
        "PUT",
        r"^/external/v1/contents/qnas/(?P<id>[^/]+)$",
        "naver.qnas.answer",
        "naver",
        NaverRoutes.naver_qnas_answer,
        NAVER_QNA,
        True,
    ),
    _r(
        "GET",
        r"^/external/v1/pay-user/inquiries$",
        "naver.inquiries.list",
        "naver",
        NaverRoutes.naver_inquiries_list,
        NAVER_INQUIRY,
    ),
    _r(
        "POST",
        r"^/external/v1/pay-merchant/inquiries/(?P<id>[^/]+)/answer$",
        "naver.inquiries.answer",
        "naver",
        NaverRoutes.naver_inquiries_answer,
        NAVER_INQUIRY,
        True,
    ),
    _r(
        "PUT",
        r"^/external/v1/pay-merchant/inquiries/(?P<id>[^/]+)/answer/(?P<answer>[^/]+)$",
        "naver.inquiries.answer.update",
        "naver",
        NaverRoutes.naver_inquiries_answer_update,
        NAVER_INQUIRY,
        True,
    ),
    _r(
        "GET",
        r"^/external/v1/pay-order/seller/product-orders/last-changed-statuses$",
        "naver.orders.changes",
        "naver",
        OrderRoutes.naver_order_changes,
    ),
    _r(
        "POST",
        r"^/external/v1/pay-order/seller/product-orders/query$",
        "naver.orders.query",
        "naver",
        OrderRoutes.naver_order_query,
    ),
    _r(
        "GET",
        r"^/external/v1/pay-order/seller/orders/(?P<order>[^/]+)/product-order-ids$",
        "naver.orders.ids",
        "naver",
        OrderRoutes.naver_order_ids,
    ),
    # Control API
    _r("GET", r"^/_sandbox/health$", "control.health", "control", ControlRoutes.control_health),
    _r("GET", r"^/_sandbox/accounts$", "control.accounts", "control", ControlRoutes.control_accounts),
    _r("POST", r"^/_sandbox/accounts$", "control.accounts.add", "control", ControlRoutes.control_accounts_add),
    _r("GET", r"^/_sandbox/inquiries$", "control.inquiries", "control", ControlRoutes.control_inquiries),
    _r("POST", r"^/_sandbox/inquiries$", "control.inquiries.add", "control", ControlRoutes.control_inquiries_add),
    _r(
        "POST",
        r"^/_sandbox/inquiries/backdated$",
        "control.inquiries.backdated",
        "control",
        ControlRoutes.control_inquiries_backdated,
    ),
    _r(
        "POST",
        r"^/_sandbox/inquiries/delete$",
        "control.inquiries.delete",
        "control",
        ControlRoutes.control_inquiries_delete,
    ),
    _r(
        "POST",
        r"^/_sandbox/inquiries/answer-elsewhere$",
        "control.inquiries.elsewhere",
        "control",
        ControlRoutes.control_inquiries_elsewhere,
    ),
    _r("GET", r"^/_sandbox/faults$", "control.faults", "control", ControlRoutes.control_faults),
    _r("POST", r"^/_sandbox/faults$", "control.faults.set", "control", ControlRoutes.control_faults_set),
    _r("POST", r"^/_sandbox/faults/reset$", "control.faults.reset", "control", ControlRoutes.control_faults_reset),
    _r("GET", r"^/_sandbox/follow-ups$", "control.follow_ups", "control", ControlRoutes.control_follow_ups),
    _r("POST", r"^/_sandbox/follow-ups$", "control.follow_ups.set", "control", ControlRoutes.control_follow_ups_set),
    _r("POST", r"^/_sandbox/release$", "control.release", "control", ControlRoutes.control_release),
    _r("GET", r"^/_sandbox/answers$", "control.answers", "control", ControlRoutes.control_answers),
    _r("GET", r"^/_sandbox/stats$", "control.stats", "control", ControlRoutes.control_stats),
    _r("POST", r"^/_sandbox/reset$", "control.reset", "control", ControlRoutes.control_reset),
    _r(
        "POST",
        r"^/_sandbox/naver/expire-tokens$",
        "control.naver.expire",
        "control",
        ControlRoutes.control_naver_expire,
    ),
    _r("GET", r"^/_sandbox/orders$", "control.orders", "control", ControlRoutes.control_orders),
    _r("POST", r"^/_sandbox/orders$", "control.orders.add", "control", ControlRoutes.control_orders_add),
    _r(
        "POST", r"^/_sandbox/orders/advance$", "control.orders.advance", "control", ControlRoutes.control_orders_advance
    ),
)


def match_route(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path params, path_exists_with_other_method)."""
    other_method = False
    for route in ROUTES:
        found = route.pattern.match(path)
        if found:
            if route.method == method:
                return route, found.groupdict(), False
            other_method = True
    return None, {}, other_method
