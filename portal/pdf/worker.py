"""Bounded work in separate, long-lived processes that can be stopped.

WeasyPrint, Jinja, Pillow and pdfium have no time or memory limit of their own, and the
sources, logos, photos and PDFs they are given come from accounts. So none of that work
runs in a web process: each app process keeps two work processes (``python -m
portal.pdf.worker``, started on first use and after any fork):

- ``render``: personalized documents and staff-edited sources (Jinja in the sandbox,
  then WeasyPrint), with its fonts loaded once;
- ``files``: decoding uploaded images, checking uploaded PDFs, rasterizing PDF pages.

A process loads what its jobs need (WeasyPrint and the fonts, Pillow, pdfium, pypdf) and
says it is ready before it is given a job, so start-up never counts against a job's time.
Every job has a time limit (the caller's ``timeout``): a job that does not answer in time
gets its process killed and replaced, and the caller gets ``RenderTimeout``; so does a
job that waited three times its limit for the process, busy with others. Each process
has a memory limit (``RLIMIT_AS``, ``PORTAL_WORK_MEMORY_MB``): a job that passes it gets
``RenderTooLarge`` and the process exits, so what the job took goes back to the system.
After every job the process hands freed memory back (``malloc_trim``) and exits if it
still holds more than half its limit; the next job starts a fresh one.

The two sides talk over the child's standard input and output: length-prefixed pickles
of ``(operation, args)`` one way and ``(status, payload, ending)`` the other (``ending``:
the process exits after this answer). Operations are named functions (``OPERATIONS``),
imported in the child only.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import os
import pickle
import resource
import select
import struct
import subprocess
import sys
import threading
from pathlib import Path

HEADER = struct.Struct(">Q")
DEFAULT_MEMORY_MB = 768
QUEUE_LIMITS = 3
STARTUP_SECONDS = 60  # loading WeasyPrint takes about a second; far more on a busy machine
# What each operation runs in the child, and in which of the two processes.
OPERATIONS = {
    "html": ("render", "portal.pdf.render:render_pdf"),
    "source": ("render", "portal.pdf.sources:render_material_source"),
    "document": ("render", "portal.pdf.sources:render_document"),
    "rasterize": ("files", "portal.pdf.render:rasterize"),
    "image": ("files", "portal.images:decode_upload"),
    "pdf_upload": ("files", "portal.pdf.inspect:inspect_pdf"),
}


class RenderTimeout(RuntimeError):
    """The job ran past its time limit and was stopped (or waited too long to start)."""


class RenderFailed(RuntimeError):
    """The work process reported an error (or died)."""


class RenderTooLarge(RenderFailed):
    """The job needed more memory than the work process may take, and was stopped."""


class Refused(Exception):
    """The job's input is not acceptable: ``kind`` is a code its caller turns into a
    translated message (for sources: ``syntax``, ``security``, ``undefined``, ``missing``
    or ``template``), ``line`` where known, ``message`` details (untranslated)."""

    def __init__(self, kind: str, line: int | None = None, message: str = ""):
        super().__init__(kind, line, message)
        self.kind, self.line, self.message = kind, line, message


def _read_exactly(stream, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _send(stream, message) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def _receive(stream):
    (size,) = HEADER.unpack(_read_exactly(stream, HEADER.size))
    return pickle.loads(_read_exactly(stream, size))


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _give_back_memory() -> None:
    """Return freed heap to the system: glibc keeps large freed blocks otherwise."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _load(operation: str):
    module, name = OPERATIONS[operation][1].split(":")
    return getattr(importlib.import_module(module), name)


def serve(kind: str, memory_mb: int) -> None:
    """The work process of ``kind``: load its jobs, then answer them until standard input
    closes."""
    if memory_mb > 0:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # nothing else may write into the answer pipe
    functions = {operation: _load(operation) for operation, (where, _) in OPERATIONS.items()
                 if where == kind}
    if kind == "render":
        from portal.pdf.render import font_configuration

        font_configuration()
    _send(answers, ("ready", None))
    while True:
        try:
            operation, args = _receive(requests)
        except EOFError:
            return
        stop = False
        try:
            answer = ("ok", functions[operation](*args))
        except Refused as exc:
            answer = ("refused", (exc.kind, exc.line, exc.message[:500]))
        except MemoryError:
            answer, stop = ("memory", f"more than {memory_mb} MB"), True
        except Exception as exc:  # report it and keep serving
            answer = ("error", f"{type(exc).__name__}: {exc}"[:500])
        if not stop:
            _give_back_memory()
            # Still holding more than half the limit: a fresh process starts next time.
            stop = memory_mb > 0 and _resident_mb() > memory_mb / 2
        try:
            _send(answers, (*answer, stop))  # the caller knows this process is ending
        except MemoryError:
            return
        if stop:
            return


class RenderWorker:
    """One work process, used by one job at a time."""

    def __init__(self, kind: str):
        self.kind = kind
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._pid: int | None = None
        self._memory_mb: int | None = None

    def _ensure_started(self, memory_mb: int) -> subprocess.Popen:
        process = self._process
        if process is not None and (process.poll() is not None or self._memory_mb != memory_mb):
            self.stop()
            process = None
        if process is None or self._pid != os.getpid():
            root = str(Path(__file__).resolve().parents[2])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                filter(None, [root, os.environ.get("PYTHONPATH")]))}
            process = subprocess.Popen(
                [sys.executable, "-m", "portal.pdf.worker", self.kind, str(memory_mb)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            self._process, self._pid, self._memory_mb = process, os.getpid(), memory_mb
            ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
            if not ready or _receive(process.stdout)[0] != "ready":
                self.stop()
                raise RenderFailed("the work process did not start")
        return process

    def stop(self) -> None:
        if self._process is not None and self._pid == os.getpid():
            self._process.kill()
            self._process.wait(5)
            for stream in (self._process.stdin, self._process.stdout):
                stream.close()
        self._process = None

    def run(self, operation: str, args: tuple, timeout: float, memory_mb: int):
        # Jobs queue for the process (one at a time keeps its memory bounded), for at most
        # three of their time limits: then the request is answered rather than kept waiting.
        if not self._lock.acquire(timeout=QUEUE_LIMITS * timeout):
            raise RenderTimeout(f"the work process stayed busy for {QUEUE_LIMITS * timeout:g} s")
        try:
            try:
                process = self._ensure_started(memory_mb)
                _send(process.stdin, (operation, args))  # the job's time starts here
                ready, _, _ = select.select([process.stdout], [], [], timeout)
                if not ready:
                    self.stop()
                    raise RenderTimeout(f"stopped after {timeout:g} s")
                status, payload, ending = _receive(process.stdout)
                if ending:
                    self.stop()
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                self.stop()
                raise RenderFailed("the work process stopped") from exc
        finally:
            self._lock.release()
        if status == "ok":
            return payload
        if status == "refused":
            raise Refused(*payload)
        if status == "memory":
            raise RenderTooLarge(payload)
        raise RenderFailed(payload)


_WORKERS = {"render": RenderWorker("render"), "files": RenderWorker("files")}


def run_job(operation: str, *args, timeout: float | None = None,
            memory_mb: int | None = None):
    """Run ``OPERATIONS[operation](*args)`` in its work process, within the limits given
    or else the app's (``PDF_RENDER_TIMEOUT``, ``WORK_MEMORY_MB``)."""
    if timeout is None or memory_mb is None:
        from flask import current_app

        timeout = current_app.config["PDF_RENDER_TIMEOUT"] if timeout is None else timeout
        memory_mb = current_app.config.get("WORK_MEMORY_MB", DEFAULT_MEMORY_MB) \
            if memory_mb is None else memory_mb
    return _WORKERS[OPERATIONS[operation][0]].run(operation, args, timeout, memory_mb)


if __name__ == "__main__":
    # Run the imported module's serve, not this __main__ copy's: the jobs raise
    # portal.pdf.worker.Refused, which must be the class serve catches.
    from portal.pdf import worker

    worker.serve(sys.argv[1], int(sys.argv[2]))
