"""gunicorn settings for production: `gunicorn wsgi:app` (this file is read from the
project folder). Every value can be overridden on the command line or by GUNICORN_CMD_ARGS.
"""
import multiprocessing
import os

bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("PORTAL_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("PORTAL_THREADS", 4))
worker_class = "gthread"
timeout = 60  # renders stop after PORTAL_PDF_RENDER_TIMEOUT (20 s) well before this
graceful_timeout = 30
keepalive = 5
# The app is created in each worker after the fork (no preload): database pools, the S3
# client and the render process are made per worker.
preload_app = False
forwarded_allow_ips = "127.0.0.1"
accesslog = "-"
# No client address in the access log: the portal stores no raw IP address anywhere.
access_log_format = '%(t)s "%(r)s" %(s)s %(b)s %(L)ss'
errorlog = "-"

if os.environ.get("PORTAL_CLOCK_START") and not os.environ.get("PORTAL_CLOCK_ANCHOR"):
    # A demonstration clock: read here, in the arbiter, so that every worker (forked after
    # this, and any worker restarted later) runs the same clock, started now.
    from datetime import UTC, datetime

    os.environ["PORTAL_CLOCK_ANCHOR"] = datetime.now(UTC).isoformat()
