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


def control_socket_for(addresses: list[str]) -> str:
    """gunicorn's control socket, one per server. By default every gunicorn on a machine
    takes ``~/.gunicorn/gunicorn.ctl``, so a second server would silently take over the
    first one's; here it is named after the address the server listens on (two servers
    never listen on the same one), in ``$XDG_RUNTIME_DIR`` or ``~/.gunicorn``.
    PORTAL_CONTROL_SOCKET (or ``--control-socket``) names it instead."""
    chosen = os.environ.get("PORTAL_CONTROL_SOCKET")
    if chosen:
        return chosen
    folder = os.environ.get("XDG_RUNTIME_DIR") or os.path.expanduser("~/.gunicorn")
    name = "".join(c if c.isalnum() or c in ".-" else "_" for c in addresses[0])
    return os.path.join(folder, f"portal-{name}.ctl")


def on_starting(server):
    # Here, not as a plain setting: ``--bind`` on the command line is known only now.
    from gunicorn.config import _get_default_control_socket

    if server.cfg.control_socket == _get_default_control_socket():
        server.cfg.set("control_socket", control_socket_for(server.cfg.bind))


def worker_exit(server, worker):
    """A worker stopping (restart, shutdown) first hands over the mail its pool holds."""
    from portal.background import pool

    app = getattr(worker, "wsgi", None)
    if app is not None and "portal.pools" in getattr(app, "extensions", {}):
        pool("mail", app).wait(graceful_timeout - 5)


if os.environ.get("PORTAL_CLOCK_START") and not os.environ.get("PORTAL_CLOCK_ANCHOR"):
    # A demonstration clock: read here, in the arbiter, so that every worker (forked after
    # this, and any worker restarted later) runs the same clock, started now.
    from datetime import UTC, datetime

    os.environ["PORTAL_CLOCK_ANCHOR"] = datetime.now(UTC).isoformat()
