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

# Who may download a kit, by its audience: the one table the code and the README share.
AUDIENCE_ROLES = {
    "everyone": frozenset({ROLE_CITIZEN, ROLE_ORGANIZATION, ROLE_STAFF}),
    "citizens": frozenset({ROLE_CITIZEN, ROLE_STAFF}),
    "organizations": frozenset({ROLE_ORGANIZATION, ROLE_STAFF}),
    "professionals": frozenset({ROLE_ORGANIZATION, ROLE_STAFF}),
}

# Kits only approved organizations (and staff) may download: a guide meant for
# professionals must not reach whoever registers as an organization.
APPROVED_AUDIENCES = frozenset({"professionals"})

AUDIENCE_LABELS = {
    "everyone": _l("Everyone"),
    "citizens": _l("Citizens"),
    "organizations": _l("Organizations"),
    "professionals": _l("Professionals"),
}

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
