"""Fixtures that tests in more than one folder use, registered once for the whole suite (``pytest_plugins``
in the root conftest) instead of being imported into each test module."""

from tests.inquiries.conftest import live
from tests.markets.test_sandbox import http
from tests.policy.test_board import tripped, week
from tests.test_admin_smoke import populated

__all__ = ["http", "live", "populated", "tripped", "week"]
