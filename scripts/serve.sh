#!/usr/bin/env bash
# Set up everything, then serve the portal on the embedded defaults (SQLite and files in
# instance/, mail to the console) at http://127.0.0.1:5000, or at PORTAL_BIND (host:port).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

flask() { .venv/bin/flask --app wsgi "$@"; }
flask db upgrade
flask import-materials
# A demo staff account; its generated password is printed the first time only.
flask create-staff "${PORTAL_DEMO_STAFF_EMAIL:-personnel@exemple.gouv.qc.ca}" --generate --if-missing

# PORTAL_BIND as gunicorn takes it: "host:port", an IPv6 host in brackets ("[::1]:5000").
bind=${PORTAL_BIND:-127.0.0.1:5000}
host=${bind%:*}; port=${bind##*:}
host=${host#[}; host=${host%]}
echo "The portal is served at http://${bind} (Ctrl+C to stop)."
exec .venv/bin/flask --app wsgi run --host "$host" --port "$port"
