#!/usr/bin/env bash
# Set up the portal on a fresh Debian or Ubuntu machine with Python 3.11 or newer:
# the system libraries WeasyPrint needs (installed when run as root, otherwise named),
# a virtual environment in .venv with the pinned requirements, and the compiled
# translations. With --dev it also installs the test tools and the browser for tests.
# Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1

# WeasyPrint renders with Pango and HarfBuzz (its subsetter keeps PDF fonts small and
# renders fast); python3-venv makes the virtual environment on Debian.
PACKAGES=(python3-venv libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig)
# Browser tests drive Debian's Chromium (test tools cannot download browsers here).
[[ $DEV == 1 ]] && PACKAGES+=(chromium)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if (( ${#missing[@]} )); then
  if [[ $(id -u) == 0 ]]; then
    echo "Installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "These system packages are needed; install them as root, then run this again:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "Python 3.11 or newer is needed (found $("$PYTHON" --version))." >&2; exit 1; }

[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv

# Reinstall only when the requirement files change.
requirements=requirements.txt
[[ $DEV == 1 ]] && requirements=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements.txt "$requirements" | sha256sum | cut -c1-16)"
if [[ ! -f $stamp ]]; then
  echo "Installing Python requirements ($requirements)..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  touch "$stamp"
fi

# Message catalogs are compiled at setup, never committed.
.venv/bin/pybabel compile --use-fuzzy -d portal/translations --statistics 2>&1 | tail -n 1 || true
.venv/bin/pybabel compile -d portal/translations >/dev/null
