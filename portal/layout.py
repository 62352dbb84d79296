"""What every page's layout needs: the help lines, the campaign's name, the language switch."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, request

from portal.facts import facts, localized
from portal.i18n import current_language
from portal.reference import (
    ACCOUNT_KIND_LABELS,
    LANGUAGES,
    MATERIAL_KINDS,
    ORGANIZATION_TYPES,
    REGIONS,
    ROLE_LABELS,
    audience_kinds,
)


def audience_label(audience: str) -> str:
    """A kit's audience in words: its account kinds' labels, in the table's order."""
    return ", ".join(str(label) for kind, label in ACCOUNT_KIND_LABELS.items()
                     if kind in audience_kinds(audience))


def language_switch_url(language: str) -> str:
    """The current page in another language (query kept, ``lang`` replaced)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", language))
    return f"{request.path}?{urlencode(args)}"


def help_lines(language: str) -> list[dict]:
    """The help lines of the facts file, in one language."""
    lines = []
    for line in facts().get("help_lines", []):
        lines.append({
            "id": line.get("id"),
            "name": localized(line.get("name"), language),
            "phone": line.get("phone"),
            "tel": line.get("tel"),
            "text": localized(line.get("text"), language),
            "web": localized(line.get("web"), language),
            "description": localized(line.get("description"), language),
        })
    return lines


def init_app(app: Flask) -> None:
    @app.context_processor
    def layout_context():
        language = current_language()
        campaign_facts = facts().get("campaign", {})
        return {
            "language": language,
            "other_language": "en" if language == "fr" else "fr",
            "language_switch_url": language_switch_url,
            "help_lines": help_lines(language),
            "campaign_name": localized(campaign_facts.get("name"), language),
            "facts": facts(),
            "localized": localized,
            "audience_label": audience_label,
            "kind_label": lambda value: MATERIAL_KINDS.get(value, value),
            "language_label": lambda value: LANGUAGES.get(value, value),
            "organization_type_label": lambda value: ORGANIZATION_TYPES.get(value, value),
            "region_label": lambda value: REGIONS.get(value, value),
            "role_label": lambda value: ROLE_LABELS.get(value, value),
        }
