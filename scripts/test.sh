#!/usr/bin/env bash
# Set up everything the tests need, then run the whole suite: on SQLite, and again on
# PostgreSQL (PORTAL_TEST_DATABASE_URL, by default the local server's database "test").
# In CI (CI=true) the PostgreSQL run is required; elsewhere it runs when the server answers.
# Extra arguments go to pytest (for example: bash scripts/test.sh -k downloads).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev

export PYTHONDONTWRITEBYTECODE=1
PG_URL=${PORTAL_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}

echo "== Test suite on SQLite"
env -u PORTAL_TEST_DATABASE_URL .venv/bin/python -m pytest "$@"

pg_answers() {
  .venv/bin/python - "$PG_URL" <<'PY' 2>/dev/null
import sys, psycopg
url = sys.argv[1].replace("postgresql+psycopg://", "postgresql://")
psycopg.connect(url, connect_timeout=3).close()
PY
}
if pg_answers; then
  echo "== Test suite on PostgreSQL"
  PORTAL_TEST_DATABASE_URL=$PG_URL .venv/bin/python -m pytest "$@"
elif [[ "${CI:-}" == "true" ]]; then
  echo "PostgreSQL does not answer at $PG_URL: CI needs it." >&2
  exit 1
else
  echo "== PostgreSQL does not answer at $PG_URL: PostgreSQL run skipped."
fi
