#!/usr/bin/env python
"""Admin response times at 1 M inquiry rows: the inquiry list (default and filtered), the review
queue and the rollout page.

    .venv/bin/python bench/admin_pages.py [--rows 1000000] [--repeat 9] [--reuse]

Django's test ``Client`` logged in as a superuser, against PostgreSQL, ``DEBUG`` off; each page is
requested once to warm up, then ``--repeat`` times: the median, and the statements of one request with
the slowest ones. ``--reuse`` measures the database ``bench/monitor_kpi.py`` left (1 M rows);
otherwise the data is generated here (``bench/dataset.py``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import dataset


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=9)
    p.add_argument("--database", default="partialauto_bench_data")
    p.add_argument("--reuse", action="store_true", help="measure the existing database (from monitor_kpi.py)")
    args = p.parse_args()

    create = not (args.reuse and common.database_exists(args.database))
    # The pages render as deployed: static files collected, named from collectstatic's manifest.
    static_root = tempfile.mkdtemp(prefix="bench-static-")
    common.setup(
        args.database,
        create=create,
        extra_env={"DJANGO_ALLOWED_HOSTS": "testserver,localhost", "DJANGO_STATIC_ROOT": static_root},
    )
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from markets.models import MarketAccount

    if create:
        dataset.create_accounts()
        dataset.generate(args.rows)
    else:
        call_command("migrate", verbosity=0)  # indexes added since the data was generated
    User = get_user_model()
    user = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
        "bench-admin", "bench@example.com", "bench-password-1"
    )
    client = Client()
    client.force_login(user)
    account = MarketAccount.objects.order_by("name").first()
    pages = {
        "inquiry_list": "/admin/inquiries/inquiry/",
        "inquiry_list_filtered": (
            f"/admin/inquiries/inquiry/?status__exact=HUMAN_REVIEW&account__id__exact={account.pk}"
        ),
        "inquiry_list_page_5": "/admin/inquiries/inquiry/?p=5",
        "review_queue": "/admin/inquiries/reviewitem/",
        "review_queue_filtered": f"/admin/inquiries/reviewitem/?account__id__exact={account.pk}",
        "rollout_page": "/admin/policy/accountrollout/",
    }
    results = {}
    for name, url in pages.items():
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} -> HTTP {response.status_code}")
        timing = common.timed(lambda url=url: client.get(url), args.repeat)
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        slow = sorted(ctx.captured_queries, key=lambda q: -float(q["time"]))[:4]
        results[name] = {
            "url": url,
            **timing,
            "statements": len(ctx.captured_queries),
            "slowest": [
                {"ms": round(float(q["time"]) * 1000, 1), "sql": " ".join(q["sql"].split())[:260]} for q in slow
            ],
        }
        common.say(f"{name}: {timing['median_ms']} ms")
    result = {
        "bench": "admin_pages",
        "command": "bench/admin_pages.py " + " ".join(sys.argv[1:]),
        "database": connection.settings_dict["NAME"],
        "data": dataset.counts(),
        "pages": results,
        "max_median_ms": max(r["median_ms"] for r in results.values()),
        "loadavg": common.loadavg(),
    }
    common.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
