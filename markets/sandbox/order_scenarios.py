"""Generated orders: one realistic order per lifecycle scenario, timed backwards from a moment.

A scenario is a chain of ``orders.MOVES``. The chain's last move happens shortly before the *anchor*
(the inquiry that asks about the order, or now), and every earlier move a realistic gap before the
next, so ``ordered ≤ paid ≤ instructed ≤ departed ≤ picked up ≤ delivered`` holds and the buyer's
question always comes after what it is about. Orders stay within the last ten days when the anchor
allows it (gaps are squeezed, never reordered). Then the moves are *performed* through the
``OrderBook``, exactly as a test advancing an order would, which also writes the Naver change log.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from markets.clients.types import KST, MARKET_COUPANG, MARKET_SMARTSTORE
from markets.sandbox import generator
from markets.sandbox.generator import PRODUCTS, Product
from markets.sandbox.order_book import OrderBook
from markets.sandbox.orders import (
    CARRIERS,
    COLLECTED,
    NAVER_ONLY_SCENARIOS,
    SCENARIOS,
    STALL_AFTER,
    Address,
    Item,
    Line,
    Order,
    Party,
    ms,
)

# Realistic default mix for orders nobody asked about (mostly quiet, successful orders).
ORDER_MIX: dict[str, int] = {
    "paid": 8,
    "preparing": 14,
    "shipped": 8,
    "in_transit": 16,
    "delivered": 30,
    "late_dispatch": 5,
    "cancelled": 6,
    "returned": 5,
    "exchanged": 2,
    "stalled": 3,
    "misdelivered": 2,
    "split": 3,
}
WITHIN = timedelta(days=9, hours=18)  # generated orders stay within the last 10 days when they can

_H, _D = timedelta(hours=1), timedelta(days=1)
# (min, max) time before each move since the previous one.
GAPS: dict[str, tuple[timedelta, timedelta]] = {
    "pay": (timedelta(seconds=5), timedelta(seconds=100)),
    "place": (40 * timedelta(minutes=1), 18 * _H),
    "ship": (_H, 26 * _H),
    "pickup": (1.5 * _H, 9 * _H),
    "deliver": (8 * _H, 40 * _H),
    "decide": (_D, 6 * _D),
    "cancel_request": (10 * timedelta(minutes=1), 20 * _H),
    "cancel_done": (timedelta(minutes=1), 5 * _H),
    "return_request": (5 * _H, 3 * _D),
    "exchange_request": (5 * _H, 3 * _D),
    "collect": (18 * _H, 2.5 * _D),
    "return_done": (3 * _H, 2 * _D),
    "redeliver": (2 * _H, _D),
    "exchange_done": (12 * _H, 2 * _D),
}
BANK_PAY_GAP = (20 * timedelta(minutes=1), 8 * _H)  # 무통장입금: the transfer comes hours later
# How long before the anchor the scenario's last move happened.
LAST_MOVE_BEFORE_ANCHOR: dict[str, tuple[timedelta, timedelta]] = {
    "paid": (10 * timedelta(minutes=1), 20 * _H),
    "preparing": (20 * timedelta(minutes=1), 30 * _H),
    "shipped": (5 * timedelta(minutes=1), 5 * _H),
    "in_transit": (30 * timedelta(minutes=1), 30 * _H),
    "delivered": (20 * timedelta(minutes=1), 40 * _H),
    "misdelivered": (30 * timedelta(minutes=1), 30 * _H),
    "late_dispatch": (2.5 * _D, 5.5 * _D),
    "cancelled": (10 * timedelta(minutes=1), 2 * _D),
    "returned": (_H, 2.5 * _D),
    "exchanged": (2 * _H, 2 * _D),
    "split": (3 * _H, 30 * _H),
    "stalled": (_H, 20 * _H),
}
_SHIP_CHAIN = ("pay", "place", "ship", "pickup", "deliver")

ADDRESSES: tuple[Address, ...] = (
    Address("서울특별시 마포구 월드컵로 123", "101동 1002호", "03925", 0),
    Address("서울특별시 강남구 테헤란로 152", "12층 1205호", "06236", 0),
    Address("서울특별시 노원구 동일로 1414", "3단지 305동 804호", "01690", 0),
    Address("경기도 성남시 분당구 판교역로 230", "B동 502호", "13494", 0),
    Address("경기도 고양시 일산동구 중앙로 1261", "205동 704호", "10403", 0),
    Address("부산광역시 해운대구 센텀중앙로 90", "A동 2304호", "48058", 0),
    Address("인천광역시 연수구 컨벤시아대로 160", "1801호", "21998", 0),
    Address("대구광역시 수성구 달구벌대로 2440", "301호", "42020", 0),
    Address("광주광역시 서구 상무중앙로 104", "1203호", "61949", 0),
    Address("대전광역시 유성구 대학로 92", "기숙사 5동 210호", "34134", 0),
    Address("강원특별자치도 춘천시 중앙로 12", "502호", "24266", 0),
    Address("제주특별자치도 제주시 첨단로 240", "2층", "63309", 3_000),
    Address("경상북도 울릉군 울릉읍 도동길 70", "1층", "40223", 5_000),
)
MEMOS = (
    "문 앞에 놓아주세요",
    "부재 시 경비실에 맡겨주세요",
    "배송 전 연락 바랍니다",
    "문 앞",
    "택배함에 넣어주세요",
    None,
)
NAVER_PAYMENT_MEANS = (
    ("신용카드 간편결제", 35),
    ("신용카드", 30),
    ("계좌 간편결제", 12),
    ("휴대폰", 5),
    ("무통장입금", 10),
    ("포인트결제", 8),
)


def _between(rng: random.Random, bounds: tuple[timedelta, timedelta]) -> timedelta:
    low, high = bounds
    return timedelta(seconds=rng.uniform(low.total_seconds(), high.total_seconds()))


def _person(rng: random.Random) -> Party:
    name = rng.choice(generator.FAMILY_NAMES) + rng.choice(generator.GIVEN_NAMES)
    return Party(
        name=name,
        phone=f"010-{rng.randint(2000, 9999)}-{rng.randint(1000, 9999)}",
        safe_number=f"050{rng.choice('3457')}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        member_id=generator.masked_writer_id(rng),
    )


def resolve_product(ref: int | str | Product | None, rng: random.Random) -> Product:
    """A catalogue product from its catalogue id, Coupang vendorItemId/sellerProductId or Naver channel no."""
    if isinstance(ref, Product):
        return ref
    if ref is None or ref == "":
        return rng.choice(PRODUCTS)
    value = int(ref)
    for product in PRODUCTS:
        if value in (product.product_id, product.vendor_item_id, product.seller_product_id, product.channel_product_no):
            return product
    raise ValueError(f"unknown product {ref!r}; use an id of generator.PRODUCTS")


def _tail(rng: random.Random, scenario: str, decided: bool) -> list[str]:
    """The moves after payment that put the primary line into ``scenario``."""
    match scenario:
        case "paid":
            return []
        case "preparing":
            return ["place"]
        case "shipped":
            return ["place", "ship"]
        case "in_transit":
            return ["place", "ship", "pickup"]
        case "delivered" | "misdelivered":
            return ["place", "ship", "pickup", "deliver"] + (["decide"] if decided else [])
        case "late_dispatch":
            return ["place"] if rng.random() < 0.75 else []
        case "cancelled":
            return (["place"] if rng.random() < 0.35 else []) + ["cancel_request", "cancel_done"]
        case "returned":
            return ["place", "ship", "pickup", "deliver", "return_request"] + rng.choice(
                [[], [], ["collect"], ["collect", "return_done"], ["collect", "return_done"]]
            )
        case "exchanged":
            return ["place", "ship", "pickup", "deliver", "exchange_request", "collect", "redeliver"] + (
                ["exchange_done"] if rng.random() < 0.65 else []
            )
        case "stalled":
            return ["place", "ship"] + (["pickup"] if rng.random() < 0.7 else [])
    raise ValueError(f"unknown scenario {scenario!r}")


def _schedule(rng: random.Random, moves: list[str], end: datetime, floor: datetime, bank: bool) -> list[datetime]:
    """Times for ``moves`` (the first is payment or its announcement), the last one at ``end``."""
    gaps = [_between(rng, BANK_PAY_GAP if bank and name == "pay" else GAPS[name]) for name in moves[1:]]
    total = sum(gaps, timedelta())
    if total and end - total < floor:
        # Squeeze (never reorder) so the order stays inside the window; an old anchor cannot be helped.
        scale = max(0.3, (end - floor) / total)
        gaps = [gap * scale for gap in gaps]
    times = [end]
    for gap in reversed(gaps):
        times.insert(0, times[0] - gap)
    return [ms(t) for t in times]


def build_order(
    book: OrderBook,
    *,
    market: str,
    owner: str,
    scenario: str,
    product: Product,
    anchor: datetime,
    now: datetime,
    quantity: int | None = None,
    carrier: str | None = None,
    decided: bool | None = None,
) -> Order:
    """Create, register and play out one order whose primary line (``product``) is in ``scenario``.

    ``decided`` (delivered orders): purchase decided; None picks randomly. ``carrier`` forces the
    carrier code (``DIRECT`` is Coupang's untracked 업체직송, served as NONE_TRACKING while moving).
    """
    rng = book.rng
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    if market == MARKET_COUPANG and scenario in NAVER_ONLY_SCENARIOS:
        raise ValueError(f"scenario {scenario!r} is Naver-only (Coupang exchanges are not served)")
    if carrier is not None and (carrier not in CARRIERS or (carrier == "DIRECT" and market != MARKET_COUPANG)):
        raise ValueError(f"unknown carrier {carrier!r} for {market}; one of {', '.join(CARRIERS)}")
    anchor = min(anchor, now)
    floor = now - WITHIN
    if decided is None:
        decided = scenario == "delivered" and rng.random() < 0.35
    bank = market == MARKET_SMARTSTORE and rng.random() < 0.1
    prefix = ["await_payment", "pay"] if bank else ["pay"]

    primary_split = scenario == "split"
    moves = prefix + (list(_SHIP_CHAIN[1:]) if primary_split else _tail(rng, scenario, decided))
    if scenario == "stalled":
        end = min(anchor, now - STALL_AFTER) - _between(rng, (timedelta(0), 20 * _H))
    else:
        end = anchor - _between(rng, LAST_MOVE_BEFORE_ANCHOR[scenario])
    times = _schedule(rng, moves, end, floor, bank)
    ordered_at = times[0] if bank else ms(times[0] - _between(rng, (timedelta(seconds=3), timedelta(seconds=90))))

    buyer = _person(rng)
    receiver = buyer if rng.random() < 0.85 else _person(rng)
    address = rng.choices(ADDRESSES, weights=[9] * 11 + [4, 1])[0]
    payment_means = rng.choices([m for m, _ in NAVER_PAYMENT_MEANS], weights=[w for _, w in NAVER_PAYMENT_MEANS])[0]
    if bank:
        payment_means = "무통장입금"
    elif payment_means == "무통장입금":
        payment_means = "신용카드"
    channel = (
        rng.choice(("아이폰앱", "안드로이드앱", "PC웹", "모바일웹"))
        if market == MARKET_COUPANG
        else rng.choices(("MOBILE", "PC"), weights=(3, 1))[0]
    )
    order_id = book.new_id("coupang_order" if market == MARKET_COUPANG else "naver", ordered_at)
    order = Order(
        market=market,
        owner=owner,
        order_id=order_id,
        scenario=scenario,
        ordered_at=ordered_at,
        buyer=buyer,
        receiver=receiver,
        address=address,
        memo=rng.choice(MEMOS),
        payment_means=payment_means,
        channel=channel,
        payment_id=book.new_id("payment"),
        bank_transfer=bank,
    )

    today = now.astimezone(KST).date()
    promised = ordered_at.astimezone(KST).date() + timedelta(days=product.lead_days)
    if scenario in ("paid", "preparing"):
        promised = max(promised, today)  # not late: that is what late_dispatch is for
    elif scenario == "late_dispatch":
        promised = min(promised, today - timedelta(days=1))

    def new_line(products: list[Product], line_scenario: str) -> Line:
        items = [
            Item(
                p,
                quantity or rng.choices((1, 2, 3), weights=(75, 20, 5))[0],
                p.price,
                1_000 if rng.random() < 0.1 else 0,
            )
            for p in products
        ]
        line_id = book.new_id("coupang_box" if market == MARKET_COUPANG else "naver", ordered_at)
        line = Line(line_id=line_id, items=items, scenario=line_scenario, promised=promised)
        order.lines.append(line)
        return line

    others = [p for p in PRODUCTS if p != product]
    plan: list[tuple[Line, list[str], list[datetime]]] = []
    if primary_split:
        first = new_line([rng.choice(others)], "delivered")
        plan.append((first, moves, times))
        asked = new_line([product], "in_transit")
        ship_at = times[-3] + (anchor - times[-3]) * rng.uniform(0.35, 0.6)
        pickup_at = ship_at + (anchor - ship_at) * rng.uniform(0.3, 0.8)
        plan.append((asked, moves[:-3] + ["ship", "pickup"], times[:-3] + [ms(ship_at), ms(pickup_at)]))
        asked.planned = ship_at.astimezone(KST).date()
    else:
        extra = [rng.choice(others)] if market == MARKET_COUPANG and rng.random() < 0.12 else []
        primary = new_line([product, *extra], scenario)
        plan.append((primary, moves, times))
        if market == MARKET_SMARTSTORE and rng.random() < 0.1:
            # A second product order bought and shipped together: same package, same moves.
            bundled = new_line([rng.choice(others)], scenario)
            plan.append((bundled, moves, times))
    if market == MARKET_SMARTSTORE:
        package = book.new_id("naver", ordered_at)
        for line in order.lines:
            # Split shipments leave in two parcels: two packages.
            line.package = package if not primary_split or line is order.lines[0] else book.new_id("naver", ordered_at)

    book.register(order)
    events = sorted(
        (
            (at, index, name)
            for index, (_line, names, ats) in enumerate(plan)
            for name, at in zip(names, ats, strict=False)
        ),
        key=lambda event: (event[0], event[1]),
    )
    for at, index, name in events:
        if name == "ship" and carrier:
            plan[index][0].carrier = carrier  # decided at dispatch, like the carrier the seller picks
        book.perform(order, plan[index][0], name, at)
    for line in order.lines:
        if line.claim and line.claim.state == COLLECTED and market == MARKET_COUPANG:
            line.claim.coupang_check = rng.random() < 0.2
        if scenario == "misdelivered":
            line.wrong_invoice = market == MARKET_SMARTSTORE and rng.random() < 0.3
    return order


def pick_scenario(rng: random.Random, market: str, mix: dict[str, int] | None = None) -> str:
    """A scenario drawn from ``mix`` (default ``ORDER_MIX``), skipping the other market's scenarios."""
    weights = {
        s: w for s, w in (mix or ORDER_MIX).items() if market == MARKET_SMARTSTORE or s not in NAVER_ONLY_SCENARIOS
    }
    unknown = set(weights) - set(SCENARIOS)
    if (
        unknown
        or not weights
        or any(not isinstance(w, (int, float)) or w < 0 for w in weights.values())
        or not sum(weights.values())
    ):
        raise ValueError(
            f"mix must weigh scenarios of {', '.join(SCENARIOS)} for {market} (unknown: {sorted(unknown)})"
        )
    return rng.choices(list(weights), weights=list(weights.values()))[0]
