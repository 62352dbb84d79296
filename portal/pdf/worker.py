"""Renders in a separate, long-lived process that can be stopped.

WeasyPrint has no time limit of its own. Each app process keeps one render process
(``python -m portal.pdf.worker``, started on first use, after any fork, with its fonts
loaded once); a render that does not answer in time gets its process killed and
replaced, and the caller gets ``RenderTimeout`` instead of a stuck server.

The two talk over the child's standard input and output: length-prefixed pickles of
``(html, asset_root, extra_assets)`` one way and ``(status, payload)`` the other.
"""
from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
from pathlib import Path

from portal.pdf.render import RenderedPDF

HEADER = struct.Struct(">Q")


class RenderTimeout(RuntimeError):
    """The render ran past its time limit and was stopped."""


class RenderFailed(RuntimeError):
    """The render process reported an error (or died)."""


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


def serve() -> None:
    """The render process: answer render requests until standard input closes."""
    requests = sys.stdin.buffer
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # nothing else may write into the answer pipe
    from portal.pdf.render import render_pdf

    while True:
        try:
            html, asset_root, extra_assets = _receive(requests)
        except EOFError:
            return
        try:
            result = render_pdf(html, Path(asset_root), extra_assets)
            _send(answers, ("ok", (result.data, result.pages, result.refused_urls,
                                   result.fetched_urls)))
        except Exception as exc:  # report it and keep serving
            _send(answers, ("error", f"{type(exc).__name__}: {exc}"[:500]))


class RenderWorker:
    """One render process per app process, used by one render at a time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._pid: int | None = None

    def _ensure_started(self) -> subprocess.Popen:
        process = self._process
        if process is None or process.poll() is not None or self._pid != os.getpid():
            root = str(Path(__file__).resolve().parents[2])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                filter(None, [root, os.environ.get("PYTHONPATH")]))}
            process = subprocess.Popen([sys.executable, "-m", "portal.pdf.worker"],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            self._process, self._pid = process, os.getpid()
        return process

    def stop(self) -> None:
        if self._process is not None and self._pid == os.getpid():
            self._process.kill()
            self._process.wait(5)
            for stream in (self._process.stdin, self._process.stdout):
                stream.close()
        self._process = None

    def render(self, html: str, asset_root: Path, extra_assets: dict[str, bytes] | None,
               timeout: float) -> RenderedPDF:
        with self._lock:
            process = self._ensure_started()
            try:
                _send(process.stdin, (html, str(asset_root), extra_assets or {}))
                ready, _, _ = select.select([process.stdout], [], [], timeout)
                if not ready:
                    self.stop()
                    raise RenderTimeout(f"render stopped after {timeout:g} s")
                status, payload = _receive(process.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                self.stop()
                raise RenderFailed("the render process stopped") from exc
        if status != "ok":
            raise RenderFailed(payload)
        data, pages, refused, fetched = payload
        return RenderedPDF(data=data, pages=pages, refused_urls=refused, fetched_urls=fetched)


_WORKER = RenderWorker()


def render_in_worker(html: str, asset_root: Path, extra_assets: dict[str, bytes] | None = None,
                     timeout: float = 20.0) -> RenderedPDF:
    """Render with this process's render process, stopping it after ``timeout`` seconds."""
    return _WORKER.render(html, asset_root, extra_assets, timeout)


if __name__ == "__main__":
    serve()
