"""Agent contexts for tests: the seed data (inquiries/agent/seed_data.py), compiled once."""

from inquiries.agent.pipeline import seed_context

__all__ = ["seed_context"]
