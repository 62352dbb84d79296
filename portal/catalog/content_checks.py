"""Checks every kit document must pass: the help lines are there, no unknown number is.

A wrong help-line number on a poster is the worst defect the project could ship, so the
import refuses a material that fails these checks, and the tests run them on every file.
"""
from __future__ import annotations

import re
from html import unescape

import pypdfium2

# Anything shaped like a North American phone number, with or without the leading 1.
PHONE_PATTERN = re.compile(r"(?<!\d)(?:\+?1[\s.\-]?)?\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}(?!\d)")
WHITESPACE = re.compile(r"[\s\u00a0\u202f\u2009]+")
PLACEHOLDERS = re.compile(r"lorem|ipsum|\bTODO\b|\bTBD\b|\bXXX\b|placeholder|\{\{|\{%", re.I)
# Every document must carry at least these lines.
REQUIRED_HELP_LINES = ("emergency", "info_aide")


# Short words frequent in one of the portal's languages and not words of the other: a text
# with enough of them, nearly all of one language, is in that language.
LANGUAGE_WORDS = {
    "fr": frozenset("le la les des du une est et pour dans que qui avec sur pas vous nous "
                    "aux au ce cette sont jamais leur ne".split()),
    "en": frozenset("the and of to is for with you your are this that not be it by they "
                    "their never from".split()),
}
WORD = re.compile(r"[^\W\d_]+")


def apparent_language(text: str, enough: int = 20, share: float = 0.8) -> str | None:
    """``fr`` or ``en`` when the text is plainly in that language; ``None`` when it has
    too few words to tell, or both languages (a bilingual poster)."""
    counts = dict.fromkeys(LANGUAGE_WORDS, 0)
    for word in WORD.findall(text.lower()):
        for language, words in LANGUAGE_WORDS.items():
            counts[language] += word in words
    total = sum(counts.values())
    if total < enough:
        return None
    language, count = max(counts.items(), key=lambda item: item[1])
    return language if count >= share * total else None


def normalize(text: str) -> str:
    """Fold non-breaking and other spaces into plain spaces."""
    return WHITESPACE.sub(" ", text)


def digits(number: str) -> str:
    """The number's digits without the leading country code 1 of an 11-digit number."""
    only = re.sub(r"\D", "", number)
    return only[1:] if len(only) == 11 and only.startswith("1") else only


def known_numbers(facts: dict) -> set[str]:
    """The digits of every number the facts file allows to be printed."""
    numbers = set()
    for line in facts.get("help_lines", []):
        for value in (line.get("phone"), line.get("tel"), (line.get("sms") or {}).get("number")):
            if value:
                numbers.add(digits(str(value)))
    return numbers


def unknown_phone_numbers(text: str, facts: dict) -> list[str]:
    """Phone numbers in ``text`` that the facts file does not list."""
    allowed = known_numbers(facts)
    text = normalize(text)
    return [match.group(0) for match in PHONE_PATTERN.finditer(text)
            if digits(match.group(0)) not in allowed]


def missing_help_lines(text: str, facts: dict, required=REQUIRED_HELP_LINES) -> list[str]:
    """The required help lines not printed in ``text`` (or gone from the facts file)."""
    text = normalize(text)
    lines = {line.get("id"): line for line in facts.get("help_lines", [])}
    return [line_id for line_id in required
            if not lines.get(line_id, {}).get("phone")
            or normalize(str(lines[line_id]["phone"])) not in text]


def placeholders(text: str) -> list[str]:
    return sorted({m.group(0) for m in PLACEHOLDERS.finditer(text)})


def pdf_text(pdf: bytes) -> str:
    """The text of every page of a PDF, as a reader selecting it would get it."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


def html_text(html: str) -> str:
    """Visible text of an HTML document (for images, whose pixels hold no text)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def problems(text: str, facts: dict) -> list[str]:
    """Every reason a document's text must not go out; empty when it is fine."""
    found = [f"help line missing: {line}" for line in missing_help_lines(text, facts)]
    found += [f"number not in the facts file: {n}" for n in unknown_phone_numbers(text, facts)]
    found += [f"placeholder text: {p}" for p in placeholders(text)]
    return found
