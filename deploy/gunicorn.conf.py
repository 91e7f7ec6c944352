"""gunicorn settings of the web process: ``gunicorn -c deploy/gunicorn.conf.py`` from the project root.

The address comes from ``--bind`` (or ``$PORT``: 0.0.0.0:$PORT; neither: 127.0.0.1:8000), the number of
worker processes from ``$WEB_CONCURRENCY`` (default 2). Static files are served by WhiteNoise inside
the application after ``collectstatic``; ``/healthz`` and ``/readyz`` are the load balancer's probes.
"""

import os

wsgi_app = "partialauto.wsgi:application"
proc_name = "partialauto-web"

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Admin requests are short; the longest is a person's send, bounded by the marketplace timeouts
# (CS_MARKET_CONNECT_TIMEOUT + CS_MARKET_READ_TIMEOUT, 13 s by default).
timeout = 30
graceful_timeout = 30
# Behind a load balancer that keeps connections open between requests.
keepalive = 5
# Restart a worker now and then, staggered, so no worker grows for weeks.
max_requests = 1000
max_requests_jitter = 100

# Request and error lines on stdout/stderr: journald or the platform's log collector keeps them.
accesslog = "-"
errorlog = "-"

# Nothing uses gunicorn's runtime control socket, and its default path is shared by every gunicorn
# of the same user on a host.
control_socket_disable = True

# The workers' heartbeat files on memory, not on a disk that may stall (containers).
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
