"""Active content in a PDF: what a reader could run or open by itself.

A kit's PDF is opened by parents, youth workers and teachers; nothing in it may run
(JavaScript), act on opening or on an event (``/OpenAction``, ``/AA``), start a program
or open another file (``/Launch``, ``/GoToR``, ``/GoToE``), send or import form data, or
carry files (``/EmbeddedFiles``, file attachments, rich media, XFA forms). Links to web
pages (``/URI``) are fine.

Two looks, so that a file pypdf and pdfium read differently cannot hide anything: every
object pypdf finds (object streams decompressed, names with ``#xx`` escapes decoded),
and the raw bytes outside streams (whose compressed data could hold those bytes by
chance), escapes decoded, for the same names. Runs in the ``files`` work
process (``portal.pdf.worker``), within its limits.
"""
from __future__ import annotations

import io
import re

KEYS = {"/JS": "JavaScript", "/JavaScript": "JavaScript", "/OpenAction": "OpenAction",
        "/AA": "additional actions", "/EmbeddedFiles": "embedded files",
        "/EmbeddedFile": "embedded files", "/RichMedia": "rich media", "/XFA": "XFA form"}
ACTIONS = {"/JavaScript": "JavaScript", "/Launch": "Launch", "/GoToR": "remote go-to",
           "/GoToE": "embedded go-to", "/SubmitForm": "form submission",
           "/ImportData": "form import", "/Rendition": "rendition",
           "/RichMediaExecute": "rich media"}
SUBTYPES = {"/FileAttachment": "embedded files", "/RichMedia": "rich media",
            "/Screen": "rendition", "/Movie": "rendition", "/Sound": "rendition"}
RAW_NAMES = re.compile(rb"/(JS|JavaScript|OpenAction|AA|Launch|EmbeddedFiles?|RichMedia|"
                       rb"XFA|GoToR|GoToE|SubmitForm|ImportData|FileAttachment)"
                       rb"(?=[\s/<>\[\]()%{}]|$)")
ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
STREAM = re.compile(rb"(?<=[\s>])stream\r?\n.*?endstream", re.S)


def active_content(data: bytes) -> list[str]:
    """The kinds of active content found in the PDF (empty when none), sorted."""
    found = set()
    raw = ESCAPE.sub(lambda match: bytes([int(match.group(1), 16)]), STREAM.sub(b"", data))
    for match in RAW_NAMES.finditer(raw):
        name = "/" + match.group(1).decode()
        found.add(KEYS.get(name) or ACTIONS.get(name) or SUBTYPES.get(name, name[1:]))
    found.update(_objects_content(data))
    return sorted(found)


def _objects_content(data: bytes) -> set[str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    found: set[str] = set()
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        numbers = {(number, generation) for generation, table in reader.xref.items()
                   for number in table}
        numbers |= {(number, 0) for number in reader.xref_objStm}
        roots = [reader.trailer] + [IndirectObject(n, g, reader) for n, g in sorted(numbers)]
    except (PyPdfError, ValueError, KeyError, TypeError, OSError):
        return found  # pypdf cannot read it: the raw look and pdfium decide

    def visit(value, depth: int = 0) -> None:
        if depth > 50:  # deeper than any real PDF nests direct objects
            return
        if isinstance(value, DictionaryObject):
            for key, inner in value.items():
                if key in KEYS:
                    found.add(KEYS[key])
                if key == "/S" and inner in ACTIONS:
                    found.add(ACTIONS[inner])
                if key == "/Subtype" and inner in SUBTYPES:
                    found.add(SUBTYPES[inner])
                if key == "/Type" and inner == "/EmbeddedFile":
                    found.add("embedded files")
                if not isinstance(inner, IndirectObject):
                    visit(inner, depth + 1)
        elif isinstance(value, ArrayObject):
            for inner in value:
                if not isinstance(inner, IndirectObject):
                    visit(inner, depth + 1)

    for root in roots:
        try:
            visit(root.get_object() if isinstance(root, IndirectObject) else root)
        except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError):
            continue  # one unreadable object: the raw look covers it
    return found
