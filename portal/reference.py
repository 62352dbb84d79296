"""Fixed lists the portal shares with its forms, its rules and its figures.

Labels are lazy translations so they follow the language of the page or mail they end in.
"""
from flask_babel import lazy_gettext as _l

ROLE_CITIZEN = "citizen"
ROLE_ORGANIZATION = "organization"
ROLE_STAFF = "staff"
ROLES = (ROLE_CITIZEN, ROLE_ORGANIZATION, ROLE_STAFF)

ROLE_LABELS = {
    ROLE_CITIZEN: _l("Citizen"),
    ROLE_ORGANIZATION: _l("Organization"),
    ROLE_STAFF: _l("Ministry staff"),
}

# Québec's 17 administrative regions, by their official numbers.
REGIONS = {
    "01": "Bas-Saint-Laurent",
    "02": "Saguenay–Lac-Saint-Jean",
    "03": "Capitale-Nationale",
    "04": "Mauricie",
    "05": "Estrie",
    "06": "Montréal",
    "07": "Outaouais",
    "08": "Abitibi-Témiscamingue",
    "09": "Côte-Nord",
    "10": "Nord-du-Québec",
    "11": "Gaspésie–Îles-de-la-Madeleine",
    "12": "Chaudière-Appalaches",
    "13": "Laval",
    "14": "Lanaudière",
    "15": "Laurentides",
    "16": "Montérégie",
    "17": "Centre-du-Québec",
}

ORGANIZATION_TYPES = {
    "community": _l("Community organization"),
    "school": _l("School or school service centre"),
    "health": _l("Health and social services"),
    "police": _l("Police service"),
    "municipality": _l("Municipality"),
    "business": _l("Business"),
    "other": _l("Other"),
}

# Who may download a kit: its audience is a set of these account kinds, chosen by staff
# (the import reads it from the manifest). The one table the code and the README share:
#   kind                    who                                         needs
#   citizen                 a citizen's account                         a confirmed address
#   organization            any organization's account, approved or not a confirmed address
#   approved_organization   an organization staff approved              a confirmed address
# Staff may download every kit (they prepare and check them). An organization asking for
# a kit open only to approved organizations, before its approval, is told it waits for it.
KIND_CITIZEN = "citizen"
KIND_ORGANIZATION = "organization"
KIND_APPROVED_ORGANIZATION = "approved_organization"
ACCOUNT_KINDS = (KIND_CITIZEN, KIND_ORGANIZATION, KIND_APPROVED_ORGANIZATION)

ACCOUNT_KIND_LABELS = {
    KIND_CITIZEN: _l("Citizens"),
    KIND_ORGANIZATION: _l("Organizations (approved or not)"),
    KIND_APPROVED_ORGANIZATION: _l("Approved organizations"),
}


def audience_kinds(audience: str | None) -> frozenset[str]:
    """The account kinds of a kit's stored audience ("citizen organization")."""
    return frozenset(kind for kind in (audience or "").split() if kind in ACCOUNT_KINDS)


def roles_in(kinds) -> frozenset[str]:
    """The roles with at least one account that may download a kit open to these kinds."""
    roles = {ROLE_STAFF}
    if KIND_CITIZEN in kinds:
        roles.add(ROLE_CITIZEN)
    if {KIND_ORGANIZATION, KIND_APPROVED_ORGANIZATION} & set(kinds):
        roles.add(ROLE_ORGANIZATION)
    return frozenset(roles)


def audience_text(kinds) -> str:
    """The stored form of a set of account kinds: known kinds, in the table's order."""
    return " ".join(kind for kind in ACCOUNT_KINDS if kind in set(kinds))


MATERIAL_KINDS = {
    "poster": _l("Poster"),
    "flyer": _l("Flyer"),
    "social_image": _l("Social-media image"),
    "guide": _l("Guide"),
    "info_sheet": _l("Information sheet"),
    "certificate_template": _l("Certificate template"),
}

MATERIAL_FORMATS = {"pdf": "application/pdf", "png": "image/png"}

LANGUAGES = {"fr": _l("French"), "en": _l("English")}
