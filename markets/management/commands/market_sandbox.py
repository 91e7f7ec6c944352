"""Run the sandbox marketplace (fake Coupang + Naver CS and order APIs) in the foreground until Ctrl+C.

The credentials it prints are sandbox-only demo values; they work nowhere else.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from markets.clients.types import ALL_KINDS, MARKET_COUPANG, MARKET_SMARTSTORE
from markets.sandbox import SandboxServer
from markets.sandbox.inquiry_store import SEED_TRANSFER_SHARE


class Command(BaseCommand):
    help = (
        "Run a local fake Coupang + Naver marketplace that checks signatures like the real ones. "
        "Control API for tests and demos under /_sandbox/. Stops on Ctrl+C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1; keep it on loopback)")
        parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
        parser.add_argument("--fault-rate", type=float, default=0.0, help="probability of a random HTTP 500 (0..1)")
        parser.add_argument("--latency-ms", type=int, default=0, help="added latency per call in milliseconds")
        parser.add_argument(
            "--fault-scope",
            choices=("all", "answers"),
            default="all",
            help="whether faults hit every call or only answer writes",
        )
        parser.add_argument(
            "--seed-inquiries",
            type=int,
            default=0,
            help="generate N inquiries of each kind (about 20%% already answered; of the open Coupang "
            "call-center ones about 10%% TRANSFERs that only need a confirmation) with the orders "
            "they name, plus about as many orders nobody asked about",
        )
        parser.add_argument("--seed", type=int, default=None, help="random seed for reproducible data")
        parser.add_argument(
            "--follow-up-share",
            type=float,
            default=0.0,
            help="share (0..1) of accepted answers the same buyer writes again about (mostly complaints)",
        )
        parser.add_argument(
            "--follow-up-intents",
            default="",
            help="comma-separated intents whose answers get follow-ups (default: every intent), e.g. 배송문의",
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        fault_rate: float,
        latency_ms: int,
        fault_scope: str,
        seed_inquiries: int,
        seed: int | None,
        follow_up_share: float = 0.0,
        follow_up_intents: str = "",
        **options: Any,
    ) -> None:
        if not 0.0 <= fault_rate <= 1.0:
            raise CommandError("--fault-rate must be between 0 and 1")
        if latency_ms < 0:
            raise CommandError("--latency-ms must not be negative")
        if not 0.0 <= follow_up_share <= 1.0:
            raise CommandError("--follow-up-share must be between 0 and 1")
        if not 0 <= seed_inquiries <= 100_000:
            raise CommandError("--seed-inquiries must be between 0 and 100000")
        if not 0 <= port <= 65535:
            raise CommandError("--port must be between 0 and 65535")
        try:
            sandbox = SandboxServer(host=host, port=port, seed=seed)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

        store = sandbox.store
        creds = store.register_demo_accounts()
        store.set_faults(fault_rate=fault_rate, latency_ms=latency_ms, scope=fault_scope)
        store.set_follow_ups(
            share=follow_up_share, intents=[i.strip() for i in follow_up_intents.split(",") if i.strip()]
        )
        for kind in ALL_KINDS if seed_inquiries else ():
            store.add_inquiries(kind, seed_inquiries, days_back=3, transfer_ratio=SEED_TRANSFER_SHARE)
        if seed_inquiries:
            # As many quiet orders again as the inquiries named, so order lists are not all problems.
            named = store.stats()["orders"]
            store.add_orders(named[MARKET_COUPANG], market=MARKET_COUPANG)
            store.add_orders(named[MARKET_SMARTSTORE], market=MARKET_SMARTSTORE)

        stop = threading.Event()

        def request_stop(signum: int, frame: Any) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        sandbox.start()
        try:
            self._print_banner(sandbox, creds, seed_inquiries)
            while not stop.wait(0.5):
                pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sandbox.stop()
            stats = store.stats()
            self.stdout.write(
                f"Sandbox stopped. requests={stats['requests_total']} answers_accepted={stats['answers_accepted']}"
            )

    def _print_banner(self, sandbox: SandboxServer, creds: dict[str, dict[str, Any]], seeded: int) -> None:
        c, n = creds["coupang"], creds["naver"]
        w = self.stdout.write
        w(self.style.SUCCESS(f"Sandbox marketplace listening on {sandbox.url}"))
        w(f"  Coupang base URL : {sandbox.coupang_base_url}")
        w(f"  Naver base URL   : {sandbox.naver_base_url}")
        w(f"  Control API      : {sandbox.control_url}/  (stats, faults, answers, inquiries, orders, reset)")
        w(self.style.WARNING("SANDBOX-ONLY demo credentials (fake; valid only against this sandbox):"))
        w(
            f"  COUPANG    --vendor-id {c['vendor_id']} --access-key {c['access_key']} "
            f"--secret-key {c['secret_key']} --reply-by {c['reply_by']} --api-base-url {sandbox.coupang_base_url}"
        )
        w(
            f"  SMARTSTORE --client-id {n['client_id']} --client-secret '{n['client_secret']}' "
            f"--api-base-url {sandbox.naver_base_url}"
        )
        if seeded:
            orders = sandbox.store.stats()["orders"]
            w(
                f"Seeded {seeded} inquiries of each kind (last 3 days, ~20% already answered) and orders: "
                f"Coupang {orders[MARKET_COUPANG]}, Naver {orders[MARKET_SMARTSTORE]} "
                f"({orders['lines']} shipment boxes / "
                f"product orders, last 10 days)."
            )
        w("Press Ctrl+C to stop.")
        self.stdout.flush()
