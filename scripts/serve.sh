#!/usr/bin/env bash
# Set up everything, then serve the portal on the embedded defaults (SQLite and files in
# instance/, mail to the console) at http://127.0.0.1:5000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

flask() { .venv/bin/flask --app wsgi "$@"; }
flask db upgrade
flask import-materials
# A demo staff account; its generated password is printed the first time only.
flask create-staff "${PORTAL_DEMO_STAFF_EMAIL:-personnel@exemple.gouv.qc.ca}" --generate --if-missing

echo "The portal is served at http://127.0.0.1:5000 (Ctrl+C to stop)."
exec .venv/bin/flask --app wsgi run --host 127.0.0.1 --port 5000
