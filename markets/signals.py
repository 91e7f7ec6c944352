"""Signals the markets layer sends for the layers above it to act on (it imports neither)."""

from django.dispatch import Signal

# Sent when ops add a marketplace account (command or admin), inside the transaction that adds it;
# ``account`` is the new MarketAccount. The policy app gives it its rollout row.
account_added = Signal()
