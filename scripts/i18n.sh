#!/usr/bin/env bash
# Refresh the portal's translations after a user-facing string changed.
#
#   1. extract: every _()/gettext/ngettext/_l()/lazy_gettext string of portal/**.py and
#      templates/**.html|.txt (mapping in babel.cfg) into portal/translations/messages.pot;
#   2. update:  merge that template into each catalog (portal/translations/<lang>/LC_MESSAGES/
#      messages.po) without fuzzy guesses: a new or changed msgid arrives untranslated;
#   3. compile: build the .mo files the app loads;
#   4. check:   list the French entries still untranslated or fuzzy, and exit 1 if any.
#
# French is the site's default language (fr_CA, served from the "fr" catalog), so its
# catalog must stay complete: translate what step 4 lists in
# portal/translations/fr/LC_MESSAGES/messages.po, then run this script again.
# (English needs no catalog: the English msgids are the English text.)
#
# Usage: scripts/i18n.sh    (from any folder; PYBABEL=/path/to/pybabel overrides the venv's)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
if [[ ! -x "$PYBABEL" ]]; then
    PYBABEL="$(command -v pybabel)" || { echo "pybabel not found: install Babel" >&2; exit 1; }
fi
PYTHON="$(dirname "$PYBABEL")/python"
[[ -x "$PYTHON" ]] || PYTHON="$(command -v python3)"

"$PYBABEL" --quiet extract -F babel.cfg -k _l -k lazy_gettext \
    -o portal/translations/messages.pot .
"$PYBABEL" update -d portal/translations -i portal/translations/messages.pot \
    --no-fuzzy-matching --ignore-obsolete
"$PYBABEL" compile -d portal/translations --statistics

"$PYTHON" - <<'PY'
import sys
from babel.messages.pofile import read_po

path = "portal/translations/fr/LC_MESSAGES/messages.po"
with open(path, "rb") as stream:
    catalog = read_po(stream)
todo = [m for m in catalog if m.id and (m.fuzzy or not m.string
        or (isinstance(m.string, tuple) and not all(m.string)))]
for message in todo:
    msgid = message.id[0] if isinstance(message.id, tuple) else message.id
    print(f"{path}: {'fuzzy' if message.fuzzy else 'untranslated'}: {msgid!r}", file=sys.stderr)
if todo:
    sys.exit(f"{len(todo)} French entries to translate")
print(f"French catalog complete: {sum(1 for m in catalog if m.id)} entries")
PY
