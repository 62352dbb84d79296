"""A material's HTML and CSS edited by staff: checked, rendered, made into files.

The checks here give staff a clear answer before anything is stored: a source too long,
a script (a PDF runs none, and a portal page never shows the source as HTML), CSS that
tries to leave its ``<style>`` element. The render (``portal.pdf.sources`` in the render
process) refuses template tricks and files from outside the portal; the rendered text
then passes the same content checks as an imported material.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l

from portal.catalog.content_checks import missing_help_lines, placeholders, unknown_phone_numbers
from portal.catalog.material_files import RENDERER_VERSION, RenderedMaterial
from portal.facts import facts
from portal.models import Material
from portal.pdf.worker import Refused, RenderFailed, RenderTimeout, RenderTooLarge, run_job
from portal.publishing.uploads import MAX_PAGES

MAX_SOURCE_CHARS = 100_000
SCRIPT = re.compile(r"<\s*script\b|<\s*iframe\b|<\s*object\b|<\s*embed\b|\son[a-z]+\s*=|"
                    r"javascript\s*:", re.I)
DEFAULT_PNG_SIZE = 1080


class SourceRejected(ValueError):
    """The source cannot become a version; ``messages`` say why, translated."""

    def __init__(self, *messages):
        super().__init__("; ".join(str(m) for m in messages))
        self.messages = [str(m) for m in messages]


def check_source(html: str, css: str) -> None:
    """Refuse, before rendering, what no material source may hold."""
    if not html.strip():
        raise SourceRejected(_l("The HTML source is empty."))
    if len(html) > MAX_SOURCE_CHARS or len(css) > MAX_SOURCE_CHARS:
        raise SourceRejected(_l("A source may hold at most 100,000 characters."))
    if SCRIPT.search(html) or SCRIPT.search(css):
        raise SourceRejected(_l("Scripts, frames and event attributes (onclick…) are not "
                                "allowed in a material's source."))
    if "<" in css:
        raise SourceRejected(_l("The CSS may not contain “<”: write only style rules."))


def template_context(material: Material, siblings: list[Material]) -> dict:
    """What a source sees: the facts and the same ``kit`` and ``material`` entries as a
    file of ``materials/`` (see ``materials/render_preview.py``)."""
    kit = material.kit
    titles = {m.language: m.title for m in siblings}
    titles.setdefault("fr", material.title)
    titles.setdefault("en", material.title)
    width, height = png_size(material)
    return {
        "facts": facts(), "lang": material.language, "year": kit.campaign.year,
        "kit": {"slug": kit.slug, "campaign_year": kit.campaign.year, "audience": kit.audience.split(),
                "title": {"fr": kit.title_fr, "en": kit.title_en},
                "description": {"fr": kit.description_fr, "en": kit.description_en}},
        "material": {"slug": material.slug, "kind": material.kind, "format": material.format,
                     "personalizable": material.personalizable, "title": titles,
                     "width": width, "height": height},
        "person": None, "org": None, "qr_src": None, "qr_url": None,
    }


def variable_names(material: Material, siblings: list[Material]) -> list[str]:
    """The names a source may use, for the editor's page: each variable and, for the
    entries that hold others, their keys (``facts.help_lines``, ``kit.title``...)."""
    def walk(prefix: str, value, depth: int) -> list[str]:
        if isinstance(value, dict) and depth < 2:
            return [name for key, inner in value.items()
                    for name in walk(f"{prefix}.{key}", inner, depth + 1)]
        return [prefix]

    # person, org and the QR code are empty outside a co-branded document: not offered.
    return [name for key, value in template_context(material, siblings).items()
            if value is not None for name in walk(key, value, 0)]


def png_size(material: Material) -> tuple[int, int]:
    version = material.current_version
    if version is not None and version.width_px and version.height_px:
        return version.width_px, version.height_px
    return DEFAULT_PNG_SIZE, DEFAULT_PNG_SIZE


def source_fingerprint(html: str, css: str, context: dict) -> str:
    digest = hashlib.sha256(f"portal-source:{RENDERER_VERSION}".encode())
    digest.update(json.dumps([html, css, context], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def content_messages(text: str) -> list[str]:
    """The content checks of imported materials, as messages for staff."""
    every_fact = facts()
    messages = [str(_l("A help line is missing: %(line)s. Use the facts' variables, such "
                       "as the helplines partial.", line=line))
                for line in missing_help_lines(text, every_fact)]
    messages += [str(_l("This number is not in the facts file: %(number)s. Help lines come "
                        "from the facts, never typed by hand.", number=number))
                 for number in unknown_phone_numbers(text, every_fact)]
    messages += [str(_l("Placeholder text left in the material: %(text)s.", text=text))
                 for text in placeholders(text)]
    return messages


def render_source(material: Material, siblings: list[Material], html: str, css: str
                  ) -> tuple[RenderedMaterial, str]:
    """The files of a version made from this source, and its fingerprint;
    ``SourceRejected`` with every reason otherwise. Nothing is stored here."""
    check_source(html, css)
    context = template_context(material, siblings)
    root = Path(current_app.config["MATERIALS_PATH"])
    width, height = png_size(material)
    try:
        pdf, _html, files = run_job("source", html, css, root / "sources", context,
                                    root / "assets", material.format, width, height)
    except Refused as exc:
        raise SourceRejected(_source_failure(exc)) from exc
    except RenderTimeout as exc:
        raise SourceRejected(_l("The material took too long to render and was stopped. "
                                "Simplify the source.")) from exc
    except RenderTooLarge as exc:
        raise SourceRejected(_l("The material needed more memory than the portal gives a "
                                "render and was stopped. Simplify the source.")) from exc
    except RenderFailed as exc:
        raise SourceRejected(_l("The material could not be rendered. Check the HTML and "
                                "the CSS.")) from exc
    if pdf.refused_urls:
        raise SourceRejected(_l("The source asks for files from outside the portal, which "
                                "are never fetched: %(urls)s. Use the portal's assets "
                                "(asset:…).", urls=", ".join(pdf.refused_urls[:3])))
    if pdf.pages > MAX_PAGES:
        raise SourceRejected(_l("The material has more than 40 pages."))
    messages = content_messages(files.text)
    if messages:
        raise SourceRejected(*messages)
    return files, source_fingerprint(html, css, context)


def _source_failure(exc: Refused) -> str:
    """A translated sentence for staff. Jinja's own wording (in English) is given only for
    a syntax error, where it says what is wrong on the line; other messages could show
    internals (the sandbox's reasoning, the server's folders) and are left out."""
    if exc.kind == "syntax":
        return str(_l("The template has an error on line %(line)s. Check the {{ }} and "
                      "{%% %%} tags there (Jinja says, in English: %(message)s).",
                      line=exc.line or "?", message=exc.message))
    if exc.kind == "security":
        return str(_l("The template tried something the portal does not allow: only the "
                      "facts and the material's own variables may be used, and they cannot "
                      "be changed."))
    if exc.kind == "undefined" and not _undefined_name(exc.message):
        return str(_l("The template asks for an element or a key that does not exist (an "
                      "index past the end of a list, say)."))
    if exc.kind == "undefined":
        return str(_l("The template uses a name that does not exist: “%(name)s”. The names "
                      "you may use are listed below the editor.",
                      name=_undefined_name(exc.message)))
    if exc.kind == "missing":
        return str(_l("The template includes or extends %(name)s, which is not one of the "
                      "materials' templates.", name=exc.message[:100]))
    return str(_l("The template could not be rendered: check the expressions that "
                  "compute or compare values."))


def _undefined_name(message: str) -> str:
    """The name Jinja could not find ('nope' from "'dict object' has no attribute 'nope'"),
    or an empty string when the message names none (a list index, say)."""
    if "has no element" in message:
        return ""
    quoted = re.findall(r"'([^']{1,80})'", message)
    return quoted[-1] if quoted else ""
