"""Work done after the answer, in the server's own process: bounded pools of threads.

Mail (without Redis) and jobs (without Redis, or while it does not answer) run here. Each
pool has a fixed number of threads (``PORTAL_MAIL_THREADS``, ``PORTAL_JOB_THREADS``); a
task handed to a pool is dropped as soon as it has run, so nothing it carried (a mail and
its link) stays in memory, and only a count of the tasks not yet done is kept, to wait for
them (a command that must not exit before its mail went, a clean shutdown).

The pools live on the app (``app.extensions["portal.pools"]``): tests put another pool in
their place (one that starts a task when the test waits for it) instead of the code asking
whether it runs under test.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app

log = logging.getLogger(__name__)


class Pool:
    """A fixed number of threads for one kind of work, made in each process that uses it
    (gunicorn forks its workers after the app is created)."""

    def __init__(self, name: str, threads: int):
        self.name = name
        self.threads = max(1, threads)
        self._executor: ThreadPoolExecutor | None = None
        self._pid: int | None = None
        self._not_done = 0
        self._changed = threading.Condition()

    def _executor_here(self) -> ThreadPoolExecutor:
        with self._changed:
            if self._executor is None or self._pid != os.getpid():
                self._executor = ThreadPoolExecutor(self.threads,
                                                    thread_name_prefix=f"portal-{self.name}")
                self._pid = os.getpid()
                self._not_done = 0
            return self._executor

    def submit(self, task, *args) -> None:
        """Run ``task(*args)`` on one of the pool's threads; returns at once."""
        executor = self._executor_here()
        with self._changed:
            self._not_done += 1
        try:
            executor.submit(self._run, task, args)
        except BaseException:
            self._done()
            raise

    def _run(self, task, args) -> None:
        try:
            task(*args)
        except Exception:  # a task reports its own failures; this is the backstop
            log.exception("background task of pool %s failed", self.name)
        finally:
            self._done()

    def _done(self) -> None:
        with self._changed:
            self._not_done -= 1
            self._changed.notify_all()

    def wait(self, timeout: float = 60) -> bool:
        """Wait until every task handed so far has run; False if ``timeout`` came first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._not_done > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True


def init_app(app: Flask) -> None:
    app.extensions["portal.pools"] = {
        "mail": Pool("mail", app.config.get("MAIL_THREADS", 4)),
        "jobs": Pool("jobs", app.config.get("JOB_THREADS", 2)),
    }


def pool(name: str, app: Flask | None = None):
    """The app's pool ``name`` ("mail" or "jobs")."""
    return (app or current_app).extensions["portal.pools"][name]
